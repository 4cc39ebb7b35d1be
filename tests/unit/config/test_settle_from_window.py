"""A short gate window alone asks for speed: settle periods not given become half the window
(CLI `--window 30s`, action `gate_window: 30s`); given ones are kept, and still refused when
longer than the window."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sentry_release import action
from sentry_release.config.build import from_values
from sentry_release.errors import ConfigError

BASE = {"gate": True, "environment": "production"}


def gate_of(tmp_path: Path, **values: Any) -> tuple[float, float]:
    settings = from_values({**BASE, **values}, cwd=tmp_path, home=None)
    return settings.gate.settle, settings.gate.settle_sessions


def test_a_short_window_alone_gets_settle_periods_of_half_of_it(tmp_path: Path) -> None:
    assert gate_of(tmp_path, window="30s") == (15.0, 15.0)
    assert gate_of(tmp_path, window="2m") == (60.0, 60.0)  # 60 s fits; 90 s becomes 60 s
    assert gate_of(tmp_path) == (60.0, 90.0)  # the defaults with the default window


def test_given_settle_periods_are_kept_and_checked(tmp_path: Path) -> None:
    assert gate_of(tmp_path, window="30s", settle="0", settle_sessions="5s") == (0.0, 5.0)
    with pytest.raises(ConfigError, match="shorter than the settle period"):
        gate_of(tmp_path, window="30s", settle="1m")


def test_the_action_takes_a_short_window_and_the_settle_inputs(tmp_path: Path) -> None:
    env = {
        "GITHUB_WORKSPACE": str(tmp_path),
        "INPUT_GATE": "true",
        "INPUT_ENVIRONMENT": "production",
        "INPUT_GATE_WINDOW": "30s",
    }
    config = action.action_config(env)
    settings = from_values(config.values, cwd=tmp_path, home=None)
    assert (settings.gate.window, settings.gate.settle) == (30.0, 15.0)
    given = action.action_config(
        {**env, "INPUT_GATE_SETTLE": "2s", "INPUT_GATE_SETTLE_SESSIONS": "3s"}
    )
    settings = from_values(given.values, cwd=tmp_path, home=None)
    assert (settings.gate.settle, settings.gate.settle_sessions) == (2.0, 3.0)
