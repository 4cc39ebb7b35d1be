"""Sentry's date format, both ways: RFC 3339 in UTC with a `Z`, any number of fraction
digits on input (sentry-cli sends nanoseconds, Python keeps microseconds)."""

from __future__ import annotations

from datetime import datetime, timezone


def isoformat(moment: datetime) -> str:
    """RFC 3339 in UTC with a Z, the way Sentry writes dates."""
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def parse_rfc3339(value: str) -> datetime:
    """An aware datetime from RFC 3339 (naive means UTC); ValueError when it is not one."""
    text = value.strip().replace("z", "Z").replace("Z", "+00:00")
    if "." in text:
        head, rest = text.split(".", 1)
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        text = f"{head}.{(digits + '000000')[:6]}{rest}"
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
