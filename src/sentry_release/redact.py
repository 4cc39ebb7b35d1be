"""Keeps secrets out of every line the tool prints, logs or raises."""

from __future__ import annotations

import threading

REDACTED = "[redacted]"
_MIN_SECRET_LENGTH = 4
_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a secret so that `redact` removes it from any later text."""
    if value and len(value.strip()) >= _MIN_SECRET_LENGTH:
        with _lock:
            _secrets.add(value.strip())


def redact(text: str) -> str:
    """Replace every registered secret in `text`, longest first."""
    if not _secrets:
        return text
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def clear_secrets() -> None:
    """Forget all secrets (tests run many configurations in one process)."""
    with _lock:
        _secrets.clear()
