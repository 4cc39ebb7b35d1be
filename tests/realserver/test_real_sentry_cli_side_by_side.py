"""sentry-cli 2.x and 3.x beside sentry-release on the real Sentry 23.7.1 (issue #21), each
with the org:ci token: releases new, set-commits --local, finalize, deploys new, sourcemaps
inject and upload. Their results are recorded (.ci/real-sentry/sentry-cli-results.json, and
printed) and held to what 23.7.1 does with them: 2.58 succeeds throughout; 3.8.2's upload
fails, because it asks assemble before uploading and 23.7 answers `created` with no
`missingChunks` (api/endpoints/organization_artifactbundle_assemble.py), then "Not all chunks
available for assembling". Both fail `releases set-commits --local` with the org:ci token:
they list `GET /organizations/{org}/repos/` first, which needs org:read (403). Ours, on the
same files and commits, succeeds (test_real_sentry_cli.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from tests.helpers import GIT_ENV, SENTRY_CLI, make_repo, run_cli
from tests.realserver.conftest import ORG, REAL, REAL_URL, ServerLog, token

pytestmark = [*REAL, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "sourcemaps"
RESULTS = (
    Path(os.environ.get("REAL_SENTRY_DIR") or ROOT / ".ci" / "real-sentry")
    / "sentry-cli-results.json"
)
CLIENTS = {
    "2.x": ROOT / ".ci" / "sentry-cli-2" / "bin" / "sentry-cli",
    "3.x": Path(SENTRY_CLI) if SENTRY_CLI else Path("/nonexistent"),
}
# What 23.7.1 does with each client's steps: True = exit 0.
EXPECTED = {
    "2.x": {
        **dict.fromkeys(("new", "finalize", "deploy", "inject", "upload"), True),
        "set-commits": False,
    },
    "3.x": {
        **dict.fromkeys(("new", "finalize", "deploy", "inject"), True),
        "set-commits": False,
        "upload": False,
    },
}
WHY = {"set-commits": "http status: 403", "upload": "Not all chunks available"}


def summary(output: str) -> str:
    """sentry-cli's error line (its cause), else its last line."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    if "Caused by:" in lines[:-1]:
        return lines[lines.index("Caused by:") + 1][:300]
    errors = [line for line in lines if line.lower().startswith("error")]
    return ((errors[:1] or lines[-1:]) or [""])[0][:300]


def steps(client: str, version: str, dist: Path) -> dict[str, list[str]]:
    deploy = (
        ["releases", "deploys", version, "new", "-e", "production"]
        if client == "2.x"
        else ["deploys", "new", "-r", version, "-e", "production"]
    )
    return {
        "new": ["releases", "new", version, "-p", "web"],
        "set-commits": ["releases", "set-commits", version, "--local", "--ignore-missing"],
        "finalize": ["releases", "finalize", version, "-p", "web"],
        "deploy": deploy,
        "inject": ["sourcemaps", "inject", str(dist)],
        "upload": ["sourcemaps", "upload", "-p", "web", "--release", version, str(dist)],
    }


def record(client: str, results: dict[str, dict[str, object]]) -> None:
    found = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    found[client] = results
    RESULTS.write_text(json.dumps(found, indent=2, sort_keys=True))


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_sentry_cli_on_23_7(client: str, tmp_path: Path, server_log: ServerLog) -> None:
    binary = CLIENTS[client]
    if not binary.exists():
        pytest.skip(f"sentry-cli {client} not installed at {binary} (.ci/run installs it)")
    repo = tmp_path / "repo"
    make_repo(repo, commits=3)
    dist = tmp_path / "dist"
    shutil.copytree(FIXTURES / "dist", dist)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SENTRY_")},
        **GIT_ENV,
        "SENTRY_URL": REAL_URL,
        "SENTRY_AUTH_TOKEN": token("org"),
        "SENTRY_ORG": ORG,
        "HOME": str(tmp_path),
    }
    version = f"cli-{client}-{uuid.uuid4().hex[:8]}"
    results: dict[str, dict[str, object]] = {}
    for step, args in steps(client, version, dist).items():
        done = subprocess.run(
            [str(binary), *args], env=env, cwd=repo, capture_output=True, text=True, timeout=180
        )
        results[step] = {"exit": done.returncode, "says": summary(done.stderr + done.stdout)}
    record(client, results)
    print(json.dumps({client: results}, indent=2))
    assert {s: r["exit"] == 0 for s, r in results.items()} == EXPECTED[client], results
    for step, why in WHY.items():
        if not EXPECTED[client][step]:
            assert why in str(results[step]["says"]), results[step]


def test_ours_on_the_same_files(
    real_env: dict[str, str], tmp_path: Path, server_log: ServerLog
) -> None:
    """Recorded beside sentry-cli's: our upload of the same files, new release each time, and
    `set-commits` in both modes: `auto` meets the 403 on the repositories list that fails
    sentry-cli's `--local` and associates the local history (with a warning)."""
    server_log.allow(403, rf"^/api/0/organizations/{ORG}/repos/")  # auto's list, by design
    repo = tmp_path / "repo"
    make_repo(repo, commits=1)
    shutil.copytree(FIXTURES / "dist", repo / "dist")
    version = f"ours-{uuid.uuid4().hex[:8]}"
    results: dict[str, dict[str, object]] = {}
    for step, args in {
        "new": ["new", version],
        "inject": ["inject", "dist"],
        "set-commits": ["set-commits", version, "--mode", "local", "--ignore-missing"],
        "set-commits auto": ["set-commits", version, "--mode", "auto", "--ignore-missing"],
        "upload": ["upload-sourcemaps", version, "dist", "--wait"],
    }.items():
        done = run_cli(args, real_env, cwd=repo, timeout=180)
        lines = (done.stdout.strip() or done.stderr.strip()).splitlines()[-1:] or [""]
        results[step] = {"exit": done.returncode, "says": lines[0][:300]}
    record("sentry-release", results)
    assert all(r["exit"] == 0 for r in results.values()), results
