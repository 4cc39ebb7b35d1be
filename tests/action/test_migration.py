"""getsentry/action-release 3.7's documented examples (its README's "Usage" and "Examples"),
their `with:` blocks and env unchanged, through our entry point as the runner runs it: each
succeeds against the stand-in and names the release as sentry-cli `propose-version` does
(action-release's naming) unless the example gives `release`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from sentry_standin import DevServer
from sentry_standin.commits import add_repo
from tests.action.test_runner import run_step
from tests.e2e.test_faults import make_checkout
from tests.e2e.test_propose_version import clean_env, needs_sentry_cli, sentry_cli_name
from tests.helpers import ORG, TOKEN

# Verbatim from action-release v3.7.0's README.md; `secrets.*` and `github.sha` are what the
# runner substitutes, `<previous_commit_sha>` the placeholder a user replaces.
USAGE = """
- name: Create Sentry release
  uses: getsentry/action-release@v3
  env:
    SENTRY_AUTH_TOKEN: ${{ secrets.SENTRY_AUTH_TOKEN }}
    SENTRY_ORG: ${{ secrets.SENTRY_ORG }}
    SENTRY_PROJECT: ${{ secrets.SENTRY_PROJECT }}
    # SENTRY_URL: https://sentry.io/
  with:
    environment: production
"""
EXAMPLES = {
    "usage": USAGE,
    "sourcemaps": """
- uses: getsentry/action-release@v3
  with:
    environment: 'production'
    sourcemaps: './dist'
""",
    "release": """
- uses: getsentry/action-release@v3
  with:
    environment: 'production'
    release: 'v1.0.1'
""",
    "self-hosted": """
- uses: getsentry/action-release@v3
  env:
    SENTRY_URL: https://sentry.example.com/
""",
    "manual commits": """
- uses: getsentry/action-release@v3
  with:
    set_commits: manual
    repo: your-org/your-repo
    commit: ${{ github.sha }}
    previous_commit: <previous_commit_sha>
""",
}
EVENTS = ("push", "pull_request")


def substitute(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace(key, value)
    assert "${{" not in text and "<previous" not in text, text
    return text


def git_sha(repo: Path, rev: str) -> str:
    done = subprocess.run(
        ["git", "rev-parse", rev], cwd=repo, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.mark.slow
@needs_sentry_cli
@pytest.mark.parametrize("event_name", EVENTS)
@pytest.mark.parametrize("example", list(EXAMPLES))
def test_action_release_examples_run_unchanged(
    server: DevServer, tmp_path: Path, example: str, event_name: str
) -> None:
    workspace = make_checkout(tmp_path)
    head, first = git_sha(workspace, "HEAD"), git_sha(workspace, "HEAD~2")
    values = {
        "${{ secrets.SENTRY_AUTH_TOKEN }}": TOKEN,
        "${{ secrets.SENTRY_ORG }}": ORG,
        "${{ secrets.SENTRY_PROJECT }}": "web",
        "${{ github.sha }}": head,
        "<previous_commit_sha>": first,
    }
    step = yaml.safe_load(substitute(EXAMPLES[example], values))[0]
    with_block = {k: str(v) for k, v in (step.get("with") or {}).items()}
    # The usage's env is the documented setup for every example; the stand-in is the Sentry.
    env = {k: str(v) for k, v in yaml.safe_load(substitute(USAGE, values))[0]["env"].items()}
    env.update({k: str(v) for k, v in (step.get("env") or {}).items()})
    env["SENTRY_URL"] = server.url
    if example == "manual commits":  # the repository a user's integration has
        add_repo(server.store, ORG, "your-org/your-repo", "https://github.com/your-org/your-repo")
    event: dict[str, Any] = {"ref": "refs/heads/main"}
    if event_name == "pull_request":
        event = {"pull_request": {"head": {"sha": first}, "base": {"sha": head}}}

    run = run_step(workspace, tmp_path, with_block, env=env, event=event)
    assert run.code == 0, run.stdout + run.stderr

    event_file = tmp_path / f"{event_name}.json"
    event_file.write_text(json.dumps(event), encoding="utf-8")
    theirs = sentry_cli_name(workspace, clean_env(tmp_path, {"GITHUB_EVENT_PATH": str(event_file)}))
    expected = with_block.get("release") or theirs
    assert run.outputs["release"] == run.outputs["version"] == expected
    if event_name == "pull_request" and "release" not in with_block:
        assert expected == first  # the pull request's head, as sentry-cli 2.56+ names it
    headers = {"Authorization": f"Bearer {TOKEN}"}
    base = f"{server.url}api/0/organizations/{ORG}/releases/{expected}/"
    release = requests.get(base, headers=headers, timeout=10).json()
    assert release["dateReleased"] is not None
    assert [p["slug"] for p in release["projects"]] == ["web"]
    deploys = requests.get(base + "deploys/", headers=headers, timeout=10).json()
    wanted = [with_block["environment"]] if "environment" in with_block else []
    assert [d["environment"] for d in deploys] == wanted
    if example == "sourcemaps":
        assert run.outputs["bundle_ids"]
