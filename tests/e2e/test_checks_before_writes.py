"""What can be checked before the first write is checked first: a bad environment, release
name, manual commit or repository is exit 2 and nothing is sent."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sentry_standin import DevServer
from tests.helpers import make_repo, run_cli


@pytest.mark.parametrize(
    ("environment", "problem"),
    [("prod/eu", "'/'"), ("a" * 65, "64"), ("prod\nx", "newline")],
    ids=["slash", "too-long", "newline"],
)
def test_an_environment_sentry_refuses_is_exit_2_before_any_request(
    tmp_path: Path, server: DevServer, env: dict[str, str], environment: str, problem: str
) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, commits=1)
    for args in (["deploy", "1.0"], ["run", "1.0", "--mode", "skip"]):
        done = run_cli([*args, "--env", environment], env, cwd=repo)
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "environment" in lines[0] and problem in lines[0], lines
    assert server.store.requests == []


@pytest.mark.parametrize("name", ["latest", "Latest", "LATEST"])
def test_latest_in_any_case_is_refused(
    tmp_path: Path, server: DevServer, env: dict[str, str], name: str
) -> None:
    done = run_cli(["new", name], env, cwd=tmp_path)
    assert done.returncode == 2 and "reserved" in done.stderr, done.stderr
    assert server.store.requests == []


def test_an_explicitly_empty_release_name_is_exit_2(
    tmp_path: Path, server: DevServer, env: dict[str, str]
) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, commits=1)
    for args in (["new", ""], ["deploy", "", "--env", "production"]):
        done = run_cli(args, env, cwd=repo)
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().splitlines() == [
            "error: release name is empty: pass a version or set SENTRY_RELEASE"
        ]
    assert server.store.requests == []


def test_a_manual_commit_that_does_not_resolve_is_exit_2_before_the_release(
    tmp_path: Path, server: DevServer, env: dict[str, str]
) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, commits=1)
    done = run_cli(
        ["run", "1.0", "--mode", "manual", "--commit", "acme/web@no-such-ref"], env, cwd=repo
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no-such-ref" in lines[0], lines
    assert server.store.requests == []


def test_an_empty_repository_is_exit_2_before_the_release(
    tmp_path: Path, server: DevServer, env: dict[str, str]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    done = run_cli(["run", "1.0", "--mode", "local"], env, cwd=repo)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no commit" in lines[0], lines
    assert server.store.requests == []
