"""Keeps secrets out of every line the tool prints, logs or raises.

Registered secrets are replaced wherever they appear, also in the encoded forms they take in
URLs and headers; any `Authorization: Bearer ...` value is masked even if never registered.
`find_leaks` is the test side: where a secret (or an encoding of it) shows up in some text.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Mapping
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

REDACTED = "[redacted]"
_MIN_SECRET_LENGTH = 4
_secrets: set[str] = set()
_lock = threading.Lock()
_BEARER_RE = re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}")
# `scheme://user:secret@host`: credentials in URLs (git remotes as GitLab CI clones them,
# a SENTRY_URL with basic auth, a health URL).
_USERINFO_RE = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")
# Query parameters named like secrets (`?token=...`, `&api_key=...`, signed URLs).
_SECRET_PARAM_RE = re.compile(
    r"(?i)([?&;](?:[a-z0-9_.-]*(?:token|secret|passw(?:or)?d|api[_-]?key|key|auth|sig|"
    r"signature|credential|session)[a-z0-9_.-]*)=)[^&#\s]+"
)


def encodings(secret: str) -> tuple[str, ...]:
    """The secret as written, percent-encoded and base64'd: the forms it can leak in."""
    forms = {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        base64.b64encode(secret.encode()).decode().rstrip("="),
    }
    return tuple(sorted((f for f in forms if f), key=len, reverse=True))


def register_secret(value: str | None) -> None:
    """Remember a secret so that `redact` removes it from any later text; each line of a
    multi-line value too (a pasted token with a line break must not leak its second half)."""
    if not value:
        return
    parts = {value.strip(), *(line.strip() for line in value.splitlines())}
    with _lock:
        _secrets.update(p for p in parts if len(p) >= _MIN_SECRET_LENGTH)


def redact(text: str) -> str:
    """Replace every registered secret (and its encodings) and any bearer credential."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        for form in encodings(secret):
            if form in text:
                text = text.replace(form, REDACTED)
    if "earer" in text.lower():  # the scheme is case-insensitive (RFC 9110 11.1): BEARER too
        text = _BEARER_RE.sub(lambda m: m.group(1) + REDACTED, text)
    if "@" in text:
        text = _USERINFO_RE.sub(lambda m: m.group(1) + REDACTED + "@", text)
    if "=" in text:
        text = _SECRET_PARAM_RE.sub(lambda m: m.group(1) + REDACTED, text)
    return text


def strip_userinfo(url: str) -> str:
    """The URL without `user:password@`, before it is used or sent anywhere (a git remote's
    credentials must not become part of a repository name in Sentry)."""
    parts = urlsplit(url)
    if parts.scheme and "@" in parts.netloc:
        return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return url


def clear_secrets() -> None:
    """Forget all secrets (tests run many configurations in one process)."""
    with _lock:
        _secrets.clear()


def find_leaks(secret: str, texts: Mapping[str, str]) -> list[str]:
    """`name: line` for every line of every named text that holds the secret in any encoding.

    Tests scan stdout, stderr, job summaries and outputs with it; an empty list is a pass.
    """
    leaks: list[str] = []
    forms = encodings(secret)
    for name, text in texts.items():
        for line in text.splitlines():
            if any(form in line for form in forms):
                leaks.append(f"{name}: {line}")
    return leaks
