"""The stand-in's fidelity, checked by a client nobody here wrote: the real sentry-cli."""

from __future__ import annotations

import subprocess
from pathlib import Path

import requests

from sentry_standin import DevServer
from tests.helpers import NEEDS_SENTRY_CLI, ORG, SENTRY_CLI, TOKEN

pytestmark = NEEDS_SENTRY_CLI


def sentry_cli(
    env: dict[str, str], *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real binary against the stand-in."""
    assert SENTRY_CLI is not None
    return subprocess.run(
        [SENTRY_CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_release_sequence_runs_unchanged(server: DevServer, env: dict[str, str]) -> None:
    for args in (
        ("releases", "new", "4.5.6"),
        ("releases", "new", "4.5.6"),
        ("releases", "finalize", "4.5.6"),
        ("deploys", "new", "-r", "4.5.6", "-e", "production", "-n", "canary"),
        ("deploys", "list", "-r", "4.5.6"),
        ("releases", "info", "4.5.6"),
        ("info",),
    ):
        done = sentry_cli(env, *args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    listing = sentry_cli(env, "deploys", "list", "-r", "4.5.6").stdout
    assert "production" in listing and "canary" in listing
    headers = {"Authorization": f"Bearer {TOKEN}"}
    release = requests.get(
        f"{server.url}api/0/organizations/{ORG}/releases/4.5.6/", headers=headers, timeout=10
    ).json()
    assert release["dateReleased"] is not None
    assert release["deployCount"] == 1


def test_sentry_cli_reports_stand_in_auth_errors(server: DevServer, env: dict[str, str]) -> None:
    done = sentry_cli({**env, "SENTRY_AUTH_TOKEN": "bad"}, "releases", "new", "1.0")
    assert done.returncode != 0
    assert "401" in done.stderr or "Invalid token" in done.stderr
