"""`set-commits --mode auto` (the default of `set-commits` and `run`) on the real Sentry 23.7.1
(issue #21 follow-up): an org:ci token may not list the organization's repositories there
(403, `api/bases/organization.py` OrganizationIntegrationsLoosePermission GET has no org:ci on
23.7.1), sentry-cli's `set-commits --local` then fails; ours associates the local history with
one warning naming the scope for refs. With org:read the list is answered (no integration
here: an empty list, so the local history too, without a warning)."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest
from tests.helpers import commit, git, make_repo, run_cli
from tests.realserver.conftest import ORG, REAL, ServerLog, token
from tests.realserver.test_real_sentry_cli import FIXTURES, REPOS, api_get, ok, version

pytestmark = [*REAL, pytest.mark.slow]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """Three commits (the last unique) and a GitHub remote, as a CI checkout has."""
    path = tmp_path / "repo"
    make_repo(path, commits=2)
    commit(path, {"unique.txt": uuid.uuid4().hex}, "unique commit")
    git(path, "remote", "add", "origin", "https://github.com/acme/web.git")
    shutil.copytree(FIXTURES / "dist", path / "dist")
    return path


def warnings_of(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning:")]


def test_auto_with_an_org_ci_token_associates_the_local_history(
    real_env: dict[str, str], repo: Path, server_log: ServerLog
) -> None:
    server_log.allow(403, REPOS)  # provoked: 23.7.1's answer to org:ci, by design of the test
    name = version()
    checked = ok(run_cli(["check", name, "-e", "production"], real_env, cwd=repo))
    assert "falls back to local history" in checked.stdout
    ok(run_cli(["new", name], real_env, cwd=repo))
    done = ok(run_cli(["set-commits", name, "--ignore-missing"], real_env, cwd=repo))
    ours = warnings_of(done.stderr)
    assert [w for w in ours if "repositories" in w] == ours[:1]
    assert "local git history" in ours[0] and "org:read" in ours[0]
    assert "Associated 3 commit(s)" in done.stdout
    release = api_get(f"releases/{name}/")
    assert release["commitCount"] == 3
    assert {c["repository"]["name"] for c in api_get(f"releases/{name}/commits/")} == {"acme/web"}
    refusals = [h for h in server_log.hits("sentry-release") if h.status >= 400]
    assert [(h.status, h.path) for h in refusals] == [
        (403, f"/api/0/organizations/{ORG}/repos/")
    ] * 2


def test_run_with_its_default_mode_and_an_org_ci_token(
    real_env: dict[str, str], repo: Path, server_log: ServerLog
) -> None:
    server_log.allow(403, REPOS)
    name = version()
    args = ["run", name, "--ignore-missing", "--sourcemaps", "dist", "-e", "production", "--json"]
    done = ok(run_cli(args, real_env, cwd=repo, timeout=180))
    assert json.loads(done.stdout)["deploy_id"]
    release = api_get(f"releases/{name}/")
    assert release["dateReleased"] and release["commitCount"] == 3
    assert sum("org:read" in w for w in warnings_of(done.stderr)) == 1


def test_auto_with_an_org_read_token_lists_the_repositories(
    real_env: dict[str, str], repo: Path, server_log: ServerLog
) -> None:
    """The scope the warning names is answered on 23.7.1: no 403, no warning."""
    env = {**real_env, "SENTRY_AUTH_TOKEN": token("orgread")}
    name = version()
    ok(run_cli(["new", name], env, cwd=repo))
    done = ok(run_cli(["set-commits", name, "--mode", "auto", "--ignore-missing"], env, cwd=repo))
    assert not [w for w in warnings_of(done.stderr) if "repositories" in w]
    assert "no repositories are connected" in done.stderr
    assert api_get(f"releases/{name}/")["commitCount"] == 3
    assert any(h.path.endswith("/repos/") and h.status == 200 for h in server_log.hits())
