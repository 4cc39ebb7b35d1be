"""The client against the stand-in at its strictest, the way sentry.io answers (issue #12).

No lenient flag and no org feature: an organization token with `org:ci` only runs the whole
release step; `check` names a missing scope before anything is written; pagination reuses only
the cursor while Sentry's Link URLs name another host (the url-prefix, served here by a
watcher on 127.0.0.2 that records whatever reaches it); chunk-upload URLs on another origin or
relative land on the configured Sentry; the gate reads two projects one at a time on an org
without `global-views`.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from sentry_release.sentry.api import SentryApi
from sentry_standin import DevServer, Options, Store
from tests.helpers import ORG, PROJECTS, TOKEN, cli_env, make_repo, run_cli

ORG_TOKEN = "sntrys_ci_only_token_for_tests"  # an organization token: org:ci only
READ_TOKEN = "reader-token=event:read,org:read,project:read"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sourcemaps"
STRICT = dict(lenient=frozenset(), features=frozenset())


@pytest.fixture
def prefix_watcher() -> Iterator[tuple[int, list[bytes]]]:
    """A listener on 127.0.0.2 at a free port; the stand-in is then started on the same port
    of 127.0.0.1 with its url-prefix pointing here. Every request that reaches it is kept."""
    seen: list[bytes] = []
    listener = socket.socket()
    listener.bind(("127.0.0.2", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    seen.append(conn.recv(65536))
                    conn.sendall(b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], seen
    finally:
        stop.set()
        listener.close()


def strict_server(port: int = 0, **options: Any) -> DevServer:
    prefix = f"http://127.0.0.2:{port}/" if port else None
    return DevServer(
        Store(orgs=(ORG,), projects=PROJECTS, tokens=(TOKEN, ORG_TOKEN, READ_TOKEN)),
        port=port,
        options=Options(**{"url_prefix": prefix, **STRICT, **options}),
    )


def test_cursor_pagination_never_reaches_the_url_prefix_host(
    prefix_watcher: tuple[int, list[bytes]],
) -> None:
    port, seen = prefix_watcher
    with strict_server(port) as server:
        api = SentryApi(server.url, ORG_TOKEN)
        for n in range(7):
            api.create_release(ORG, f"7.{n}", ["web"])
        names = [r.version for r in api.list_releases(ORG, per_page=2)]
        pages = [
            r
            for r in server.store.requests
            if r["method"] == "GET" and r["path"].endswith("/releases/")
        ]
    assert sorted(names) == [f"7.{n}" for n in range(7)]  # every page read
    assert len(pages) == 4 and all("cursor=" in r["query"] for r in pages[1:])
    assert seen == []  # nothing, and so no token, went to the url-prefix host


@pytest.mark.parametrize(
    "chunk_options",
    [{"upload_url_prefix": "http://127.0.0.2:{port}/"}, {"chunk_url": "relative"}],
    ids=["chunk-url-on-another-origin", "relative-chunk-url"],
)
def test_run_with_an_org_ci_token_on_strict_sentry(
    prefix_watcher: tuple[int, list[bytes]], tmp_path: Path, chunk_options: dict[str, str]
) -> None:
    """new, set-commits (local), inject + upload, finalize, deploy: all with org:ci."""
    port, seen = prefix_watcher
    repo = tmp_path / "repo"
    make_repo(repo, commits=3)
    shutil.copytree(FIXTURES / "dist", repo / "dist")
    with strict_server(port, **chunk_options) as server:
        env = cli_env(server.url, token=ORG_TOKEN, home=tmp_path)
        args = ["run", "1.0", "--mode", "local", "--sourcemaps", "dist", "-e", "production"]
        done = run_cli([*args, "--json"], env, cwd=repo, timeout=120)
        assert done.returncode == 0, done.stderr
        refused = [r for r in server.store.requests if r["status"] >= 400]
        bundles = server.store.data.get("artifact_bundles") or {}
        release = next(iter(server.store.releases(ORG).values()))
    assert refused == []  # nothing real Sentry would refuse to an org:ci token
    assert json.loads(done.stdout)["deploy_id"]
    assert release["dateReleased"] and bundles
    assert seen == []


def test_check_names_the_missing_scope_before_anything_is_written(tmp_path: Path) -> None:
    with strict_server() as server:
        env = cli_env(server.url, token=ORG_TOKEN, home=tmp_path)
        done = run_cli(["check", "1.0", "-e", "production", "--gate", "--mode", "skip"], env)
        writes = [r for r in server.store.requests if r["method"] != "GET"]
    assert done.returncode == 2, done.stdout + done.stderr
    assert "read issues (gate)" in done.stdout and "missing scope" in done.stdout
    assert "event:read" in done.stderr.splitlines()[-1]
    assert "cannot verify with this token" in done.stdout  # projects: org:ci cannot list them
    assert writes == []


def test_the_gate_step_with_an_org_token_is_exit_2_naming_the_scope(tmp_path: Path) -> None:
    with strict_server() as server:
        api = SentryApi(server.url, TOKEN)
        api.create_release(ORG, "1.0", ["web"])
        api.create_deploy(ORG, "1.0", environment="production")
        env = cli_env(server.url, token=ORG_TOKEN, home=tmp_path)
        done = run_cli(["gate", "1.0", "-e", "production", "--window", "10m", "--settle", "0"], env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "org:read" in done.stderr and "Traceback" not in done.stderr  # events-stats (#21)


def _envelope(server: DevServer, project: str, body: dict[str, Any]) -> None:
    dsn = server.dsn(ORG, project)
    key = dsn.split("//", 1)[1].split("@", 1)[0]
    payload = json.dumps(body).encode()
    data = b"\n".join(
        [
            json.dumps({"dsn": dsn}).encode(),
            json.dumps({"type": "event", "length": len(payload)}).encode(),
            payload,
        ]
    )
    done = requests.post(
        f"{server.url}api/{dsn.rsplit('/', 1)[1]}/envelope/",
        data=data,
        headers={"X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7"},
        timeout=10,
    )
    assert done.status_code == 200, done.text


def test_the_gate_reads_two_projects_one_at_a_time_without_global_views(tmp_path: Path) -> None:
    with strict_server() as server:
        api = SentryApi(server.url, TOKEN)
        started = time.time() - 120
        api.create_release(ORG, "2.0", list(PROJECTS))
        api.create_deploy(ORG, "2.0", environment="production")
        for _ in range(3):  # a fatal crash in the second project
            _envelope(
                server,
                PROJECTS[1],
                {
                    "event_id": uuid.uuid4().hex,
                    "timestamp": started + 60,
                    "level": "fatal",
                    "release": "2.0",
                    "environment": "production",
                    "exception": {
                        "values": [
                            {"type": "SegFault", "value": "x", "mechanism": {"handled": False}}
                        ]
                    },
                },
            )
        env = cli_env(
            server.url,
            token=ORG_TOKEN,
            home=tmp_path,
            SENTRY_PROJECT=" ".join(PROJECTS),
            SENTRY_GATE_AUTH_TOKEN=READ_TOKEN.split("=")[0],
        )
        done = run_cli(
            ["gate", "2.0", "-e", "production", "--window", "10m", "--settle", "0", "--json"],
            env,
            timeout=120,
        )
        reads = [
            r
            for r in server.store.requests
            if r["method"] == "GET" and r["path"].endswith(("/issues/", "/events/"))
        ]
    assert done.returncode == 3, done.stdout + done.stderr
    assert "SegFault" in json.loads(done.stdout)["reason"]
    assert reads and all(r["query"].count("project=") == 1 for r in reads)
    refused = [
        (r["path"], r["status"])
        for r in server.store.requests
        if r["status"] >= 400 and not r["path"].endswith("/committers/")  # 404: none found
    ]
    assert refused == []
    assert READ_TOKEN.split("=")[0] not in done.stdout + done.stderr


@pytest.mark.parametrize("mode", ["auto", "local"])
def test_older_self_hosted_commits(tmp_path: Path, mode: str) -> None:
    """No `previous-with-commits` endpoint (404) and no `previousCommit: null` accepted:
    the commits step still associates, as sentry-cli does against such servers."""
    from sentry_standin.commits import add_repo

    repo = tmp_path / "repo"
    make_repo(repo, commits=3)
    url = "https://github.com/acme/web"
    subprocess_env = {"GITHUB_REPOSITORY": "acme/web"}
    modes = frozenset({"no-previous-with-commits", "no-null-previous-commit"})
    with strict_server(modes=modes) as server:
        add_repo(server.store, ORG, "acme/web", url)
        env = cli_env(server.url, token=ORG_TOKEN, home=tmp_path, **subprocess_env)
        assert run_cli(["new", "1.0"], env, cwd=repo).returncode == 0
        done = run_cli(["set-commits", "1.0", "--mode", mode], env, cwd=repo)
        refused = [(r["path"], r["status"]) for r in server.store.requests if r["status"] >= 400]
    assert done.returncode == 0, done.stdout + done.stderr
    # the only refusal is the old server's 404 for the endpoint it does not have
    assert all(path.endswith("/previous-with-commits/") for path, _ in refused)


def test_upload_to_a_bugsink_like_server_with_default_flags(tmp_path: Path) -> None:
    """No `artifact_bundles_v2` (every chunk first, then assemble) and an assemble that stays
    `created`: the upload succeeds with default flags, as sentry-cli's does."""
    repo = tmp_path / "repo"
    make_repo(repo, commits=1)
    shutil.copytree(FIXTURES / "dist", repo / "dist")
    with strict_server(modes=frozenset({"bugsink"})) as server:
        env = cli_env(server.url, token=ORG_TOKEN, home=tmp_path)
        assert run_cli(["new", "1.0"], env, cwd=repo).returncode == 0
        done = run_cli(["upload-sourcemaps", "1.0", "dist"], env, cwd=repo, timeout=120)
        calls = [
            r["path"].rsplit("/", 2)[-2]
            for r in server.store.requests
            if r["method"] == "POST" and r["path"].endswith(("/chunk-upload/", "/assemble/"))
        ]
    assert done.returncode == 0, done.stdout + done.stderr
    assert calls[0] == "chunk-upload" and calls[-1] == "assemble"  # v1 order
    assert "created" in done.stdout
