"""Health probes of the deployed app (`--health-url`): GET with a timeout, check the status
and optionally a body substring. These go to the user's app, never to Sentry, so they use
their own session and never carry the Sentry token."""

from __future__ import annotations

from collections.abc import Callable

import requests

# The specs are validated with the other settings (config/parse.py), before any request.
from sentry_release.config.parse import check_urls as check_urls
from sentry_release.config.parse import parse_expected_status as parse_expected_status

MAX_BODY = 1024 * 1024  # read at most this much when looking for the substring


def probe(
    session: requests.Session,
    url: str,
    *,
    timeout: float,
    expected: Callable[[int], bool],
    body: str | None = None,
) -> tuple[bool, str]:
    """One GET: `(ok, what happened)`; network errors are failures, not exceptions."""
    try:
        response = session.get(url, timeout=timeout, allow_redirects=True, stream=True)
    except requests.Timeout:
        return False, f"timed out after {timeout:g}s"
    except requests.RequestException as exc:
        return False, f"unreachable: {exc.__class__.__name__}"
    try:
        status = response.status_code
        if not expected(status):
            return False, f"HTTP {status}"
        if body:
            text = response.raw.read(MAX_BODY, decode_content=True).decode("utf-8", "replace")
            if body not in text:
                return False, f"HTTP {status} without {body!r} in the body"
        return True, f"HTTP {status}"
    except requests.RequestException as exc:
        return False, f"failed reading the body: {exc.__class__.__name__}"
    finally:
        response.close()
