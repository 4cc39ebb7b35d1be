"""Raw values -> typed values: booleans, durations, times, numbers, choices, lists.

Pure; each parser raises ConfigError naming the input and the fix, so bad input stops the run
before anything is written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime, timezone

from sentry_release.errors import ConfigError

TRUE_WORDS = ("true", "yes", "1", "on")
FALSE_WORDS = ("false", "no", "0", "off", "")
_DURATION_RE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_STATUS_RANGE_RE = re.compile(r"^(\d{3})\s*-\s*(\d{3})$")
_STATUS_CLASS_RE = re.compile(r"^([1-5])xx$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_bool(value: str | bool | None, *, name: str, default: bool = False) -> bool:
    """Strict boolean: true/false/yes/no/1/0/on/off; anything else is an error."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    word = value.strip().lower()
    if word == "":
        return default
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def parse_duration(value: str | float | int | None, *, name: str) -> float | None:
    """Seconds from `90`, `90s`, `5m`, `1.5h`, `250ms`; negative or garbage is an error."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        if value.strip() == "":
            return None
        match = _DURATION_RE.match(value.lower())
        if not match:
            raise ConfigError(f"{name} must be a duration like 300, 300s, 5m or 1h, got {value!r}")
        seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    if seconds < 0:
        raise ConfigError(f"{name} must not be negative, got {value!r}")
    return seconds


def parse_time(value: str | None, *, name: str) -> datetime | None:
    """A point in time from unix seconds or ISO 8601 (`Z` allowed); naive means UTC."""
    if value is None or value.strip() == "":
        return None
    text = value.strip()
    try:
        if re.fullmatch(r"\d+(\.\d+)?", text):
            return datetime.fromtimestamp(float(text), tz=timezone.utc)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise ConfigError(
            f"{name} must be unix seconds or ISO 8601 (2024-05-01T12:00:00Z), got {value!r}"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def split_list(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Split space, comma or newline separated values; accepts repeated flags too."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value)
    out: list[str] = []
    for item in items:
        out.extend(part for part in re.split(r"[\s,]+", item) if part)
    return tuple(dict.fromkeys(out))


def parse_int(value: str | int | None, *, name: str, default: int, minimum: int = 0) -> int:
    """An integer input with a lower bound."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {number}")
    return number


def parse_float(
    value: str | float | None, *, name: str, default: float, minimum: float = 0.0
) -> float:
    """A decimal input with a lower bound."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if number < minimum or number != number:
        raise ConfigError(f"{name} must be at least {minimum}, got {value!r}")
    return number


def parse_choice(value: str | None, *, name: str, choices: Iterable[str], default: str) -> str:
    """One of a fixed set of words, case-insensitive."""
    if value is None or value.strip() == "":
        return default
    word = value.strip().lower()
    allowed = tuple(choices)
    if word not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return word


def parse_expected_status(spec: str) -> Callable[[int], bool]:
    """`2xx`, `200`, `200-299`, or a comma-separated mix; ConfigError on anything else."""
    ranges: list[tuple[int, int]] = []
    for part in (p.strip().lower() for p in spec.split(",")):
        if match := _STATUS_CLASS_RE.match(part):
            low = int(match.group(1)) * 100
            ranges.append((low, low + 99))
        elif match := _STATUS_RANGE_RE.match(part):
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


# Sentry's rule for environment names: `src/sentry/models/environment.py`
# `Environment.is_valid_name` (ENVIRONMENT_NAME_PATTERN `^[^\n\r\f\/]*$` and
# ENVIRONMENT_NAME_MAX_LENGTH 64 in `src/sentry/constants.py`); the deploy endpoint
# (`release_deploys.py`) refuses any other name, after the release was created.
ENVIRONMENT_MAX_LENGTH = 64
# The deploy's name: `DeploySerializer` (`api/endpoints/release_deploys.py`) takes any text of
# at most 64 characters; a line break or control character in it would be stored and shown
# in Sentry's UI and our own lines, so it is refused as in an environment.
DEPLOY_NAME_MAX_LENGTH = 64
_ENVIRONMENT_BAD = {"/": "'/'"}
_NAME_BAD = {"\n": "a newline", "\r": "a carriage return", "\f": "a form feed"}


def check_name(name: str | None, what: str, *, max_length: int, bad: dict[str, str]) -> None:
    """Refuse a name Sentry stores when it is too long, holds one of `bad`, a line break or
    any other control character, naming the rule."""
    if name is None:
        return
    if len(name) > max_length:
        raise ConfigError(
            f"{what} is {len(name)} characters; Sentry allows at most {max_length}: shorten it"
        )
    for char, label in {**bad, **_NAME_BAD}.items():
        if char in name:
            raise ConfigError(
                f"{what} {name!r} contains {label}, which Sentry does not allow there: remove it"
            )
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in name):
        raise ConfigError(f"{what} {name!r} contains a control character: remove it")


def check_environment(name: str | None) -> str | None:
    """The environment name when Sentry would accept it, else one line naming the rule."""
    check_name(name, "environment", max_length=ENVIRONMENT_MAX_LENGTH, bad=_ENVIRONMENT_BAD)
    return name


def check_deploy_name(name: str | None) -> str | None:
    """The deploy name, checked as environments are (length, line breaks, controls)."""
    check_name(name, "deploy name", max_length=DEPLOY_NAME_MAX_LENGTH, bad={})
    return name


# Sentry's slugs: `src/sentry/api/fields/sentry_slug.py` (MIXED_SLUG_PATTERN for projects,
# `^(?![0-9]+$)[a-z0-9_\-]+$`; ORG_SLUG_PATTERN for organizations, letters, digits and `-`).
# Any other character can never name a project or organization: refused before a request is
# sent. Case and all-digit slugs are left to Sentry (slugs made before those patterns exist).
_SLUG_RE = re.compile(r"^[A-Za-z0-9_-]+$")


def check_slug(slug: str | None, what: str) -> None:
    """Refuse a slug with characters no Sentry slug has (`Web App!`, `web/app`)."""
    if slug is not None and not _SLUG_RE.match(slug):
        raise ConfigError(
            f"{what} slug {slug!r} cannot be a Sentry slug (letters, digits, '_' and '-' "
            "only): use the slug from the Sentry URL, not the display name"
        )


def check_sentry_url(url: str) -> str:
    """The Sentry URL when a request to it can work; else one line naming the problem.

    Refused: whitespace and control characters, a port out of range or not a number, and
    `user:password@` (requests would send those as Basic auth in place of the token)."""
    from urllib.parse import urlsplit

    if any(c.isspace() for c in url):
        raise ConfigError(f"Sentry URL {url!r} holds whitespace: set SENTRY_URL to the bare URL")
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in url):
        raise ConfigError(
            f"Sentry URL {url.encode('unicode_escape').decode()!r} holds a control "
            "character: set SENTRY_URL to the bare URL"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"Sentry URL {url!r} is not an http(s) URL: set SENTRY_URL to e.g. https://sentry.io/"
        )
    if "@" in parts.netloc:
        raise ConfigError(
            f"Sentry URL {parts.scheme}://…@{parts.netloc.rsplit('@', 1)[1]} holds a user name "
            "or password: remove them from SENTRY_URL (the auth token authenticates)"
        )
    try:
        port = parts.port
    except ValueError:
        port_text = parts.netloc.rsplit(":", 1)[-1]
        if port_text.isdigit():
            raise ConfigError(
                f"Sentry URL {url!r}: port {port_text} is out of range (1-65535)"
            ) from None
        raise ConfigError(f"Sentry URL {url!r}: {port_text!r} is not a port number") from None
    if port == 0:
        raise ConfigError(f"Sentry URL {url!r}: port 0 is out of range (1-65535)")
    return url
