"""`ignore_empty` as getsentry/action-release means it: no new commits to associate is
expected. Never a failure here (a re-run stays safe); a warning unless it was expected."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sentry_release import action
from sentry_release.cli import run_cli
from sentry_release.config.build import from_values


@pytest.mark.parametrize("expected", [False, True])
def test_no_new_commits_warns_unless_expected(
    checkout: Path, capsys: pytest.CaptureFixture[str], expected: bool
) -> None:
    for version in ("1.0", "2.0"):
        assert run_cli(["new", version], environ=dict(os.environ)) == 0
    assert run_cli(["set-commits", "1.0", "--mode", "local"], environ=dict(os.environ)) == 0
    capsys.readouterr()
    flag = ["--ignore-empty-commits"] if expected else []
    args = ["set-commits", "2.0", "--mode", "local", *flag]  # 1.0 already ends at HEAD
    assert run_cli(args, environ=dict(os.environ)) == 0
    err = capsys.readouterr().err
    assert "no new commits" in err
    assert ("warning: " in err) is not expected


def test_the_input_is_the_commits_one_and_source_maps_have_their_own(tmp_path: Path) -> None:
    env = {"GITHUB_WORKSPACE": str(tmp_path), "INPUT_IGNORE_EMPTY": "true"}
    settings = from_values(action.action_config(env).values, cwd=tmp_path, home=None)
    assert settings.commits.ignore_empty and not settings.sourcemaps.ignore_empty
    env = {"GITHUB_WORKSPACE": str(tmp_path), "INPUT_SOURCEMAPS_IGNORE_EMPTY": "true"}
    settings = from_values(action.action_config(env).values, cwd=tmp_path, home=None)
    assert settings.sourcemaps.ignore_empty and not settings.commits.ignore_empty
