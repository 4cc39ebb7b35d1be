"""The gate's reads and the upload on both servers the stand-in plays (issue #21): today's
Sentry (default mode) and self-hosted 23.7.1 (mode `self-hosted-23.7`, held to the real
server's recorded answers by tests/standin/test_differential.py)."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from sentry_release.sentry.api import SentryApi
from sentry_release.sentry.gate_reads import Reads
from sentry_standin import DevServer, Options, Store
from tests.helpers import ORG, PROJECTS, TOKEN, cli_env, make_repo, run_cli

READ_TOKEN = "reader-token=event:read,org:read,project:read"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sourcemaps"
MODES = {"today": frozenset(), "self-hosted-23.7": frozenset({"self-hosted-23.7"})}


def server(mode: str) -> DevServer:
    store = Store(orgs=(ORG,), projects=PROJECTS, tokens=(TOKEN, READ_TOKEN))
    return DevServer(store, options=Options(modes=MODES[mode]))


@pytest.mark.parametrize("mode", sorted(MODES))
def test_every_gate_read_answers_on_both(mode: str) -> None:
    with server(mode) as srv:
        SentryApi(srv.url, TOKEN).create_release(ORG, "1.0", list(PROJECTS))
        reads = Reads(SentryApi(srv.url, "reader-token"), ORG, "production")
        reads.bind_projects("1.0", ())
        end = reads.now()
        start = end - timedelta(minutes=10)
        assert reads.error_series("1.0", start, end, 30).total() == 0
        assert reads.error_series("1.0", start, end, 30, dataset="transactions").total() == 0
        assert reads.session_series("1.0", start, end, 30) is None
        assert reads.serving(start, end, 30) == []
        assert reads.outcomes(start, end).accepted == 0
        refused = [(r["path"], r["status"]) for r in srv.store.requests if r["status"] >= 400]
    older = mode == "self-hosted-23.7"
    assert reads.fallbacks.legacy_dataset is older
    assert reads.fallbacks.minute_intervals is older
    # 23.7: the first events-stats and the first sessions read are refused, then learnt
    assert sorted(p.rsplit("/", 2)[-2] for p, _ in refused) == (
        ["events-stats", "sessions"] if older else []
    )


@pytest.mark.parametrize("mode", sorted(MODES))
def test_the_upload_succeeds_on_both(mode: str, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, commits=1)
    shutil.copytree(FIXTURES / "dist", repo / "dist")
    with server(mode) as srv:
        env = cli_env(srv.url, home=tmp_path)
        assert run_cli(["new", "1.0"], env, cwd=repo).returncode == 0
        done = run_cli(["upload-sourcemaps", "1.0", "dist", "--wait"], env, cwd=repo)
        refused = [(r["path"], r["status"]) for r in srv.store.requests if r["status"] >= 400]
        bundles = srv.store.data.get("artifact_bundles") or {}
    assert done.returncode == 0, done.stdout + done.stderr
    assert "state ok" in done.stdout
    assert refused == [] and bundles
