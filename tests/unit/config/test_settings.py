"""Settings: from_values defaults, refusals, the token kept out of repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentry_release.config.build import from_values
from sentry_release.config.connection import DEFAULT_URL
from sentry_release.errors import ConfigError


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
