"""Health probes of the deployed app (`--health-url`): GET with a timeout, check the status
and optionally a body substring. These go to the user's app, never to Sentry, so they use
their own session and never carry the Sentry token."""

from __future__ import annotations

import re
from collections.abc import Callable

import requests

from sentry_release.errors import ConfigError

_RANGE_RE = re.compile(r"^(\d{3})\s*-\s*(\d{3})$")
_CLASS_RE = re.compile(r"^([1-5])xx$")
MAX_BODY = 1024 * 1024  # read at most this much when looking for the substring


def parse_expected_status(spec: str) -> Callable[[int], bool]:
    """`2xx`, `200`, `200-299`, or a comma-separated mix; ConfigError on anything else."""
    ranges: list[tuple[int, int]] = []
    for part in (p.strip().lower() for p in spec.split(",")):
        if match := _CLASS_RE.match(part):
            low = int(match.group(1)) * 100
            ranges.append((low, low + 99))
        elif match := _RANGE_RE.match(part):
            first, last = int(match.group(1)), int(match.group(2))
            if first > last:
                raise ConfigError(f"health_status range is backwards: {part!r}; write low-high")
            ranges.append((first, last))
        elif part.isdigit() and len(part) == 3:
            ranges.append((int(part), int(part)))
        else:
            raise ConfigError(f"health_status must look like 2xx, 200 or 200-299, got {spec!r}")

    def matches(status: int) -> bool:
        return any(low <= status <= high for low, high in ranges)

    return matches


def check_urls(urls: tuple[str, ...]) -> None:
    """Refuse health URLs that are not http(s) before any request is made."""
    for url in urls:
        if not re.match(r"^https?://[^/\s]+", url):
            raise ConfigError(f"health_url must be an http(s) URL, got {url!r}")


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
