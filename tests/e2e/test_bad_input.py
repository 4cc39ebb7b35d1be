"""Bad input: one line naming the problem and the fix, exit 2, no traceback, no request."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentry_release.devserver import DevServer
from tests.helpers import run_cli


@pytest.mark.parametrize(
    ("args", "unset", "message"),
    [
        (["new", "1.0"], "SENTRY_AUTH_TOKEN", "auth token is missing: set SENTRY_AUTH_TOKEN"),
        (["new", "1.0"], "SENTRY_ORG", "organization is missing: set SENTRY_ORG"),
        (["new", "1.0"], "SENTRY_PROJECT", "project is missing: set SENTRY_PROJECT"),
        (["new", "a/b"], None, "contains '/'"),
        (["new", "latest"], None, "is reserved by Sentry"),
        (["new", " 1.0"], None, "leading or trailing whitespace"),
        (["new", "x" * 201], None, "Sentry allows at most 200"),
        (["deploy", "1.0"], None, "environment is missing: set SENTRY_ENVIRONMENT"),
        (["deploy", "1.0", "-e", "prod", "--started", "yesterday"], None, "ISO 8601"),
        (["new"], None, "not a git repository"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_request(
    server: DevServer,
    env: dict[str, str],
    tmp_path: Path,
    args: list[str],
    unset: str | None,
    message: str,
) -> None:
    if unset:
        env.pop(unset)
    done = run_cli(args, env, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert message in lines[0]
    assert "Traceback" not in done.stderr
    assert server.store.requests == []


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
