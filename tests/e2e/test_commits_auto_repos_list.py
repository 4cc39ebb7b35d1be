"""`set-commits --mode auto` (and `check`) with an organization token (org:ci) on both servers
the stand-in plays (issue #21 follow-up): today's Sentry lets org:ci list the repositories
(`api/bases/organization.py` OrganizationIntegrationsLoosePermission GET), Sentry 23.7.1 does
not (403). Auto then sends refs on today's Sentry and the local history on 23.7, decided by
the server's answer, with one warning line naming what was done and the scope for refs."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentry_release.steps.commits import repos_refused_warning
from sentry_standin import DevServer, Options, Store
from sentry_standin.commits import add_repo
from tests.helpers import ORG, PROJECTS, TOKEN, SimClock, cli_env, git, make_repo, run_cli

ORG_TOKEN = "sntrys_ci_only_token_for_tests"  # an organization token: org:ci only
READ_TOKEN = "reader-token=org:read,project:releases"
MODES = {"today": frozenset(), "self-hosted-23.7": frozenset({"self-hosted-23.7"})}
REMOTE = "https://github.com/acme/web.git"


def server(mode: str, sim: SimClock) -> DevServer:
    store = Store(
        orgs=(ORG,), projects=PROJECTS, tokens=(TOKEN, ORG_TOKEN, READ_TOKEN), clock=sim.now
    )
    add_repo(store, ORG, "acme/web", "https://github.com/acme/web")
    return DevServer(store, options=Options(modes=MODES[mode]))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    make_repo(path, commits=3)
    git(path, "remote", "add", "origin", REMOTE)
    return path


def refused(srv: DevServer) -> list[tuple[str, int]]:
    return [(r["path"], r["status"]) for r in srv.store.requests if r["status"] >= 400]


@pytest.mark.parametrize("mode", sorted(MODES))
def test_auto_with_an_org_ci_token(mode: str, repo: Path, tmp_path: Path, sim: SimClock) -> None:
    with server(mode, sim) as srv:
        env = cli_env(srv.url, token=ORG_TOKEN, home=tmp_path)
        assert run_cli(["new", "1.0"], env, cwd=repo).returncode == 0
        done = run_cli(["set-commits", "1.0"], env, cwd=repo)  # auto: the default
        release = srv.store.data["releases"][ORG]["1.0"]
        seen = refused(srv)
    assert done.returncode == 0, done.stdout + done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    if mode == "today":
        assert seen == []
        assert "refs" in done.stdout and warnings == []
        assert "acme/web" in release["headCommits"]
    else:
        assert seen == [(f"/api/0/organizations/{ORG}/repos/", 403)]
        assert "local" in done.stdout and "Associated 3 commit(s)" in done.stdout
        assert [c["repository"] for c in release["commits"]] == ["acme/web"] * 3
        assert len(warnings) == 1
        assert "local git history" in warnings[0] and "org:read" in warnings[0]
        assert ORG_TOKEN not in done.stdout + done.stderr


def test_auto_on_23_7_with_an_org_read_token_sends_refs(
    repo: Path, tmp_path: Path, sim: SimClock
) -> None:
    """The scope the warning names does give the integration refs on 23.7."""
    with server("self-hosted-23.7", sim) as srv:
        env = cli_env(srv.url, token="reader-token", home=tmp_path)
        assert run_cli(["new", "1.0"], env, cwd=repo).returncode == 0
        done = run_cli(["set-commits", "1.0", "--mode", "auto"], env, cwd=repo)
        seen = refused(srv)
    assert done.returncode == 0, done.stdout + done.stderr
    assert seen == [] and "refs" in done.stdout and "warning:" not in done.stderr


@pytest.mark.parametrize("mode", sorted(MODES))
def test_check_reads_the_repositories_list_as_the_server_answers(
    mode: str, repo: Path, tmp_path: Path, sim: SimClock
) -> None:
    with server(mode, sim) as srv:
        env = cli_env(srv.url, token=ORG_TOKEN, home=tmp_path)
        done = run_cli(["check", "1.0", "--mode", "auto"], env, cwd=repo)
        writes = [r for r in srv.store.requests if r["method"] != "GET"]
    assert done.returncode == 0, done.stdout + done.stderr
    row = next(line for line in done.stdout.splitlines() if "list integration repo" in line)
    if mode == "today":
        assert "ok" in row.split() and "listed" in row
    else:
        assert "falls back to local history" in row and "org:read" in row
    assert writes == []


def test_the_warning_names_the_endpoint_the_fallback_and_the_scope() -> None:
    line = repos_refused_warning("acme", "You do not have permission to perform this action.")
    assert "\n" not in line
    assert "GET /organizations/acme/repos/" in line and "403" in line
    assert "local git history" in line and "org:read" in line and "org:ci" in line
    assert "permission denied" in repos_refused_warning("acme", None)
