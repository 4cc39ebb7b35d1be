"""Settings: value parsers, org tokens, .sentryclirc, precedence, from_values."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from sentry_release.config.settings import (
    DEFAULT_URL,
    decode_org_token,
    from_values,
    parse_bool,
    parse_duration,
    parse_time,
    resolve_connection,
    split_list,
)
from sentry_release.errors import ConfigError


def org_token(payload: dict[str, object]) -> str:
    encoded = base64.b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    return f"sntrys_{encoded}_secretpart"


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


def test_org_token_embeds_url_and_org() -> None:
    token = org_token(
        {
            "iat": 1,
            "url": "https://sentry.acme.dev",
            "org": "acme",
            "region_url": "https://us.sentry.acme.dev",
        }
    )
    info = decode_org_token(token)
    assert (info.url, info.org, info.region_url) == (
        "https://sentry.acme.dev",
        "acme",
        "https://us.sentry.acme.dev",
    )
    assert decode_org_token("sntrys_!!!notbase64").org is None
    assert decode_org_token("plain-token").url is None


def test_org_token_wins_with_a_warning() -> None:
    token = org_token({"url": "https://sentry.acme.dev", "org": "acme"})
    conn = resolve_connection(url="https://other.dev", token=token, org="other", projects="web")
    assert conn.url == "https://sentry.acme.dev/" and conn.org == "acme"
    assert any("belongs to organization 'acme'" in w for w in conn.warnings)
    assert any("token is for https://sentry.acme.dev" in w for w in conn.warnings)


def test_sentryclirc_has_the_lowest_precedence(tmp_path: Path) -> None:
    cwd, home = tmp_path / "cwd", tmp_path / "home"
    cwd.mkdir(), home.mkdir()
    (cwd / ".sentryclirc").write_text("[defaults]\norg = from-cwd\n")
    (home / ".sentryclirc").write_text(
        "[defaults]\norg = from-home\nproject = web\nurl = https://self.hosted/\n"
        "[auth]\ntoken = rc-token-123\n"
    )
    settings = from_values({}, cwd=cwd, home=home)
    assert settings.org == "from-cwd"
    assert settings.projects == ("web",)
    assert settings.url == "https://self.hosted/"
    assert settings.auth_token == "rc-token-123"
    settings = from_values({"org": "flag-org", "projects": ["a", "b"]}, cwd=cwd, home=home)
    assert settings.org == "flag-org" and settings.projects == ("a", "b")


def test_from_values_defaults(tmp_path: Path) -> None:
    settings = from_values({}, cwd=tmp_path, home=None)
    assert settings.url == DEFAULT_URL
    assert settings.commits.mode == "auto" and settings.commits.initial_depth == 20
    assert settings.sourcemaps.inject is True and settings.finalize is True
    assert settings.gate.grace == 0 and settings.gate.max_ratio == 1.5
    assert "auth_token" not in repr(settings) or "None" in repr(settings)


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({"commit_mode": "sometimes"}, "set_commits must be one of auto, local, manual, skip"),
        ({"commit_mode": "manual"}, "no commit was given"),
        ({"finalize": "maybe"}, "finalize must be true or false"),
        ({"grace": "-5"}, "grace must not be negative"),
        ({"window": "ten minutes"}, "window must be a duration"),
        ({"min_events": "three"}, "min_events must be a whole number"),
        ({"max_ratio": "0.5"}, "max_error_ratio must be at least 1.0"),
        ({"on_api_error": "ignore"}, "on_api_error must be one of pass, fail"),
        ({"cwd": "does/not/exist"}, "working directory does not exist"),
    ],
)
def test_from_values_rejects_bad_input(
    tmp_path: Path, values: dict[str, str], fragment: str
) -> None:
    with pytest.raises(ConfigError, match=fragment):
        from_values(values, cwd=tmp_path, home=None)


def test_token_never_in_repr(tmp_path: Path) -> None:
    settings = from_values({"auth_token": "super-secret-token"}, cwd=tmp_path, home=None)
    assert "super-secret-token" not in repr(settings)


def test_require_names_the_fix(tmp_path: Path) -> None:
    settings = from_values({}, cwd=tmp_path, home=None)
    with pytest.raises(ConfigError, match="set SENTRY_AUTH_TOKEN or pass --auth-token"):
        settings.require("auth_token")
