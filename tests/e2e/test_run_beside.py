"""`run` associates commits beside inject and upload (#16): the log keeps one group per step,
and a failure of the commits step is reported as its own, after the upload it overlapped."""

from __future__ import annotations

import shutil
from pathlib import Path

from sentry_standin import DevServer, Store
from sentry_standin.faults import FaultPlan
from tests.helpers import ORG, PROJECTS, TOKEN, cli_env, make_repo, run_cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sourcemaps"
RUN = ["run", "1.0", "--mode", "local", "--no-deploy", "--sourcemaps", "dist"]


def checkout(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    make_repo(work, commits=3)
    shutil.copytree(FIXTURES / "dist", work / "dist")
    return work


def test_commits_are_associated_beside_the_upload_in_a_group_of_their_own(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    work = checkout(tmp_path)
    done = run_cli(RUN, env, cwd=work)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    headings = [line for line in lines if line.startswith("==> ")]
    assert headings == [
        "==> Create release",
        "==> Inject debug IDs",
        "==> Upload source maps",
        "==> Associate commits",
        "==> Finalize release",
    ], done.stderr
    paths = [r["path"] for r in server.store.requests]
    assert any(p.endswith("/previous-with-commits/") for p in paths)
    assert any(p.endswith("/artifactbundle/assemble/") for p in paths)
    release = server.store.release(ORG, "1.0")
    assert release is not None and release["dateReleased"] is not None
    assert len(release.get("commits", [])) == 3


def test_a_commits_failure_beside_the_upload_stops_the_run_with_its_own_error(
    tmp_path: Path,
) -> None:
    work = checkout(tmp_path)
    plan = FaultPlan.parse("GET */previous-with-commits/=500")
    with DevServer(Store(orgs=(ORG,), projects=PROJECTS, tokens=(TOKEN,)), faults=plan) as srv:
        env = {**cli_env(srv.url, home=tmp_path), "SENTRY_RELEASE_RETRY_BUDGET": "1"}
        done = run_cli(RUN, env, cwd=work)
        assert done.returncode == 1, done.stderr
        errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and "previous-with-commits/" in errors[0], done.stderr
        assert "500" in errors[0] and "Traceback" not in done.stderr
        paths = [r["path"] for r in srv.store.requests]
        assert any(p.endswith("/artifactbundle/assemble/") for p in paths)  # it overlapped
        release = srv.store.release(ORG, "1.0")
        assert release is not None and release["dateReleased"] is None  # nothing after it
