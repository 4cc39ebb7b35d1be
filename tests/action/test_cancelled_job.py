"""A cancelled job, for real: the action's entry point in its own process, SIGTERM sent while
the upload waits on a slow Sentry (the runner's cancel). One `::error`, every group closed,
outputs and a summary that says what was done; exit 143, no traceback."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sentry_standin import DevServer, Store
from sentry_standin.faults import FaultPlan
from tests.action.runner import ROOT
from tests.helpers import GIT_ENV, ORG, PROJECTS, TOKEN, make_repo

pytestmark = pytest.mark.slow
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sourcemaps"


def test_sigterm_during_the_upload(tmp_path: Path) -> None:
    work = tmp_path / "work"
    make_repo(work, commits=2)
    shutil.copytree(FIXTURES / "dist", work / "dist")
    files = tmp_path / "files"
    files.mkdir()
    plan = FaultPlan.parse("POST */chunk-upload/=delay:30")
    with DevServer(Store(orgs=(ORG,), projects=PROJECTS, tokens=(TOKEN,)), faults=plan) as srv:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("SENTRY_", "INPUT_"))}
        env = {
            **base,
            **GIT_ENV,
            "HOME": str(tmp_path),
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(work),
            "GITHUB_OUTPUT": str(files / "output"),
            "GITHUB_STEP_SUMMARY": str(files / "summary"),
            "INPUT_URL": srv.url,
            "INPUT_AUTH_TOKEN": TOKEN,
            "INPUT_ORG": ORG,
            "INPUT_PROJECTS": "web",
            "INPUT_RELEASE": "1.0",
            "INPUT_SET_COMMITS": "skip",
            "INPUT_SOURCEMAPS": "dist",
            "INPUT_ENVIRONMENT": "prod",
        }
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "entrypoint.py")],
            cwd=work,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # one stream, in order: the runner merges them too
            text=True,
        )
        assert proc.stdout is not None
        seen: list[str] = []
        for line in proc.stdout:  # wait until the upload has started
            seen.append(line)
            if "Bundled " in line or len(seen) > 500:
                break
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=30)
    log = "".join(seen) + rest
    assert proc.returncode == 143, log
    assert "Traceback" not in log
    errors = [line for line in log.splitlines() if line.startswith("::error")]
    assert errors == ["::error title=Cancelled::cancelled by SIGTERM during Upload source maps"]
    assert log.count("::group::") == log.count("::endgroup::")
    assert "release<<" in (files / "output").read_text()
    summary = (files / "summary").read_text()
    assert "(cancelled)" in summary.splitlines()[0]
    assert "| Done | Create release, Inject debug IDs |" in summary
