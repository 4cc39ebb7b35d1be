"""The release sequence under injected faults ends in the same server state as without them.

Each case runs the real CLI (new -> finalize -> deploy, and `run` with set_commits skip)
against an in-process stand-in whose FaultPlan injects one fault class, then reads the
state back through Sentry's read endpoints: one release, finalized, one deploy. Nothing
lost, nothing doubled. Runs past the retry budget fail with exit 1 and a precise message.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from sentry_release.redact import clear_secrets
from sentry_standin import DevServer, Store
from sentry_standin.chunks import artifact_bundles, blobs, upload_state
from sentry_standin.faults import FaultPlan
from tests.helpers import ORG, PROJECTS, TOKEN, cli_env, make_repo, run_cli

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
    # The deploy list is read only to recover a lost POST: fail both.
    "504 on deploy list": (f"POST {DEPLOYS}=503@1;GET {DEPLOYS}=504@1", "504"),
    "latency": (f"{REL}*=delay:0.2@1,3", "delay:0.2"),
    "latency beyond the read timeout": (f"PUT {ONE}=delay:1.5@1", "delay:1.5"),
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
    for done in sequence({**env, **FAST}, tmp_path):
        assert done.returncode == 0, done.stderr
    assert snapshot(server.url) == EXPECTED
    # `run` after the separate commands: the release stays one, the deploy step records again.
    for done in pipeline({**env, **FAST}, tmp_path):
        assert done.returncode == 0, done.stderr
    assert snapshot(server.url) == [{**EXPECTED[0], "deploys": [("production", "")] * 2}]


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


@pytest.mark.slow  # the dev server as a real process
def test_dev_server_faults_flag_in_a_subprocess(tmp_path: Path) -> None:
    """`sentry-release dev-server --faults` as a user would start it."""
    spec = (
        f"seed=3;POST {REL}=503@1;PUT {ONE}=429:1@1;POST {DEPLOYS}=reset-after@1;"
        f"GET {DEPLOYS}=502@1"
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


def test_rerunning_the_pipeline_records_a_deploy_per_run_and_nothing_else(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    # As action-release and `sentry-cli deploys new` do: a re-run job deploys again (so a
    # rollback A, B, A is recorded); the release, its projects and finalization stay one.
    for _ in range(2):
        for done in pipeline({**env, **FAST}, tmp_path):
            assert done.returncode == 0, done.stderr
    assert snapshot(server.url) == [{**EXPECTED[0], "deploys": [("production", "")] * 2}]
    posts = [r for r in server.store.requests if r["method"] == "POST" and "deploys" in r["path"]]
    assert len(posts) == 2


@pytest.mark.parametrize("faulty", [f"POST {DEPLOYS}=reset-after@2"], indirect=True)
def test_new_deploy_under_reset_after_handling_adds_exactly_one(
    faulty: tuple[DevServer, FaultPlan], tmp_path: Path
) -> None:
    """A second deploy step records a second deploy; its lost response must not make a third."""
    server, plan = faulty
    env = {**cli_env(server.url, home=tmp_path), **FAST}
    for done in sequence(env, tmp_path):
        assert done.returncode == 0, done.stderr
    done = run_cli(["deploy", VERSION, "-e", "production"], env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert plan.fired("reset-after")
    plan.disarm()
    assert snapshot(server.url)[0]["deploys"] == [("production", ""), ("production", "")]


# --- the whole pipeline: set-commits local, source maps, finalize, deploy -------------------

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sourcemaps"
CHUNK = "*/chunk-upload/"
ASSEMBLE = "*/artifactbundle/assemble/"
SMALL_CHUNKS = 2048  # the fixtures' bundle then travels as several chunks

# fault class -> (spec, the fault that must have fired), aimed at the later steps' endpoints.
PIPELINE_FAULTS: dict[str, tuple[str, str]] = {
    "429 with reset header (chunk upload)": (f"POST {CHUNK}=429:1@1", "429"),
    "500 on set-commits": (f"PUT {ONE}=500@1", "500"),
    "502 on assemble": (f"POST {ASSEMBLE}=502@2", "502"),
    "503 on chunk-upload options": (f"GET {CHUNK}=503@1", "503"),
    "504 on previous release": (f"GET {ONE}previous-with-commits/=504@1", "504"),
    "latency (chunks)": (f"POST {CHUNK}=delay:0.3@1-2", "delay:0.3"),
    "reset before handling (chunk upload)": (f"POST {CHUNK}=reset@1", "reset"),
    "reset after handling (set-commits)": (f"PUT {ONE}=reset-after@1", "reset-after"),
    "reset after handling (assemble)": (f"POST {ASSEMBLE}=reset-after@2", "reset-after"),
    "reset after handling (deploy)": (f"POST {DEPLOYS}=reset-after@1", "reset-after"),
    "chunk dropped": ("chunk/*=drop@2", "drop"),
    "assemble stuck briefly": ("assemble/*=stuck@2-3", "stuck"),
    "assemble stuck at its first answer": ("assemble/*=stuck@1", "stuck"),
}


def make_checkout(root: Path) -> Path:
    """A git checkout with three commits (fixed dates: the same shas every time) and the
    terser fixtures as its build output."""
    repo = root / "repo"
    make_repo(repo, commits=3)
    shutil.copytree(FIXTURES / "dist", repo / "dist")
    (repo / ".gitignore").write_text("dist/\n", encoding="utf-8")
    return repo


def full_pipeline(env: dict[str, str], repo: Path) -> subprocess.CompletedProcess[str]:
    """`run` doing every step: create, set-commits local, inject + upload, finalize, deploy."""
    # --wait: the stand-in assembles only while it is asked (Sentry does it in the
    # background), so the snapshot holds the bundle even when assembly was stuck at first.
    args = ["run", VERSION, "--mode", "local", "--sourcemaps", "dist", "-e", "production", "--wait"]
    return run_cli([*args, "--cwd", str(repo), "--timeout", "1"], env, cwd=repo)


def full_snapshot(server: DevServer) -> dict[str, Any]:
    """Releases and deploys, each release's commit ids, each bundle with its manifest, and
    how many bundles the server holds per content (checksum)."""
    url = server.url
    commits = {
        r["version"]: [
            c["id"] for c in read(url, f"/organizations/{ORG}/releases/{r['version']}/commits/")
        ]
        for r in read(url, f"/organizations/{ORG}/releases/")
    }
    bundles = []
    for listed in read(url, f"/projects/{ORG}/web/artifact-bundles/"):
        files = read(url, f"/projects/{ORG}/web/artifact-bundles/{listed['bundleId']}/files/")
        bundles.append(
            {
                "bundleId": listed["bundleId"],
                "release": listed["release"],
                "fileCount": listed["fileCount"],
                "files": files["files"],
            }
        )
    per_content: dict[str, int] = {}
    for bundle in artifact_bundles(server.store, ORG):
        per_content[bundle["checksum"]] = per_content.get(bundle["checksum"], 0) + 1
    return {
        "releases": snapshot(url),
        "commits": commits,
        "bundles": bundles,
        "bundles per content": sorted(per_content.values()),
    }


@pytest.fixture(scope="module")
def fault_free(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The state a fault-free full pipeline leaves: what every faulty run must equal."""
    root = tmp_path_factory.mktemp("fault-free")
    with DevServer(Store(orgs=(ORG,), projects=PROJECTS, tokens=(TOKEN,))) as srv:
        upload_state(srv.store)["chunkSize"] = SMALL_CHUNKS
        done = full_pipeline({**cli_env(srv.url, home=root), **FAST}, make_checkout(root))
        assert done.returncode == 0, done.stderr
        state = full_snapshot(srv)
    clear_secrets()
    return state


def test_fault_free_full_pipeline_holds_everything(fault_free: dict[str, Any]) -> None:
    """The baseline itself: one release, finalized, 3 commits, one bundle of 9 files, one
    deploy (so equality with it below means nothing lost and nothing doubled)."""
    assert fault_free["releases"] == EXPECTED
    assert len(fault_free["commits"][VERSION]) == 3
    (bundle,) = fault_free["bundles"]
    assert (bundle["release"], bundle["fileCount"]) == (VERSION, 9)
    assert all(f["debugId"] for f in bundle["files"])
    assert fault_free["bundles per content"] == [1]


@pytest.mark.parametrize(
    ("faulty", "fired"),
    list(PIPELINE_FAULTS.values()),
    ids=list(PIPELINE_FAULTS),
    indirect=["faulty"],
)
def test_full_pipeline_under_faults_equals_the_fault_free_run(
    faulty: tuple[DevServer, FaultPlan],
    fired: str,
    fault_free: dict[str, Any],
    tmp_path: Path,
) -> None:
    server, plan = faulty
    upload_state(server.store)["chunkSize"] = SMALL_CHUNKS
    done = full_pipeline({**cli_env(server.url, home=tmp_path), **FAST}, make_checkout(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert plan.fired(fired), f"the fault never fired: {plan.injected}"
    plan.disarm()
    assert full_snapshot(server) == fault_free


@pytest.mark.parametrize("faulty", ["chunk/*=drop@2"], indirect=True)
def test_a_dropped_chunk_is_sent_again_and_only_it(
    faulty: tuple[DevServer, FaultPlan], tmp_path: Path
) -> None:
    """Resumable upload: assemble's missingChunks names the lost chunk; only it is re-sent."""
    server, plan = faulty
    state = upload_state(server.store)
    state["chunkSize"] = SMALL_CHUNKS
    repo = make_checkout(tmp_path)
    assert run_cli(["inject", "dist"], cli_env(server.url, home=tmp_path), cwd=repo).returncode == 0
    done = run_cli(
        ["upload-sourcemaps", VERSION, "dist"], cli_env(server.url, home=tmp_path), cwd=repo
    )
    assert done.returncode == 0, done.stderr
    (dropped,) = plan.fired("drop")
    assert "Sentry reports 1 chunk(s) missing; sending them again" in done.stderr
    (bundle,) = artifact_bundles(server.store, ORG)
    total = len(set(bundle["chunks"]))
    assert total > 2
    assert state["received_chunks"] == total + 1  # every chunk once, the dropped one twice
    assert dropped.path.removeprefix("chunk/") in blobs(server.store)


@pytest.mark.parametrize(
    ("faulty", "message"),
    [
        (
            "assemble/*=stuck",
            "error: Sentry did not finish processing the bundle within 1s (state assembling); "
            "pass --no-wait to not wait",
        ),
        (
            "chunk/*=drop",
            # the files' chunk, the manifest's and the central directory's
            "error: Sentry still misses 3 chunk(s) after 3 attempts; check proxies between CI "
            "and Sentry",
        ),
    ],
    ids=["assemble stuck", "chunk dropped every time"],
    indirect=["faulty"],
)
def test_upload_that_cannot_complete_ends_with_exit_1_naming_why(
    faulty: tuple[DevServer, FaultPlan], message: str, tmp_path: Path
) -> None:
    """Bounded: a stuck assemble waits at most the server's maxWait, then names the state."""
    server, plan = faulty
    state = upload_state(server.store)
    state["maxWait"] = 1
    repo = make_checkout(tmp_path)
    done = run_cli(
        ["upload-sourcemaps", VERSION, "dist", "--wait"],
        cli_env(server.url, home=tmp_path),
        cwd=repo,
        timeout=30,
    )
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[-1] == message, done.stderr
    assert [line for line in lines if line.startswith("error:")] == [message]
    assert "Traceback" not in done.stderr
    assert plan.fired()
    assert artifact_bundles(server.store, ORG) == []  # nothing half-done reported as done


def test_rerunning_the_full_pipeline_changes_nothing_but_the_deploys(
    server: DevServer, tmp_path: Path, fault_free: dict[str, Any]
) -> None:
    """Twice on the same commit: one release, one commit set, one bundle per content (the
    second upload sends 0 chunk bytes), and one deploy per run of the deploy step."""
    upload_state(server.store)["chunkSize"] = SMALL_CHUNKS
    env = {**cli_env(server.url, home=tmp_path), **FAST}
    repo = make_checkout(tmp_path)
    first = full_pipeline(env, repo)
    assert first.returncode == 0, first.stderr
    sent = upload_state(server.store)["received_bytes"]
    again = full_pipeline(env, repo)
    assert again.returncode == 0, again.stderr
    assert upload_state(server.store)["received_bytes"] == sent
    assert "0 B sent" in again.stdout
    assert "Recorded deploy" in again.stdout
    state = full_snapshot(server)
    assert state["releases"][0]["deploys"] == fault_free["releases"][0]["deploys"] * 2
    state["releases"][0]["deploys"] = fault_free["releases"][0]["deploys"]
    assert state == fault_free


# --- the gate: Sentry unreadable vs. transient faults ---------------------------------------

GATE_FAST = [
    *("--grace", "0", "--window", "1h", "--settle", "0", "--settle-sessions", "0"),
    *("--poll", "0.5"),
]


@pytest.mark.parametrize(
    ("faulty", "code", "said"),
    [
        ("", 0, "Deploy gate: PASS"),
        (f"GET {REL[: -len('releases/')]}issues/=503@1", 0, "Deploy gate: PASS"),
        (f"GET {REL[: -len('releases/')]}issues/=503", 3, "Sentry could not be read"),
    ],
    ids=["fault-free", "transient 503 within the budget", "503 past the budget"],
    indirect=["faulty"],
)
def test_gate_under_503_on_the_issues_endpoint(
    faulty: tuple[DevServer, FaultPlan], code: int, said: str, tmp_path: Path
) -> None:
    """Same history each time: a transient fault leaves the verdict alone; Sentry that cannot
    be read fails the gate (--on-api-error fail) and says so."""
    from tests.e2e.test_gate import (
        ENV,
        HOUR,
        NEW,
        OLD,
        deployed,
        error_event,
        send_envelopes,
        serve_both,
    )

    server, plan = faulty
    plan.active = False
    now = time.time()
    deployed(server, OLD, now - 3 * HOUR)
    deployed(server, NEW, now - HOUR - 70)  # the window (from a whole minute) is over
    serve_both(server, now - HOUR - 70)  # sessions on both sides: a rate to judge
    send_envelopes(
        server, [error_event(OLD, now - 2 * HOUR + 60 * i, user=f"u{i % 4}") for i in range(30)]
    )
    plan.active = True
    env = {**cli_env(server.url, home=tmp_path), "SENTRY_RELEASE_RETRY_BUDGET": "3"}
    done = run_cli(["gate", NEW, "--env", ENV, *GATE_FAST, "--on-api-error", "fail"], env)
    assert done.returncode == code, done.stdout + done.stderr
    assert said in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    if plan.rules:
        assert plan.fired("503")
