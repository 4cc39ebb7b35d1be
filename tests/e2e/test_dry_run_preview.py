"""A dry run is a preview: it reads Sentry as the real run does, prints every write instead of
sending it, and gives the real run's plan in "would" form; without a token it sends nothing
and says what it could not check."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sentry_standin import DevServer
from sentry_standin.commits import add_repo
from tests.helpers import ORG, git, make_repo, run_cli

# A dry run's wording -> the real run's: the plan lines must then be the same.
PREVIEW = {
    "Would create release": "Created release",
    "Would finalize release": "Finalized release",
    "Would associate": "Associated",
    "Would send": "Sent",
}
PLAN_LINE = re.compile(r"^(Would |Created |Finalized |Associated |Sent |Release already exists)")


def plan(stdout: str) -> list[str]:
    """The result lines, with a dry run's wording turned into the real run's."""
    lines = [line for line in stdout.splitlines() if PLAN_LINE.match(line)]
    for dry, real in PREVIEW.items():
        lines = [real + line[len(dry) :] if line.startswith(dry) else line for line in lines]
    return lines


def writes(server: DevServer) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in server.store.requests if r["method"] != "GET"]


@pytest.mark.parametrize("case", ["new release", "existing release", "integration refs", "local"])
def test_dry_run_gives_the_real_runs_plan(
    case: str, server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    origin = tmp_path / "origin"
    make_repo(origin, commits=3)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", f"file://{origin}", str(clone))
    mode = "skip" if case in ("new release", "existing release") else "auto"
    if case == "integration refs":
        add_repo(server.store, ORG, "acme/web", f"file://{origin}/")
    if case == "existing release":
        assert run_cli(["new", "1.0"], env, cwd=clone).returncode == 0
    before = writes(server)
    args = ["run", "1.0", "--mode", mode]

    dry = run_cli([*args, "--dry-run"], env, cwd=clone)
    assert dry.returncode == 0, dry.stderr
    assert writes(server) == before  # nothing written...
    assert len(server.store.requests) > len(before)  # ...but Sentry was read
    assert "[dry-run] would PUT" in dry.stdout  # the finalize, printed
    real = run_cli(args, env, cwd=clone)
    assert real.returncode == 0, real.stderr

    assert plan(dry.stdout) == plan(real.stdout) != []
    assert "Would finalize release 1.0" in dry.stdout
    expected = {
        "new release": "Would create release 1.0 (web)",
        "existing release": "Release already exists: release 1.0 (web)",
        "integration refs": "Would send commit refs of 1 repository(ies) for 1.0",
        "local": "Would associate 3 commit(s) with release 1.0",
    }[case]
    assert expected in dry.stdout


def test_dry_run_without_a_token_sends_nothing_and_says_what_it_did_not_check(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    make_repo(tmp_path / "repo", commits=2)
    env = {k: v for k, v in env.items() if k != "SENTRY_AUTH_TOKEN"}
    done = run_cli(["new", "1.0", "--dry-run"], env, cwd=tmp_path / "repo")
    assert done.returncode == 0, done.stderr
    assert server.store.requests == []
    assert "[dry-run] not checked (no auth token): GET" in done.stdout
    assert "Would create release 1.0 (web; not checked: no auth token)" in done.stdout
