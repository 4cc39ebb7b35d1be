"""Fixtures of the in-process CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import make_repo


@pytest.fixture
def checkout(env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This process set up like the user's shell for an in-process `run_cli`: the stand-in's
    environment, and a git checkout of two commits as the working directory."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("SENTRY_RELEASE_DEBUG", raising=False)
    repo = tmp_path / "repo"
    make_repo(repo, commits=2)
    monkeypatch.chdir(repo)
    return repo
