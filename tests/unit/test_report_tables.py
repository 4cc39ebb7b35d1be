"""`deploys` and `info` render through report.py like every other result: their tables are
pure functions of the typed models, and the commands print exactly them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sentry_release import report
from sentry_release.cli import run_cli
from sentry_release.sentry.models import Deploy, Release


def test_the_deploys_table() -> None:
    deploys = [Deploy("7", "production", "blue", None, None, "2026-01-01T00:00:00Z")]
    headers, rows = report.deploys_table(deploys)
    assert headers == ["id", "environment", "name", "finished"]
    assert rows == [["7", "production", "blue", "2026-01-01T00:00:00Z"]]


def test_the_release_table() -> None:
    release = Release("1.0", date_created="2026-01-01T00:00:00Z", commit_count=3, deploy_count=1)
    headers, rows = report.release_table(release)
    assert headers == ["version", "created", "released", "commits", "deploys"]
    assert rows == [["1.0", "2026-01-01T00:00:00Z", "(not final)", "3", "1"]]


def test_the_commands_print_those_tables(
    env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    for args in (["new", "2.0"], ["deploy", "2.0", "--env", "production"]):
        assert run_cli(args, environ=dict(os.environ)) == 0
    capsys.readouterr()
    assert run_cli(["info", "2.0"], environ=dict(os.environ)) == 0
    info = capsys.readouterr().out.splitlines()
    assert info[0].split() == report.release_table(Release("2.0"))[0]
    row = info[2].split()
    assert (row[0], row[-1]) == ("2.0", "1")  # the version and its one deploy
    assert run_cli(["deploys", "2.0"], environ=dict(os.environ)) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].split() == report.deploys_table([])[0]
    assert listed[2].split()[1] == "production"
