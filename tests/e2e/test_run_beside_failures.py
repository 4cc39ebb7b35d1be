"""`run` with failures both in the upload and in the commits step beside it: every failure is
reported, the commits thread is joined before the run ends (no request after), and the exit
code is the worst of the two."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sentry_standin import DevServer, Store
from sentry_standin.faults import FaultPlan
from tests.helpers import ORG, PROJECTS, TOKEN, cli_env, make_repo, run_cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sourcemaps"
RUN = ["run", "1.0", "--mode", "local", "--no-deploy", "--sourcemaps", "dist"]


@pytest.mark.slow
def test_both_failures_are_reported_and_the_worst_code_wins(tmp_path: Path) -> None:
    work = tmp_path / "work"
    make_repo(work, commits=3)
    shutil.copytree(FIXTURES / "dist", work / "dist")
    # the upload fails (400: exit 1); the commits PUT is refused (403: exit 2)
    plan = FaultPlan.parse("POST */artifactbundle/assemble/=400; PUT */releases/1.0/=403")
    with DevServer(Store(orgs=(ORG,), projects=PROJECTS, tokens=(TOKEN,)), faults=plan) as srv:
        env = {**cli_env(srv.url, home=tmp_path), "SENTRY_RELEASE_RETRY_BUDGET": "1"}
        done = run_cli(RUN, env, cwd=work)
        requests_at_exit = len(srv.store.requests)
        errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
        assert done.returncode == 2, done.stderr
        assert len(errors) == 1 and "Traceback" not in done.stderr
        assert "Upload source maps: " in errors[0] and "assemble/" in errors[0]
        assert "Associate commits: " in errors[0] and "403" in errors[0]
    assert len(srv.store.requests) == requests_at_exit  # nothing sent once the run ended
