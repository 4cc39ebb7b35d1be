"""new / finalize / deploy through the real CLI against the stand-in over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest
import requests

from sentry_standin import DevServer
from tests.helpers import ORG, TOKEN, make_repo, run_cli, run_cli_process


def read(server: DevServer, path: str) -> requests.Response:
    """Read state back through Sentry's own read endpoints."""
    return requests.get(
        f"{server.url}api/0{path}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )


@pytest.mark.parametrize(
    "runner",
    [run_cli, pytest.param(run_cli_process, marks=pytest.mark.slow)],
    ids=["in process", "console script as a process"],
)
def test_new_finalize_deploy_change_server_state(
    server: DevServer, env: dict[str, str], runner: Callable[..., CompletedProcess[str]]
) -> None:
    run_cli = runner
    assert run_cli(["new", "1.2.3"], env).returncode == 0
    release = read(server, f"/organizations/{ORG}/releases/1.2.3/").json()
    assert release["version"] == "1.2.3"
    assert release["dateReleased"] is None
    assert [p["slug"] for p in release["projects"]] == ["web"]

    done = run_cli(["finalize", "1.2.3"], env)
    assert done.returncode == 0, done.stderr
    assert "Finalized release 1.2.3" in done.stdout
    assert read(server, f"/organizations/{ORG}/releases/1.2.3/").json()["dateReleased"]

    done = run_cli(
        [
            "deploy",
            "1.2.3",
            "--env",
            "production",
            "--name",
            "blue",
            "--deploy-url",
            "https://example.com",
            "--started",
            "1700000000",
        ],
        env,
    )
    assert done.returncode == 0, done.stderr
    deploys = read(server, f"/organizations/{ORG}/releases/1.2.3/deploys/").json()
    assert len(deploys) == 1
    assert deploys[0]["environment"] == "production"
    assert deploys[0]["name"] == "blue"
    assert deploys[0]["url"] == "https://example.com"
    assert deploys[0]["dateStarted"] == "2023-11-14T22:13:20Z"


def test_new_twice_is_success_and_leaves_one_release(
    server: DevServer, env: dict[str, str]
) -> None:
    first = run_cli(["new", "2.0.0", "-p", "web", "-p", "api"], env)
    second = run_cli(["new", "2.0.0", "-p", "web api"], env)
    assert first.returncode == second.returncode == 0
    assert "Created release 2.0.0" in first.stdout
    assert "already exists" in second.stdout
    statuses = [r["status"] for r in server.store.requests if r["method"] == "POST"]
    assert statuses == [201, 208]
    releases = read(server, f"/organizations/{ORG}/releases/").json()
    assert [r["version"] for r in releases] == ["2.0.0"]


def test_every_deploy_step_records_one_so_rollbacks_show(
    server: DevServer, env: dict[str, str]
) -> None:
    """Deploy A, B, A: three deploys (A's deployCount 2, B's 1), as action-release and
    `sentry-cli deploys new` record them, so Sentry shows A as live again."""
    for version in ("A", "B"):
        assert run_cli(["new", version], env).returncode == 0
    for version in ("A", "B", "A"):
        done = run_cli(["deploy", version, "-e", "production"], env)
        assert done.returncode == 0, done.stderr
        assert "Recorded deploy" in done.stdout
    counts = {
        v: read(server, f"/organizations/{ORG}/releases/{v}/").json()["deployCount"]
        for v in ("A", "B")
    }
    assert counts == {"A": 2, "B": 1}
    posts = [r for r in server.store.requests if r["method"] == "POST" and "deploys" in r["path"]]
    assert len(posts) == 3


def test_version_defaults_to_tag_then_sha(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    shas = make_repo(repo, commits=2)
    done = run_cli(["new"], env, cwd=repo)
    assert done.returncode == 0, done.stderr
    assert read(server, f"/organizations/{ORG}/releases/{shas[-1]}/").status_code == 200
    from tests.helpers import git

    git(repo, "tag", "web@1.4.0")
    done = run_cli(["propose-version", "--tag-pattern", "web@*"], env, cwd=repo)
    assert done.stdout.strip() == "web@1.4.0"
    done = run_cli(["new", "--tag-pattern", "web@*"], env, cwd=repo)
    assert done.returncode == 0
    assert read(server, f"/organizations/{ORG}/releases/web%401.4.0/").status_code == 200


def test_dry_run_prints_requests_and_sends_none(server: DevServer, env: dict[str, str]) -> None:
    done = run_cli(["new", "9.9", "--dry-run"], env)
    assert done.returncode == 0, done.stderr
    assert f"[dry-run] would POST {server.url}api/0/organizations/{ORG}/releases/" in done.stdout
    assert TOKEN not in done.stdout + done.stderr
    assert {r["method"] for r in server.store.requests} == {"GET"}  # reads only
