"""`sentry-release propose-version` before a build: `--format env` prints NAME=value lines,
`--export github` writes them to GITHUB_ENV (and `release` to GITHUB_OUTPUT); run in process
with its own environment, on real repositories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sentry_release.cli import run_cli
from tests.action.test_action import parse_outputs
from tests.helpers import GIT_ENV, git, make_repo


def env_for(repo: Path, tmp_path: Path, **extra: str) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {**GIT_ENV, "HOME": str(home), "PATH": "/usr/bin:/bin", **extra}


def test_format_env_prints_sentry_release_and_each_env_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sha = make_repo(tmp_path / "repo", commits=1)[-1]
    args = ["propose-version", "--cwd", str(tmp_path / "repo"), "--format", "env"]
    args += ["--env-name", "VITE_SENTRY_RELEASE", "--env-name", "NEXT_PUBLIC_SENTRY_RELEASE"]
    assert run_cli(args, environ=env_for(tmp_path / "repo", tmp_path)) == 0
    assert capsys.readouterr().out == (
        f"SENTRY_RELEASE={sha}\nVITE_SENTRY_RELEASE={sha}\nNEXT_PUBLIC_SENTRY_RELEASE={sha}\n"
    )


def test_export_github_on_a_pull_request_exports_the_head_sha_not_the_merge_commit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    base = make_repo(repo, commits=2)[-1]
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "f.txt").write_text("x\n")
    git(repo, "add", "f.txt")
    git(repo, "commit", "-q", "-m", "feature")
    head = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", base)
    git(repo, "merge", "-q", "--no-ff", "-m", "merge", head)
    merge = git(repo, "rev-parse", "HEAD").strip()
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"head": {"sha": head}}}))
    files = {name: tmp_path / name for name in ("env", "output")}
    for path in files.values():
        path.write_text("")
    environ = env_for(
        repo,
        tmp_path,
        GITHUB_ACTIONS="true",
        GITHUB_EVENT_NAME="pull_request",
        GITHUB_EVENT_PATH=str(event),
        GITHUB_SHA=merge,
        GITHUB_ENV=str(files["env"]),
        GITHUB_OUTPUT=str(files["output"]),
    )
    args = ["propose-version", "--cwd", str(repo), "--export", "github", "--env-name", "VITE_R"]
    assert run_cli(args, environ=environ) == 0
    assert capsys.readouterr().out.strip() == head != merge
    assert parse_outputs(files["env"].read_text()) == {"SENTRY_RELEASE": head, "VITE_R": head}
    assert parse_outputs(files["output"].read_text()) == {"release": head}


def test_export_github_outside_a_github_step_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_repo(tmp_path / "repo", commits=1)
    args = ["propose-version", "--cwd", str(tmp_path / "repo"), "--export", "github"]
    assert run_cli(args, environ=env_for(tmp_path / "repo", tmp_path)) == 2
    assert "--export github needs GITHUB_ENV" in capsys.readouterr().err


def test_a_bad_env_name_is_refused_before_anything_is_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_repo(tmp_path / "repo", commits=1)
    args = ["propose-version", "--cwd", str(tmp_path / "repo"), "--env-name", "VITE-R"]
    assert run_cli(args, environ=env_for(tmp_path / "repo", tmp_path)) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "--env-name 'VITE-R'" in captured.err
