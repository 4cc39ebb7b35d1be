"""The release sequence under injected faults ends in the same server state as without them.

Each case runs the real CLI (new -> finalize -> deploy, and `run` with set_commits skip)
against an in-process stand-in whose FaultPlan injects one fault class, then reads the
state back through Sentry's read endpoints: one release, finalized, one deploy. Nothing
lost, nothing doubled. Runs past the retry budget fail with exit 1 and a precise message.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from sentry_release.devserver import DevServer, Store
from sentry_release.devserver.faults import FaultPlan
from tests.helpers import ORG, PROJECTS, TOKEN, cli_env, run_cli

VERSION = "2.4.0"
REL = "/organizations/*/releases/"
ONE = f"{REL}*/"
DEPLOYS = f"{REL}*/deploys/"
FAST = {"SENTRY_RELEASE_RETRY_BUDGET": "20"}

# fault class -> (spec, the fault that must have fired).
# To extend to later steps: add their endpoints' rules here (e.g. `POST */chunk-upload/*=503@1`,
# `chunk/*=drop@1`, `assemble/*=stuck@1-2`, `PUT {ONE}=reset-after@2` for set_commits), add a
# runner that exercises them (`run --mode local --sourcemaps dist`), and add what they leave
# behind (commit count, bundles per checksum) to `snapshot` and `EXPECTED`.
FAULTS: dict[str, tuple[str, str]] = {
    "429 with Sentry's reset header": (f"POST {REL}=429:1@1", "429"),
    "429 with Retry-After seconds": (f"PUT {ONE}=429-retry-after:1@1", "429-retry-after"),
    "429 with Retry-After date": (f"POST {DEPLOYS}=429-date:1@1", "429-date"),
    "429 without headers": (f"PUT {ONE}=429-bare@1", "429-bare"),
    "500 on finalize": (f"PUT {ONE}=500@1", "500"),
    "502 twice on create": (f"POST {REL}=502@1-2", "502"),
    "503 on deploy create": (f"POST {DEPLOYS}=503@1", "503"),
    "504 on deploy list": (f"GET {DEPLOYS}=504@1", "504"),
    "latency": (f"{REL}*=delay:0.2@1,3", "delay:0.2"),
    "latency beyond the read timeout": (f"GET {DEPLOYS}=delay:1.5@1", "delay:1.5"),
    "reset before handling (create)": (f"POST {REL}=reset@1", "reset"),
    "reset before handling (deploy)": (f"POST {DEPLOYS}=reset@1", "reset"),
    "reset after handling (create)": (f"POST {REL}=reset-after@1", "reset-after"),
    "reset after handling (finalize)": (f"PUT {ONE}=reset-after@1", "reset-after"),
    "reset after handling (deploy)": (f"POST {DEPLOYS}=reset-after@1", "reset-after"),
    "timeout after handling (deploy)": (f"POST {DEPLOYS}=timeout:3@1", "timeout:3"),
    "seeded mix at 30%": ("seed=7;*=503@rate:0.3", "503"),
}


def read(url: str, path: str) -> Any:
    """State through Sentry's read endpoints."""
    response = requests.get(
        f"{url}api/0{path}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    response.raise_for_status()
    return response.json()


def snapshot(url: str) -> list[dict[str, Any]]:
    """What a user would check: releases, finalized or not, their deploys (ids left out)."""
    state = []
    for release in read(url, f"/organizations/{ORG}/releases/"):
        deploys = read(url, f"/organizations/{ORG}/releases/{release['version']}/deploys/")
        state.append(
            {
                "version": release["version"],
                "projects": sorted(p["slug"] for p in release["projects"]),
                "finalized": release["dateReleased"] is not None,
                "deploys": sorted((d["environment"], d["name"] or "") for d in deploys),
            }
        )
    return state


EXPECTED = [
    {
        "version": VERSION,
        "projects": ["web"],
        "finalized": True,
        "deploys": [("production", "")],
    }
]


def sequence(env: dict[str, str], cwd: Path) -> list[subprocess.CompletedProcess[str]]:
    """new -> finalize -> deploy, each a separate CLI run as in a CI job."""
    return [
        run_cli(["new", VERSION, "--timeout", "1"], env, cwd=cwd),
        run_cli(["finalize", VERSION, "--timeout", "1"], env, cwd=cwd),
        run_cli(["deploy", VERSION, "-e", "production", "--timeout", "1"], env, cwd=cwd),
    ]


def pipeline(env: dict[str, str], cwd: Path) -> list[subprocess.CompletedProcess[str]]:
    """`run` with set_commits skip: create, finalize, deploy in one process."""
    return [
        run_cli(
            ["run", VERSION, "--mode", "skip", "-e", "production", "--timeout", "1"], env, cwd=cwd
        )
    ]


@pytest.fixture
def faulty(request: pytest.FixtureRequest) -> Iterator[tuple[DevServer, FaultPlan]]:
    plan = FaultPlan.parse(request.param)
    with DevServer(Store(orgs=(ORG,), projects=PROJECTS, tokens=(TOKEN,)), faults=plan) as srv:
        yield srv, plan


def test_fault_free_run_is_the_baseline(server: DevServer, env: dict[str, str], tmp_path: Path):
    for runner in (sequence, pipeline):
        for done in runner({**env, **FAST}, tmp_path):
            assert done.returncode == 0, done.stderr
    assert snapshot(server.url) == EXPECTED


@pytest.mark.parametrize("runner", [sequence, pipeline], ids=["new-finalize-deploy", "run"])
@pytest.mark.parametrize(
    ("faulty", "fired"), list(FAULTS.values()), ids=list(FAULTS), indirect=["faulty"]
)
def test_faults_leave_the_same_state_as_a_fault_free_run(
    faulty: tuple[DevServer, FaultPlan], fired: str, runner: Any, tmp_path: Path
) -> None:
    server, plan = faulty
    env = {**cli_env(server.url, home=tmp_path), **FAST}
    for done in runner(env, tmp_path):
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
    assert plan.fired(fired), f"the fault never fired: {plan.injected}"
    plan.disarm()
    assert snapshot(server.url) == EXPECTED


@pytest.mark.parametrize(
    ("faulty", "args", "message"),
    [
        (
            f"POST {REL}=503",
            ["new", VERSION],
            "POST /organizations/acme/releases/ failed with HTTP 503: "
            "Injected fault: HTTP 503 (service unavailable) (gave up after",
        ),
        (
            f"PUT {ONE}=429:60",
            ["finalize", VERSION],
            f"PUT /organizations/acme/releases/{VERSION}/ failed with HTTP 429: You are "
            "attempting to use this endpoint too frequently",
        ),
        (
            f"POST {DEPLOYS}=reset",
            ["deploy", VERSION, "-e", "production"],
            f"POST /organizations/acme/releases/{VERSION}/deploys/ connection failed: "
            "Connection reset by peer (gave up after",
        ),
    ],
    ids=["503 always", "429 far ahead", "reset always"],
    indirect=["faulty"],
)
def test_past_the_retry_budget_fails_with_exit_1_and_a_precise_message(
    faulty: tuple[DevServer, FaultPlan], args: list[str], message: str, tmp_path: Path
) -> None:
    server, plan = faulty
    env = {**cli_env(server.url, home=tmp_path), "SENTRY_RELEASE_RETRY_BUDGET": "1.5"}
    if args[0] != "new":
        server.store.add_org(ORG)
        plan.disarm()
        assert run_cli(["new", VERSION], env, cwd=tmp_path).returncode == 0
        plan.active = True
    done = run_cli(args, env, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: " + message), lines[0]
    assert "retry budget of 1.5s" in lines[0]
    plan.disarm()
    deploys = (
        read(server.url, f"/organizations/{ORG}/releases/{VERSION}/deploys/")
        if (args[0] == "deploy")
        else []
    )
    assert deploys == []  # a reset before handling recorded nothing, and nothing was doubled


def test_dev_server_faults_flag_in_a_subprocess(tmp_path: Path) -> None:
    """`sentry-release dev-server --faults` as a user would start it."""
    spec = (
        f"seed=3;POST {REL}=503@1;PUT {ONE}=429:1@1;POST {DEPLOYS}=reset-after@1;"
        f"GET {DEPLOYS}=502@2"
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sentry_release",
            "dev-server",
            "--port",
            "0",
            "--token",
            TOKEN,
            "--org",
            ORG,
            "--project",
            "web",
            "--faults",
            spec,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "listening on" in first, first + (proc.stderr.read() if proc.stderr else "")
        url = first.rsplit(" ", 1)[1].strip()
        env = {**cli_env(url, home=tmp_path), **FAST}
        for done in sequence(env, tmp_path):
            assert done.returncode == 0, done.stderr
        assert snapshot(url) == EXPECTED
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    assert proc.stderr is not None
    log = proc.stderr.read()
    assert "fault: 503 on POST /api/0/organizations/acme/releases/ (match 1 of" in log
    assert "fault: reset-after on POST" in log


def test_bad_fault_spec_is_refused_in_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sentry_release", "dev-server", "--faults", "POST /x=teapot"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: fault spec: 'POST /x=teapot': unknown fault 'teapot' (one of 429, 500, 502, "
        "503, 504, delay:S, reset, reset-after, timeout:S, drop, stuck)"
    ]


def test_rerunning_the_pipeline_changes_nothing(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    for _ in range(2):
        for done in pipeline({**env, **FAST}, tmp_path):
            assert done.returncode == 0, done.stderr
    assert "Deploy already recorded" in done.stdout
    assert snapshot(server.url) == EXPECTED
    posts = [r for r in server.store.requests if r["method"] == "POST" and "deploys" in r["path"]]
    assert len(posts) == 1


@pytest.mark.parametrize("faulty", [f"POST {DEPLOYS}=reset-after@2"], indirect=True)
def test_new_deploy_under_reset_after_handling_adds_exactly_one(
    faulty: tuple[DevServer, FaultPlan], tmp_path: Path
) -> None:
    """`--new` asks for a second deploy; the lost response must not make it a third."""
    server, plan = faulty
    env = {**cli_env(server.url, home=tmp_path), **FAST}
    for done in sequence(env, tmp_path):
        assert done.returncode == 0, done.stderr
    done = run_cli(["deploy", VERSION, "-e", "production", "--new"], env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert plan.fired("reset-after")
    plan.disarm()
    assert snapshot(server.url)[0]["deploys"] == [("production", ""), ("production", "")]
