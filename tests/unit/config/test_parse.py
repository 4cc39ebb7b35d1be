"""Value parsers: strict booleans, durations, times, lists."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from sentry_release.config.parse import parse_bool, parse_duration, parse_time, split_list
from sentry_release.errors import ConfigError


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("yes", True),
        ("1", True),
        ("on", True),
        ("false", False),
        ("no", False),
        ("0", False),
        ("off", False),
        ("", False),
        (None, False),
    ],
)
def test_parse_bool_strict(raw: str | None, expected: bool) -> None:
    assert parse_bool(raw, name="inject") is expected


@pytest.mark.parametrize("raw", ["maybe", "ture", "2", "yes please"])
def test_parse_bool_rejects_anything_else(raw: str) -> None:
    with pytest.raises(ConfigError, match=f"inject must be true or false, got '{raw}'"):
        parse_bool(raw, name="inject")


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("300", 300.0),
        ("300s", 300.0),
        ("5m", 300.0),
        ("1.5h", 5400.0),
        ("250ms", 0.25),
        (7, 7.0),
        ("", None),
        (None, None),
    ],
)
def test_parse_duration(raw: str | int | None, seconds: float | None) -> None:
    assert parse_duration(raw, name="grace") == seconds


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("-5", "must not be negative"),
        ("abc", "must be a duration"),
        ("5 minutes", "must be a duration"),
        (-1, "must not be negative"),
    ],
)
def test_parse_duration_rejects(raw: str | int, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        parse_duration(raw, name="grace")


def test_parse_time_accepts_unix_and_iso() -> None:
    expected = datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)
    assert parse_time("1700000000", name="started_at") == expected
    assert parse_time("2023-11-14T22:13:20Z", name="started_at") == expected
    assert parse_time("2023-11-14T23:13:20+01:00", name="started_at") == expected
    assert parse_time("2023-11-14T22:13:20", name="started_at") == expected
    with pytest.raises(ConfigError, match="started_at must be unix seconds or ISO 8601"):
        parse_time("last tuesday", name="started_at")


def test_split_list_handles_spaces_commas_and_repeats() -> None:
    assert split_list("web, api  mobile") == ("web", "api", "mobile")
    assert split_list(("web api", "api,ios")) == ("web", "api", "ios")
    assert split_list(None) == ()
