"""Plays the GitHub runner: action.yml's inputs as INPUT_* (defaults included), the GITHUB_*
variables and files, `python entrypoint.py` in a subprocess, against the stand-in over HTTP."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from sentry_release.runtime import TIME_SCALE_ENV
from sentry_standin import DevServer
from tests.action.runner import log_groups
from tests.action.test_action import parse_outputs
from tests.helpers import GIT_ENV, ORG, TIME_SCALE, TOKEN, make_repo, run_action

ROOT = Path(__file__).parents[2]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))


@dataclass
class RunnerRun:
    """What a step run leaves behind."""

    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str

    @property
    def everything(self) -> str:
        return self.stdout + self.stderr + json.dumps(self.outputs) + self.summary


def input_env(given: dict[str, str]) -> dict[str, str]:
    """INPUT_* as the runner sets them for a docker action: every declared input, the `with:`
    value or the default or empty; the name upper-cased, spaces to `_`, `-` kept."""
    unknown = set(given) - set(ACTION["inputs"])
    assert not unknown, f"not inputs of action.yml: {unknown}"
    env = {}
    for name, meta in ACTION["inputs"].items():
        value = given.get(name, meta.get("default", ""))
        env["INPUT_" + name.upper().replace(" ", "_")] = str(value)
    return env


def run_step(
    workspace: Path,
    tmp_path: Path,
    inputs: dict[str, str],
    *,
    env: dict[str, str] | None = None,
    ref: str = "refs/heads/main",
    event: dict[str, Any] | None = None,
    command: list[str] | None = None,
    process: bool = False,
    merged: bool = False,
) -> RunnerRun:
    """Run the entry point the way the runner runs the container: in this process with the
    runner's environment (`helpers.run_action`), as `python entrypoint.py` in a subprocess
    with `process=True` (slow tests), or `command` instead (the composite's run step)."""
    files = tmp_path / "_runner_file_commands"
    files.mkdir(exist_ok=True)
    output, summary = files / "set_output", files / "step_summary"
    output.write_text("")
    summary.write_text("")
    event_path = files / "event.json"
    event_path.write_text(json.dumps(event or {"ref": ref}))
    home = tmp_path / "github_home"
    home.mkdir(exist_ok=True)
    sha = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=workspace, capture_output=True, text=True, check=True
    ).stdout.strip()
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SENTRY_", "GITHUB_", "INPUT_", "RUNNER_")) and k != "CI"
    }
    runner = {
        "HOME": str(home),
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_SHA": sha,
        "GITHUB_REF": ref,
        "GITHUB_REF_TYPE": "tag" if ref.startswith("refs/tags/") else "branch",
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_REPOSITORY": "acme/web",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "RUNNER_OS": "Linux",
        TIME_SCALE_ENV: str(TIME_SCALE),
    }
    full = {**base, **GIT_ENV, **runner, **input_env(inputs), **(env or {})}
    if command is None and not process:
        # entrypoint.py's main, in this process; merged: stderr into stdout (the log's order)
        done = run_action(full, cwd=workspace, merged=merged)
    else:
        done = subprocess.run(
            command or [sys.executable, str(ROOT / "entrypoint.py")],
            cwd=workspace,
            env=full,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merged else subprocess.PIPE,  # merged: the log's order
            text=True,
            timeout=60,
        )
    return RunnerRun(
        done.returncode,
        done.stdout,
        done.stderr or "",
        parse_outputs(output.read_text()),
        summary.read_text(),
    )


def read(server: DevServer, path: str) -> requests.Response:
    return requests.get(
        f"{server.url}api/0{path}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    make_repo(path, commits=2)
    return path


@pytest.mark.parametrize(
    "process",
    [False, pytest.param(True, marks=pytest.mark.slow, id="entrypoint.py as a process")],
    ids=["in process", "entrypoint.py as a process"],
)
def test_runner_run_creates_finalizes_deploys_and_reports(
    server: DevServer, workspace: Path, tmp_path: Path, process: bool
) -> None:
    run = run_step(
        workspace,
        tmp_path,
        {
            "url": server.url,
            "org": ORG,
            "projects": "web api",
            "set_commits": "skip",
            "environment": "production",
            "deploy_name": "blue",
            "deploy_url": "https://example.com",
            "started_at": "2024-05-01T12:00:00Z",
            "release_from": "tag",
        },
        env={"SENTRY_AUTH_TOKEN": TOKEN},
        ref="refs/tags/v1.4.0",
        process=process,
    )
    assert run.code == 0, run.stdout + run.stderr
    # the token is masked before anything else and appears nowhere else
    first, rest = run.stdout.split("\n", 1)
    assert first == f"::add-mask::{TOKEN}"
    assert TOKEN not in rest + run.stderr + run.summary + json.dumps(run.outputs)
    # what Sentry holds, read back through its own endpoints
    release = read(server, f"/organizations/{ORG}/releases/v1.4.0/").json()
    assert release["dateReleased"] is not None
    assert sorted(p["slug"] for p in release["projects"]) == ["api", "web"]
    deploys = read(server, f"/organizations/{ORG}/releases/v1.4.0/deploys/").json()
    assert [(d["environment"], d["name"], d["url"]) for d in deploys] == [
        ("production", "blue", "https://example.com")
    ]
    assert deploys[0]["dateStarted"] == "2024-05-01T12:00:00Z"
    # outputs and summary
    assert run.outputs == {
        "release": "v1.4.0",
        "version": "v1.4.0",
        "commits": "",
        "bundle_ids": "",
        "deploy_id": deploys[0]["id"],
        "gate_verdict": "",
        "new_issues": "",
        "rollback_hint": "",
    }
    link = f"{server.url}organizations/{ORG}/releases/v1.4.0/"
    assert run.summary.startswith(f"## ✅ Sentry release [`v1.4.0`]({link})")
    assert "| Release name from | pushed tag (GITHUB_REF) |" in run.summary
    assert "| Environment | `production` |" in run.summary
    assert f"| Deploy id | {deploys[0]['id']} |" in run.summary
    # one collapsible group per step
    groups = [
        line[len("::group::") :] for line in run.stdout.splitlines() if line.startswith("::group::")
    ]
    assert groups == ["Create release", "Finalize release", "Record deploy"]
    assert run.stdout.count("::endgroup::") == 3


def test_token_input_and_kebab_input_names(
    server: DevServer, workspace: Path, tmp_path: Path
) -> None:
    """Token from the auth_token input; an input spelled INPUT_FOO-BAR is read too."""
    run = run_step(
        workspace,
        tmp_path,
        {
            "url": server.url,
            "org": ORG,
            "projects": "web",
            "auth_token": TOKEN,
            "release": "2.0.0",
            "finalize": "false",
        },
        env={
            "INPUT_SET-COMMITS": "skip",
            "INPUT_DEPLOY-NAME": "green",
            "INPUT_ENVIRONMENT": "staging",
        },
    )
    assert run.code == 0, run.stdout + run.stderr
    assert run.stdout.startswith(f"::add-mask::{TOKEN}\n")
    assert TOKEN not in run.stdout.split("\n", 1)[1] + run.stderr + run.summary
    release = read(server, f"/organizations/{ORG}/releases/2.0.0/").json()
    assert release["dateReleased"] is None  # finalize: false
    deploys = read(server, f"/organizations/{ORG}/releases/2.0.0/deploys/").json()
    assert [(d["environment"], d["name"]) for d in deploys] == [("staging", "green")]
    assert "| Finalized | no |" in run.summary


def test_bad_boolean_fails_before_any_request(
    server: DevServer, workspace: Path, tmp_path: Path
) -> None:
    run = run_step(
        workspace,
        tmp_path,
        {"url": server.url, "org": ORG, "projects": "web", "finalize": "maybe"},
        env={"SENTRY_AUTH_TOKEN": TOKEN},
    )
    assert run.code == 2
    assert "::error title=Invalid configuration::finalize must be true or false, got 'maybe'" in (
        run.stdout
    )
    assert server.store.requests == []
    assert "### ❌ Invalid configuration" in run.summary
    assert run.outputs == {}


def test_working_directory_escape_is_refused(
    server: DevServer, workspace: Path, tmp_path: Path
) -> None:
    run = run_step(
        workspace,
        tmp_path,
        {"url": server.url, "org": ORG, "projects": "web", "working_directory": "../.."},
        env={"SENTRY_AUTH_TOKEN": TOKEN},
    )
    assert run.code == 2
    assert "outside the workspace" in run.stdout
    assert server.store.requests == []


def test_sentry_error_fails_the_step_with_sentrys_words_and_a_summary(
    server: DevServer, workspace: Path, tmp_path: Path
) -> None:
    """A project Sentry does not know: exit 1, Sentry's detail, what was done so far."""
    run = run_step(
        workspace,
        tmp_path,
        {
            "url": server.url,
            "org": ORG,
            "projects": "nope",
            "set_commits": "skip",
            "release": "3.0",
            "environment": "production",
        },
        env={"SENTRY_AUTH_TOKEN": TOKEN},
    )
    assert run.code == 1, run.stdout + run.stderr
    errors = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 1 and "title=" in errors[0]
    assert "| Failed step | **Create release** |" in run.summary
    assert run.outputs["release"] == "3.0" and run.outputs["deploy_id"] == ""
    assert TOKEN not in run.everything.replace(f"::add-mask::{TOKEN}", "")


def test_working_directory_in_a_monorepo_checkout(server: DevServer, tmp_path: Path) -> None:
    """The checkout lives in a subdirectory of the workspace (actions/checkout `path:`)."""
    workspace = tmp_path / "workspace"
    app = workspace / "apps" / "web"
    shas = make_repo(app, commits=1)
    run = run_step(
        app,
        tmp_path,
        {
            "url": server.url,
            "org": ORG,
            "projects": "web",
            "set_commits": "skip",
            "working_directory": "apps/web",
        },
        env={"SENTRY_AUTH_TOKEN": TOKEN, "GITHUB_WORKSPACE": str(workspace)},
    )
    assert run.code == 0, run.stdout + run.stderr
    assert run.outputs["release"] == shas[-1]
    assert read(server, f"/organizations/{ORG}/releases/{shas[-1]}/").status_code == 200


def test_default_set_commits_associates_the_history_and_reports_it(
    server: DevServer, workspace: Path, tmp_path: Path
) -> None:
    """set_commits left empty: auto, no repository integration, so local history."""
    run = run_step(
        workspace,
        tmp_path,
        {"url": server.url, "org": ORG, "projects": "web", "release": "4.0"},
        env={"SENTRY_AUTH_TOKEN": TOKEN},
    )
    assert run.code == 0, run.stdout + run.stderr
    held = read(server, f"/organizations/{ORG}/releases/4.0/commits/").json()
    assert len(held) == 2
    assert run.outputs["commits"] == "2"
    assert "### Commits (2)" in run.summary
    head = held[0]["id"]
    assert re.search(
        rf"\| `[^`]+` \| local \| \(first release\) \| `{head[:12]}` \| 2 \|", run.summary
    ), run.summary
    assert "::group::Associate commits" in run.stdout


def test_manual_commits_from_repo_commit_previous_commit(server: DevServer, tmp_path: Path) -> None:
    from sentry_standin.commits import add_repo

    origin = tmp_path / "origin"
    shas = make_repo(origin, commits=4)
    add_repo(server.store, ORG, "acme/web", f"file://{origin}")
    run = run_step(
        origin,
        tmp_path,
        {
            "url": server.url,
            "org": ORG,
            "projects": "web",
            "release": "5.0",
            "repo": "acme/web",
            "commit": shas[3],
            "previous_commit": shas[1],
        },
        env={"SENTRY_AUTH_TOKEN": TOKEN},
    )
    assert run.code == 0, run.stdout + run.stderr
    held = read(server, f"/organizations/{ORG}/releases/5.0/commits/").json()
    assert [c["id"] for c in held] == [shas[3], shas[2]]
    # Sentry fetches the commits of refs in the background: no count is claimed for them.
    assert run.outputs["commits"] == ""
    row = f"| `acme/web` | refs | `{shas[1][:12]}` | `{shas[3][:12]}` | fetched by Sentry |"
    assert row in run.summary


def test_log_groups_hold_their_steps_lines_in_the_order_the_steps_ran(
    server: DevServer, workspace: Path, tmp_path: Path
) -> None:
    """The log as the runner shows it (stdout and stderr in one stream): a group per step that
    printed something, opened before its first line and closed after its last, none empty;
    the commits step's held lines in its own group, after the source map steps it ran beside."""
    dist = workspace / "dist"
    dist.mkdir()
    (dist / "app.min.js").write_text("function a(){}\n//# sourceMappingURL=app.min.js.map\n")
    (dist / "app.min.js.map").write_text(
        json.dumps({"version": 3, "sources": ["a.js"], "names": [], "mappings": "AAAA"})
    )
    run = run_step(
        workspace,
        tmp_path,
        {
            "url": server.url,
            "org": ORG,
            "projects": "web",
            "release": "5.0",
            "set_commits": "local",
            "sourcemaps": "dist",
            "environment": "production",
        },
        env={"SENTRY_AUTH_TOKEN": TOKEN},
        merged=True,
    )
    assert run.code == 0, run.stdout
    groups = log_groups(run.stdout)
    assert [name for name, _ in groups] == [
        "Create release",
        "Inject debug IDs",
        "Upload source maps",
        "Associate commits",
        "Finalize release",
        "Record deploy",
    ]
    lines = dict(groups)
    assert all(lines.values()), groups  # no empty group
    assert lines["Create release"] == ["Created release 5.0 (web)"]
    assert lines["Finalize release"] == ["Finalized release 5.0"]
    assert lines["Record deploy"][-1].startswith("Recorded deploy ")
    commits = lines["Associate commits"]
    assert commits[-1] == "Associated 2 commit(s) with release 5.0"
    assert any(line.startswith("repository ") for line in commits)  # the table, in its group
    assert any(line.startswith("Uploaded 2 file(s)") for line in lines["Upload source maps"])
