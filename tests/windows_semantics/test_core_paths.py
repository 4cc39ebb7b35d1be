"""The core paths with Windows semantics (#27): inject, upload, `run` and the action's entry
point, each in a Python where `fcntl`, `os.geteuid`, `os.fchown`, `os.fchmod`, `O_NONBLOCK`
... are missing and `msvcrt.locking` is what locks (sitecustomize.py here), against the
stand-in. Real subprocesses: slow."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sentry_standin import DevServer
from tests.action.test_runner import run_step
from tests.helpers import ORG, TOKEN, cli_env, make_repo
from tests.windows_semantics.mode import windows_env

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sourcemaps" / "dist"
pytestmark = pytest.mark.slow


def cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sentry_release", *args],
        env=windows_env(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def work(tmp_path: Path) -> Path:
    repo = tmp_path / "work"
    make_repo(repo, commits=2)
    shutil.copytree(FIXTURES, repo / "dist")
    return repo


def debug_ids(dist: Path) -> dict[str, str]:
    return {
        p.name: json.loads(p.read_text())["debug_id"]
        for p in sorted(dist.glob("*.map"))
        if "debug_id" in json.loads(p.read_text())
    }


def test_the_mode_hides_what_windows_lacks(tmp_path: Path) -> None:
    probe = (
        "import os, sys\n"
        "missing = [n for n in ('geteuid', 'fchown', 'fchmod', 'O_NONBLOCK') if hasattr(os, n)]\n"
        "try:\n    import fcntl\nexcept ModuleNotFoundError:\n    fcntl = None\n"
        "print(missing, fcntl, 'msvcrt' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env=windows_env({"PATH": "/usr/bin:/bin"}),
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "[] None True"


def test_inject_twice_then_upload(server: DevServer, work: Path, tmp_path: Path) -> None:
    env = cli_env(server.url, home=tmp_path)
    first = cli(["inject", "dist"], env, work)
    assert first.returncode == 0, first.stdout + first.stderr
    ids = debug_ids(work / "dist")
    assert ids and all(ids.values())
    again = cli(["inject", "dist"], env, work)  # idempotent: the same ids, nothing rewritten
    assert again.returncode == 0, again.stderr
    assert debug_ids(work / "dist") == ids
    assert not list((work / "dist").glob(".*.tmp"))
    up = cli(["upload-sourcemaps", "1.0", "dist"], env, work)
    assert up.returncode == 0, up.stdout + up.stderr
    assert any(r["path"].endswith("/artifactbundle/assemble/") for r in server.store.requests)


def test_run_creates_the_release_with_its_maps(
    server: DevServer, work: Path, tmp_path: Path
) -> None:
    env = cli_env(server.url, home=tmp_path)
    done = cli(["run", "--sourcemaps", "dist", "--env", "production"], env, work)
    assert done.returncode == 0, done.stdout + done.stderr
    releases = [r for r in server.store.requests if r["path"].endswith("/releases/")]
    assert releases and debug_ids(work / "dist")


def test_the_action_entry_point(server: DevServer, work: Path, tmp_path: Path) -> None:
    run = run_step(
        work,
        tmp_path,
        {"url": server.url, "org": ORG, "projects": "web", "sourcemaps": "dist"},
        env=windows_env({"SENTRY_AUTH_TOKEN": TOKEN}),
    )
    assert run.code == 0, run.stdout + run.stderr
    assert run.outputs["bundle_ids"] and run.outputs["release"]
    assert debug_ids(work / "dist")
