"""Bad input: one line naming the problem and the fix, exit 2, no traceback, no request.

Remote refusals (unknown org/project, bad token) are exit 1 with Sentry's own words.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sentry_release.devserver import DevServer
from sentry_release.errors import ConfigError
from sentry_release.settings import from_values
from tests.helpers import commit, make_repo, run_cli

MISSING = [
    (["new", "1.0"], {"SENTRY_AUTH_TOKEN": None}, "auth token is missing: set SENTRY_AUTH_TOKEN"),
    (["new", "1.0"], {"SENTRY_AUTH_TOKEN": ""}, "auth token is missing: set SENTRY_AUTH_TOKEN"),
    (["new", "1.0"], {"SENTRY_AUTH_TOKEN": "   "}, "auth token is missing: set SENTRY_AUTH_TOKEN"),
    (["new", "1.0"], {"SENTRY_ORG": None}, "organization is missing: set SENTRY_ORG"),
    (["new", "1.0"], {"SENTRY_ORG": ""}, "organization is missing: set SENTRY_ORG"),
    (["finalize", "1.0"], {"SENTRY_ORG": ""}, "organization is missing: set SENTRY_ORG"),
    (["new", "1.0"], {"SENTRY_PROJECT": None}, "project is missing: set SENTRY_PROJECT"),
    (["new", "1.0"], {"SENTRY_PROJECT": ""}, "project is missing: set SENTRY_PROJECT"),
    (["new", "1.0"], {"SENTRY_PROJECT": " , "}, "project is missing: set SENTRY_PROJECT"),
    (["deploy", "1.0"], {}, "environment is missing: set SENTRY_ENVIRONMENT"),
    (["deploy", "1.0", "-e", ""], {}, "environment is missing: set SENTRY_ENVIRONMENT"),
    (["run", "1.0", "--mode", "skip"], {"SENTRY_AUTH_TOKEN": ""}, "auth token is missing"),
]

RELEASE_NAMES = [
    ("a/b", "contains '/'"),
    ("a\\b", "contains '\\\\'"),
    ("a\tb", "contains '\\t'"),
    ("a\nb", "contains '\\n'"),
    (".", "is reserved by Sentry"),
    ("..", "is reserved by Sentry"),
    ("latest", "is reserved by Sentry"),
    (" 1.0", "leading or trailing whitespace"),
    ("1.0 ", "leading or trailing whitespace"),
    (" ", "release name is empty"),
    ("x" * 201, "Sentry allows at most 200"),
]

VALUES = [
    (["new", "1.0", "--timeout", "abc"], "timeout must be a duration like 300, 300s, 5m or 1h"),
    (["new", "1.0", "--timeout", "-5"], "timeout must not be negative"),
    (["new", "1.0", "--retry-budget", "soon"], "retry_budget must be a duration"),
    (["gate", "1.0", "-e", "prod", "--grace", "-5"], "grace must not be negative, got '-5'"),
    (["gate", "1.0", "-e", "prod", "--window", "10 minutes"], "window must be a duration"),
    (["gate", "1.0", "-e", "prod", "--poll", "5x"], "poll must be a duration"),
    (["run", "1.0", "--mode", "sometimes"], "Invalid value for '--mode': 'sometimes' is not one"),
    (["deploy", "1.0", "-e", "prod", "--started", "yesterday"], "ISO 8601"),
    (["new", "1.0", "--ca-bundle", "missing-ca.pem"], "CA bundle not found: missing-ca.pem"),
    (["new", "1.0", "--cwd", "no/such/dir"], "working directory does not exist"),
    (["run", "1.0", "--mode", "manual"], "set_commits is manual but no commit was given"),
    (["run", "1.0", "--initial-depth", "many"], "'many' is not a valid integer"),
]


def assert_refused(done: object, server: DevServer, message: str) -> None:
    """Exit 2, exactly one line holding `message`, no traceback, nothing sent."""
    assert done.returncode == 2, (done.stdout, done.stderr)  # type: ignore[attr-defined]
    lines = done.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1, done.stderr  # type: ignore[attr-defined]
    assert lines[0].startswith("error: ")
    assert message in lines[0], lines[0]
    assert "Traceback" not in done.stderr  # type: ignore[attr-defined]
    assert server.store.requests == []


@pytest.mark.parametrize(("args", "changes", "message"), MISSING)
def test_missing_or_empty_connection_values(
    server: DevServer,
    env: dict[str, str],
    tmp_path: Path,
    args: list[str],
    changes: dict[str, str | None],
    message: str,
) -> None:
    for key, value in changes.items():
        if value is None:
            env.pop(key)
        else:
            env[key] = value
    assert_refused(run_cli(args, env, cwd=tmp_path), server, message)


@pytest.mark.parametrize(
    ("name", "message"), RELEASE_NAMES, ids=[repr(n)[:12] for n, _ in RELEASE_NAMES]
)
def test_invalid_release_names(
    server: DevServer, env: dict[str, str], tmp_path: Path, name: str, message: str
) -> None:
    assert_refused(run_cli(["new", name], env, cwd=tmp_path), server, message)


@pytest.mark.parametrize(
    "args", [["finalize", "a/b"], ["deploy", "latest", "-e", "prod"], ["info", ".."]]
)
def test_every_command_checks_the_release_name(
    server: DevServer, env: dict[str, str], tmp_path: Path, args: list[str]
) -> None:
    assert_refused(run_cli(args, env, cwd=tmp_path), server, "release name")


@pytest.mark.parametrize(("args", "message"), VALUES, ids=[" ".join(a)[:40] for a, _ in VALUES])
def test_garbage_values(
    server: DevServer, env: dict[str, str], tmp_path: Path, args: list[str], message: str
) -> None:
    assert_refused(run_cli(args, env, cwd=tmp_path), server, message)


def test_not_a_git_repository(server: DevServer, env: dict[str, str], tmp_path: Path) -> None:
    assert_refused(run_cli(["new"], env, cwd=tmp_path), server, "not a git repository")
    assert_refused(run_cli(["propose-version"], env, cwd=tmp_path), server, "not a git repository")


def test_dirty_tree_warns_but_proceeds(server: DevServer, env: dict[str, str], tmp_path: Path):
    repo = tmp_path / "repo"
    shas = make_repo(repo, commits=1)
    (repo / "src" / "file0.txt").write_text("edited\n", encoding="utf-8")
    done = run_cli(["new"], env, cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "uncommitted changes: the release is named for HEAD" in done.stderr
    assert f"Created release {shas[-1]}" in done.stdout
    commit(repo, {"src/file0.txt": "edited\n"}, "commit the edit")
    done = run_cli(["new"], env, cwd=repo)
    assert "uncommitted" not in done.stderr


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"finalize": "maybe"}, "finalize must be true or false, got 'maybe'"),
        ({"create": "yes please"}, "create must be true or false"),
        ({"deploy": "2"}, "deploy must be true or false"),
        ({"ignore_empty": "perhaps"}, "ignore_empty must be true or false"),
        ({"inject": "nope"}, "inject must be true or false"),
        ({"dry_run": "sure"}, "dry_run must be true or false"),
        ({"commit_mode": "bogus"}, "set_commits must be one of auto, local, manual, skip"),
        ({"grace": "-5"}, "grace must not be negative"),
        ({"timeout": "abc"}, "timeout must be a duration"),
        ({"retry_budget": "-1"}, "retry_budget must not be negative"),
        ({"initial_depth": "0"}, "initial_depth must be at least 1"),
    ],
)
def test_settings_refuse_non_boolean_and_garbage_inputs(
    tmp_path: Path, values: dict[str, str], message: str
) -> None:
    """The action passes strings; `from_values` is where both front doors validate them."""
    with pytest.raises(ConfigError) as info:
        from_values(values, cwd=tmp_path, home=None)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_remote_failures_exit_1_with_sentrys_words(server: DevServer, env: dict[str, str]) -> None:
    done = run_cli(["new", "1.0"], {**env, "SENTRY_AUTH_TOKEN": "wrong-token"})
    assert done.returncode == 1
    assert "Invalid token" in done.stderr and "check SENTRY_AUTH_TOKEN" in done.stderr
    done = run_cli(["new", "1.0"], {**env, "SENTRY_ORG": "nope"})
    assert done.returncode == 1
    assert "organization not found: 'nope': check SENTRY_ORG" in done.stderr
    done = run_cli(["new", "1.0", "-p", "ghost"], env)
    assert done.returncode == 1
    assert "Invalid projects" in done.stderr
    done = run_cli(["finalize", "missing"], env)
    assert done.returncode == 1
    assert "release 'missing' not found" in done.stderr
    done = run_cli(["deploy", "missing", "-e", "prod"], {**env, "SENTRY_ORG": "nope"})
    assert done.returncode == 1
    assert "check SENTRY_ORG" in done.stderr
    for stderr in (done.stderr,):
        assert len(stderr.strip().splitlines()) == 1
