"""Health probes of the deployed app (`--health-url`): GET with a timeout, check the status
and optionally a body substring. These go to the user's app, never to Sentry, so they use
their own session and never carry the Sentry token.

Every probe has a whole-request deadline (connect, headers, redirects and body): a server
that drips bytes keeps each socket read under its timeout, so only a wall-clock bound holds;
the exchange runs in a worker thread abandoned at the deadline (as `sentry/transport.py`
does). Redirects are followed on the URL's own origin only, unless `any_redirect`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

import requests

# The specs are validated with the other settings (config/parse.py), before any request.
from sentry_release.config.parse import check_urls as check_urls
from sentry_release.config.parse import parse_expected_status as parse_expected_status

MAX_BODY = 1024 * 1024  # read at most this much when looking for the substring
MAX_REDIRECTS = 5
REDIRECTS = (301, 302, 303, 307, 308)


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port made explicit."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def probe(
    session: requests.Session,
    url: str,
    *,
    timeout: float,
    expected: Callable[[int], bool],
    body: str | None = None,
    any_redirect: bool = False,
) -> tuple[bool, str]:
    """One GET within `timeout` seconds in all: `(ok, what happened)`; network errors and
    a missed deadline are failures, not exceptions."""
    result: list[tuple[bool, str]] = []
    deadline = time.monotonic() + timeout

    def work() -> None:
        try:
            result.append(_probe(session, url, timeout, deadline, expected, body, any_redirect))
        except Exception as exc:  # handed back as a failed probe, never raised in a thread
            result.append((False, f"failed: {exc.__class__.__name__}"))

    worker = threading.Thread(target=work, name="health-probe", daemon=True)
    worker.start()
    worker.join(timeout + 0.5)
    if worker.is_alive() or not result:
        return False, f"timed out after {timeout:g}s (no complete answer)"
    return result[0]


def _probe(
    session: requests.Session,
    url: str,
    timeout: float,
    deadline: float,
    expected: Callable[[int], bool],
    body: str | None,
    any_redirect: bool,
) -> tuple[bool, str]:
    home = origin(url)
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        try:
            response = session.get(current, timeout=timeout, allow_redirects=False, stream=True)
        except requests.Timeout:
            return False, f"timed out after {timeout:g}s"
        except requests.RequestException as exc:
            return False, f"unreachable: {exc.__class__.__name__}"
        try:
            status = response.status_code
            if status in REDIRECTS and response.headers.get("Location"):
                target = urljoin(current, response.headers["Location"])
                if not any_redirect and origin(target) != home:
                    return False, (
                        f"HTTP {status} redirect to another origin ({origin(target)[1]}), not "
                        "followed (--health-any-redirect follows it)"
                    )
                current = target
                continue
            if not expected(status):
                return False, f"HTTP {status}"
            if body:
                text = _read(response, deadline).decode("utf-8", "replace")
                if body not in text:
                    return False, f"HTTP {status} without {body!r} in the body"
            return True, f"HTTP {status}"
        except requests.RequestException as exc:
            return False, f"failed reading the body: {exc.__class__.__name__}"
        finally:
            response.close()
    return False, f"more than {MAX_REDIRECTS} redirects"


def _read(response: requests.Response, deadline: float) -> bytes:
    """Up to MAX_BODY bytes of the body, before the deadline."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(16 * 1024):
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_BODY:
            break
        if time.monotonic() > deadline:
            raise requests.Timeout("the body did not end within the probe's deadline")
    return b"".join(chunks)[:MAX_BODY]
