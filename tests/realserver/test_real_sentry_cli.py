"""sentry-release against the real Sentry 23.7.1 (issue #21): every command with an org:ci
token, `run`, the action's entry point, `check` with an org:ci and a read token, and every read
of the gate with a read token. The `server_log` fixture fails a test on any answer >= 400 to a
request of ours that the test did not provoke."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from tests.helpers import commit, make_repo, run_cli
from tests.realserver.conftest import ORG, REAL, REAL_URL, ServerLog, token

from sentry_release.errors import SentryAPIError
from sentry_release.sentry.api import SentryApi
from sentry_release.sentry.gate_models import Issue
from sentry_release.sentry.gate_reads import Reads

pytestmark = [*REAL, pytest.mark.slow]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sourcemaps"
# Sentry 23.7.1 answers org:ci 403 here (OrganizationIntegrationsLoosePermission, no org:ci)
REPOS = rf"^/api/0/organizations/{ORG}/repos/"


def version() -> str:
    """A release name of its own: the server keeps what earlier runs wrote."""
    return f"real-{uuid.uuid4().hex[:10]}"


def api_get(path: str, name: str = "read") -> Any:
    done = requests.get(
        f"{REAL_URL}/api/0/organizations/{ORG}/{path}",
        headers={"Authorization": f"Bearer {token(name)}"},
        timeout=30,
    )
    assert done.status_code == 200, done.text
    return done.json()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """Three commits, the last one unique: the server keeps the releases of earlier runs,
    whose last commit is then not in this history (so `--ignore-missing`: the last 20)."""
    path = tmp_path / "repo"
    make_repo(path, commits=2)
    commit(path, {"unique.txt": uuid.uuid4().hex}, "unique commit")
    shutil.copytree(FIXTURES / "dist", path / "dist")
    return path


def ok(done: Any) -> Any:
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    return done


def test_every_command_with_an_org_ci_token(
    real_env: dict[str, str], repo: Path, server_log: ServerLog
) -> None:
    name = version()
    # check reads the repositories list for set-commits auto: 23.7.1 refuses org:ci (by design)
    server_log.allow(403, REPOS)
    ok(run_cli(["check", name, "-e", "production"], real_env, cwd=repo))
    ok(run_cli(["new", name], real_env, cwd=repo))
    ok(run_cli(["set-commits", name, "--mode", "local", "--ignore-missing"], real_env, cwd=repo))
    ok(run_cli(["inject", "dist"], real_env, cwd=repo))
    upload = ok(run_cli(["upload-sourcemaps", name, "dist", "--wait"], real_env, cwd=repo))
    ok(run_cli(["finalize", name], real_env, cwd=repo))
    ok(run_cli(["deploy", name, "-e", "production"], real_env, cwd=repo))
    info = ok(run_cli(["info", name, "--json"], real_env, cwd=repo))
    deploys = ok(run_cli(["deploys", name, "--json"], real_env, cwd=repo))
    assert "state ok" in upload.stdout or "ok" in upload.stdout.split()
    assert json.loads(info.stdout)
    assert "production" in deploys.stdout
    release = api_get(f"releases/{name}/")
    assert release["dateReleased"] and release["commitCount"] == 3
    assert release["deployCount"] == 1
    assert [p["slug"] for p in release["projects"]] == ["web"]
    bundles = api_get_project("web", f"files/artifact-bundles/?query={name}")
    assert len(bundles) == 1 and bundles[0]["fileCount"] >= 9
    ours = server_log.hits("sentry-release")
    assert {h.path.rsplit("/", 2)[-2] for h in ours} >= {"chunk-upload", "assemble", "deploys"}


def api_get_project(project: str, path: str) -> Any:
    done = requests.get(
        f"{REAL_URL}/api/0/projects/{ORG}/{project}/{path}",
        headers={"Authorization": f"Bearer {token('org')}"},
        timeout=30,
    )
    assert done.status_code == 200, done.text
    return done.json()


def test_run_with_an_org_ci_token(
    real_env: dict[str, str], repo: Path, server_log: ServerLog
) -> None:
    name = version()
    args = ["run", name, "--mode", "local", "--ignore-missing", "--sourcemaps", "dist"]
    args += ["-e", "production", "--json"]
    done = ok(run_cli(args, real_env, cwd=repo, timeout=180))
    assert json.loads(done.stdout)["deploy_id"]
    release = api_get(f"releases/{name}/")
    assert release["dateReleased"] and release["commitCount"] == 3 and release["deployCount"]


def test_the_actions_entry_point(tmp_path: Path, repo: Path, server_log: ServerLog) -> None:
    from tests.action.test_runner import run_step

    name = version()
    values = {
        "url": REAL_URL,
        "org": ORG,
        "projects": "web api",
        "environment": "staging",
        "version": name,
        "set_commits": "local",
        "ignore_missing": "true",
        "sourcemaps": "dist",
    }
    run = run_step(repo, tmp_path, values, env={"SENTRY_AUTH_TOKEN": token("org")})
    assert run.code == 0, run.stdout + run.stderr
    shown = [line for line in run.stdout.splitlines() if not line.startswith("::add-mask::")]
    assert token("org") not in "\n".join(shown) + run.stderr + run.summary
    release = api_get(f"releases/{name}/")
    assert sorted(p["slug"] for p in release["projects"]) == ["api", "web"]
    assert release["dateReleased"] and release["deployCount"] == 1


def test_check_with_a_read_token_names_the_missing_scope_and_writes_nothing(
    real_env: dict[str, str], repo: Path, server_log: ServerLog
) -> None:
    name = version()
    env = {**real_env, "SENTRY_AUTH_TOKEN": token("read")}
    done = run_cli(["check", name, "-e", "production"], env, cwd=repo)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "project:releases" in done.stdout + done.stderr
    writes = [h for h in server_log.hits("sentry-release") if h.method != "GET"]
    assert writes == []
    for hit in server_log.hits("sentry-release"):  # what check provoked to learn the scopes
        if hit.status == 403:
            server_log.allow(403, hit.path)


def test_check_of_the_gate_with_an_org_token_and_a_read_token(
    real_env: dict[str, str], repo: Path, server_log: ServerLog
) -> None:
    server_log.allow(403, REPOS)  # the repositories list, as above
    env = {**real_env, "SENTRY_GATE_AUTH_TOKEN": token("read")}
    done = run_cli(["check", version(), "-e", "production", "--gate"], env, cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_gate_command_with_a_read_token(
    real_env: dict[str, str], repo: Path, server_log: ServerLog
) -> None:
    """A deploy that finished ten minutes ago: the window is over, the verdict comes at once.
    On 23.7 the first events read learns `dataset=discover` (one 400, provoked by design)."""
    server_log.allow(400, r"/events(-stats)?/\?.*dataset=errors")
    name = version()
    ok(run_cli(["new", name, "--finalize"], real_env, cwd=repo))
    finished = (datetime.now(timezone.utc) - timedelta(minutes=10)).isoformat()
    ok(run_cli(["deploy", name, "-e", "production", "--finished", finished], real_env, cwd=repo))
    env = {**real_env, "SENTRY_GATE_AUTH_TOKEN": token("read")}
    args = ["gate", name, "-e", "production", "--window", "2m", "--settle", "0", "--json"]
    args += ["--settle-sessions", "0", "--finished", finished]
    done = run_cli(args, env, cwd=repo, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["verdict"].lower() in ("pass", "inconclusive")
    dataset_refusals = [h for h in server_log.hits("sentry-release") if h.status == 400]
    assert len(dataset_refusals) <= 1  # learnt once per run


def test_every_read_of_the_gate_with_a_read_token(
    real_env: dict[str, str], repo: Path, server_log: ServerLog
) -> None:
    """Each read of gate_reads.Reads, with a 30 s bucket so both 23.x fallbacks are learnt."""
    server_log.allow(400, r"/events(-stats)?/\?.*dataset=errors")
    server_log.allow(400, r"/sessions/\?.*interval=30s")
    server_log.allow(404, r"/issues/999999/events/latest/")
    name = version()
    ok(run_cli(["new", name, "--project", "web", "--project", "api"], real_env, cwd=repo))
    ok(run_cli(["deploy", name, "-e", "production"], real_env, cwd=repo))
    reads = Reads(SentryApi(REAL_URL, token("read")), ORG, "production")
    assert [p.slug for p in reads.bind_projects(name, ())] == ["api", "web"] or sorted(
        p.slug for p in reads.projects
    ) == ["api", "web"]
    end = reads.now()
    start = end - timedelta(minutes=10)
    assert [d.environment for d in reads.deploys(name)] == ["production"]
    assert reads.previous_deploy(name, end, exclude="") in (None, name)
    assert reads.issues(f'firstRelease:"{name}"', start, end, "new") == []
    assert reads.error_series(name, start, end, 30).total() == 0
    assert reads.error_series(name, start, end, 30, dataset="transactions").total() == 0
    assert reads.session_series(name, start, end, 30) is None
    assert reads.traffic(name, start, end, 60).unit is None
    assert reads.serving(start, end, 30) == []
    assert reads.outcomes(start, end).accepted == 0
    assert reads.fallbacks.legacy_dataset and reads.fallbacks.minute_intervals
    ghost = Issue.parse({"id": "999999", "project": {"id": reads.projects[0].id}}, "new")
    with pytest.raises(SentryAPIError) as caught:
        reads.suspect(ghost)
    assert caught.value.status == 404
    refusals = [h.status for h in server_log.hits("sentry-release") if h.status >= 400]
    assert sorted(refusals) == [400, 400, 404]  # each fallback learnt once


def test_no_token_in_the_servers_request_log() -> None:
    log = Path(os.environ["SENTRY_REAL_LOG"]).read_text(errors="replace")
    assert token("org") not in log and token("read") not in log
