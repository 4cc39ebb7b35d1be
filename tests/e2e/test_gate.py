"""`sentry-release gate` over HTTP against the stand-in, fed by the real sentry-sdk and by raw
envelopes. Events carry their own timestamps, so most scenarios put the deploy an hour in the
past and the whole window is already observable; the live tests use second-scale windows."""

from __future__ import annotations

import gzip
import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
import requests
import sentry_sdk

from sentry_standin import DevServer
from tests.helpers import ORG, TOKEN, run_cli

ENV = "production"
HOUR = 3600.0
OLD, NEW = "shop@1.0.0", "shop@1.1.0"
PAST_WINDOW = [
    *("--grace", "0", "--window", "1h", "--settle", "0", "--settle-sessions", "0"),
    *("--poll", "0.5"),
]
LIVE = ["--settle-sessions", "0", "--bucket", "1s"]  # seconds-scale windows


def web_id(server: DevServer) -> str:
    """The numeric id of project `web` (Sentry's org-level reads take ids, one project
    without the global-views feature)."""
    project = server.store.project(ORG, "web")
    assert project is not None
    return str(project["id"])


def api(server: DevServer, method: str, path: str, **kwargs: Any) -> requests.Response:
    """Sentry's web API on the stand-in, as a user with the token."""
    response = requests.request(
        method,
        f"{server.url}api/0{path}",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
        **kwargs,
    )
    assert response.status_code < 300, response.text
    return response


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def deployed(server: DevServer, version: str, finished: float) -> None:
    """Create a release and record its deploy to production at `finished`."""
    api(
        server,
        "POST",
        f"/organizations/{ORG}/releases/",
        json={"version": version, "projects": ["web"]},
    )
    api(
        server,
        "POST",
        f"/organizations/{ORG}/releases/{version}/deploys/",
        json={"environment": ENV, "dateFinished": iso(finished)},
    )


def error_event(
    release: str,
    when: float,
    exc_type: str = "KeyError",
    value: str = "cart",
    user: str | None = "u1",
    handled: bool = True,
    level: str = "error",
) -> dict[str, Any]:
    """An error event as an SDK would send it."""
    event: dict[str, Any] = {
        "event_id": uuid.uuid4().hex,
        "timestamp": when,
        "platform": "python",
        "level": level,
        "release": release,
        "environment": ENV,
        "exception": {
            "values": [
                {
                    "type": exc_type,
                    "value": value,
                    "mechanism": {"type": "generic", "handled": handled},
                }
            ]
        },
    }
    if user:
        event["user"] = {"id": user}
    return event


def send_envelopes(server: DevServer, events: list[dict[str, Any]]) -> None:
    """Raw envelopes, gzipped, authenticated with the DSN key in X-Sentry-Auth."""
    dsn = server.dsn(ORG, "web")
    key = dsn.split("//", 1)[1].split("@", 1)[0]
    project_id = dsn.rsplit("/", 1)[1]
    auth = f"Sentry sentry_key={key}, sentry_version=7, sentry_client=raw-test/1.0"
    with requests.Session() as session:
        for event in events:
            payload = json.dumps(event).encode()
            body = b"\n".join(
                [
                    json.dumps({"event_id": event["event_id"], "dsn": dsn}).encode(),
                    json.dumps({"type": "event", "length": len(payload)}).encode(),
                    payload,
                ]
            )
            done = session.post(
                f"{server.url}api/{project_id}/envelope/",
                data=gzip.compress(body),
                timeout=10,
                headers={
                    "X-Sentry-Auth": auth,
                    "Content-Encoding": "gzip",
                    "Content-Type": "application/x-sentry-envelope",
                },
            )
            assert done.status_code == 200, done.text


def spread(count: int, start: float, end: float) -> list[float]:
    """`count` timestamps evenly inside (start, end)."""
    step = (end - start) / (count + 1)
    return [start + step * (i + 1) for i in range(count)]


def gate(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(["gate", NEW, "--env", ENV, *args], env)


@pytest.fixture
def history(server: DevServer) -> float:
    """OLD deployed 3 h ago, NEW 1 h 70 s ago: its window (from a whole minute) is over."""
    now = time.time()
    deployed(server, OLD, now - 3 * HOUR)
    deployed(server, NEW, now - HOUR - 70)
    return now - HOUR - 70


def serve_both(server: DevServer, deploy: float) -> None:
    """OLD the hour before `deploy`, NEW the hour after: 1,000 sessions a minute, none
    errored."""
    for version, start in ((OLD, deploy - HOUR), (NEW, deploy)):
        minutes = [start - start % 60 + 60 * i for i in range(61)]
        send_aggregates(server, version, [(m, 1000, 0) for m in minutes])


@pytest.fixture
def served(server: DevServer, history: float) -> float:
    """The history, with both releases serving sessions."""
    serve_both(server, history)
    return history


def send_aggregates(server: DevServer, release: str, buckets: list[tuple[float, int, int]]) -> None:
    """Session aggregates `(started, sessions, errored)`, as server-mode SDKs flush them."""
    dsn = server.dsn(ORG, "web")
    project_id = dsn.rsplit("/", 1)[1]
    payload = json.dumps(
        {
            "attrs": {"release": release, "environment": ENV},
            "aggregates": [
                {"started": iso(t), "exited": n - e, "errored": e} for t, n, e in buckets
            ],
        }
    ).encode()
    body = b"\n".join(
        [
            json.dumps({"dsn": dsn}).encode(),
            json.dumps({"type": "sessions", "length": len(payload)}).encode(),
            payload,
        ]
    )
    done = requests.post(f"{server.url}api/{project_id}/envelope/", data=body, timeout=10)
    assert done.status_code == 200, done.text


@pytest.fixture
def sdk(server: DevServer) -> Iterator[Any]:
    """The real sentry-sdk pointed at the stand-in; yields a function that captures an
    exception for a release at a given time, with a user."""
    when: dict[str, float] = {}

    def at_time(event: Any, hint: Any) -> Any:
        event["timestamp"] = iso(when["t"])
        return event

    def capture(release: str, at: float, exc: BaseException, user: str) -> None:
        sentry_sdk.init(
            dsn=server.dsn(ORG, "web"),
            release=release,
            environment=ENV,
            default_integrations=False,
            before_send=at_time,
        )
        when["t"] = at
        sentry_sdk.set_user({"id": user})
        sentry_sdk.capture_exception(exc)
        sentry_sdk.flush(timeout=5)

    yield capture
    sentry_sdk.get_client().close()


def raise_and_catch(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


@pytest.mark.interop  # the real sentry-sdk sends the events
def test_sdk_baseline_and_no_new_errors_pass(
    server: DevServer, env: dict[str, str], served: float, sdk: Any
) -> None:
    history = served
    for i, when in enumerate(spread(20, history - HOUR, history)):
        sdk(OLD, when, raise_and_catch(ValueError("bad price")), f"user{i % 4}")
    issues = api(
        server,
        "GET",
        f"/organizations/{ORG}/issues/",
        params={"query": f'firstRelease:"{OLD}"', "environment": ENV, "project": web_id(server)},
    ).json()
    assert [(i["title"], i["count"], i["userCount"]) for i in issues] == [
        ("ValueError: bad price", "20", 4)
    ]
    done = gate(env, *PAST_WINDOW)
    assert done.returncode == 0, done.stderr
    assert "Deploy gate: PASS" in done.stdout
    assert f"baseline release: {OLD}" in done.stdout
    assert "No new issues" not in done.stdout  # text report, not the Markdown one


@pytest.mark.interop  # the real sentry-sdk sends the events
def test_sdk_new_error_above_floors_fails_and_names_issue(
    server: DevServer, env: dict[str, str], history: float, sdk: Any
) -> None:
    send_envelopes(server, [error_event(OLD, t) for t in spread(20, history - HOUR, history)])
    for i, when in enumerate(spread(4, history + 60, history + 600)):
        sdk(NEW, when, raise_and_catch(ZeroDivisionError("division by zero")), f"buyer{i}")
    done = gate(env, *PAST_WINDOW, "--json")
    assert done.returncode == 3, done.stderr
    report = json.loads(done.stdout)
    assert report["verdict"] == "FAIL"
    [issue] = report["new_issues"]
    assert issue["title"] == "ZeroDivisionError: division by zero"
    assert (issue["events"], issue["users"], issue["counted"]) == (4, 4, True)
    assert issue["shortId"] == "WEB-2"
    assert issue["permalink"].startswith(server.url)
    assert "WEB-2 ZeroDivisionError: division by zero" in done.stderr
    assert "error: deploy gate failed" in done.stderr


def test_one_stray_event_passes(server: DevServer, env: dict[str, str], served: float) -> None:
    history = served
    send_envelopes(server, [error_event(OLD, t) for t in spread(20, history - HOUR, history)])
    send_envelopes(server, [error_event(NEW, history + 100, "TypeError", "stray")])
    done = gate(env, *PAST_WINDOW)
    assert done.returncode == 0, done.stderr
    assert "Deploy gate: PASS" in done.stdout
    assert "1 below the floors" in done.stdout
    row = next(line for line in done.stdout.splitlines() if line.startswith("WEB-2"))
    assert "TypeError: stray" in row and " no " in row


def test_resolved_and_ignored_issues_are_not_counted(
    server: DevServer, env: dict[str, str], served: float
) -> None:
    history = served
    send_envelopes(server, [error_event(OLD, t) for t in spread(20, history - HOUR, history)])
    for name in ("resolved", "ignored"):
        send_envelopes(
            server,
            [
                error_event(NEW, t, "RuntimeError", name, user=f"u{i}")
                for i, t in enumerate(spread(5, history + 60, history + 900))
            ],
        )
    issues = api(
        server,
        "GET",
        f"/organizations/{ORG}/issues/",
        params={
            "query": f'firstRelease:"{NEW}" is:unresolved',
            "environment": ENV,
            "project": web_id(server),
        },
    ).json()
    ids = {i["title"].split(": ")[1]: i["id"] for i in issues}
    assert len(issues) == 2
    assert gate(env, *PAST_WINDOW).returncode == 3  # both count while unresolved
    api(server, "PUT", f"/issues/{ids['resolved']}/", json={"status": "resolved"})
    api(
        server,
        "PUT",
        f"/organizations/{ORG}/issues/",
        params={"id": ids["ignored"], "project": web_id(server)},
        json={"status": "ignored"},
    )
    done = gate(env, *PAST_WINDOW)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Deploy gate: PASS" in done.stdout
    assert "RuntimeError" not in done.stdout


@pytest.mark.parametrize(("new_errored", "code", "verdict"), [(110, 0, "PASS"), (400, 3, "FAIL")])
def test_error_rate_against_baseline(
    server: DevServer,
    env: dict[str, str],
    history: float,
    new_errored: int,
    code: int,
    verdict: str,
) -> None:
    """Errored sessions per session, an hour each side: 100 of 60,000 before the deploy."""
    start = history - history % 60
    send_aggregates(server, OLD, [(start - HOUR + 60 * i, 1000, 0) for i in range(60)])
    send_aggregates(server, OLD, [(start - HOUR + 60 * i, 1000, 5) for i in range(20)])
    per_minute = new_errored // 20
    send_aggregates(server, NEW, [(start + 60 + 60 * i, 1000, 0) for i in range(60)])
    send_aggregates(server, NEW, [(start + 60 + 60 * i, 1000, per_minute) for i in range(20)])
    done = gate(env, *PAST_WINDOW, "--json")
    assert done.returncode == code, done.stderr
    report = json.loads(done.stdout)
    rate = report["rate"]
    assert report["verdict"] == verdict
    assert (rate["new_errors"], rate["base_errors"]) == (per_minute * 20, 100)
    assert rate["unit"] == "sessions"
    if verdict == "FAIL":
        assert rate["lower"] > 1.5 and rate["e_value"] >= 100
        assert "error rate regressed" in done.stderr
    else:
        assert rate["upper"] < 1.5
        assert report["new_issues"] == []


def test_no_traffic_is_inconclusive_handled_per_flag(
    server: DevServer, env: dict[str, str], history: float
) -> None:
    done = gate(env, *PAST_WINDOW)
    assert done.returncode == 0, done.stderr
    assert "Deploy gate: INCONCLUSIVE" in done.stdout
    assert "warning: deploy gate inconclusive" in done.stderr
    done = gate(env, *PAST_WINDOW, "--on-inconclusive", "fail")
    assert done.returncode == 3
    assert "Deploy gate: FAIL" in done.stdout
    assert "--on-inconclusive is fail" in done.stderr


def test_sentry_down_follows_on_api_error(env: dict[str, str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = {**env, "SENTRY_URL": f"http://127.0.0.1:{port}/"}
    done = gate(down, *PAST_WINDOW)
    assert done.returncode == 3
    assert "Sentry could not be read" in done.stderr
    assert f"connection refused by 127.0.0.1:{port}" in done.stderr
    done = gate(down, *PAST_WINDOW, "--gate-dry-run")  # reports the FAIL, exits 0
    assert done.returncode == 0
    assert "Deploy gate: FAIL" in done.stdout
    done = gate(down, *PAST_WINDOW, "--on-api-error", "pass")
    assert done.returncode == 0
    assert "Deploy gate: PASS" in done.stdout
    assert "warning: deploy gate could not see" in done.stderr


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        if self.path == "/slow":
            time.sleep(1.0)
        body = b"ok" if self.path == "/ok" else b"down"
        self.send_response(200 if self.path == "/ok" else 500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def app_url() -> Iterator[str]:
    """The user's app: /ok answers 200 "ok", anything else 500."""
    httpd = HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_health_url_500_fails_early(server: DevServer, env: dict[str, str], app_url: str) -> None:
    deployed(server, NEW, time.time())
    started = time.monotonic()
    done = gate(
        env,
        "--grace",
        "0",
        "--window",
        "30s",
        "--settle",
        "0",
        "--poll",
        "0.2",
        *LIVE,
        "--health-url",
        f"{app_url}/ok",
        "--health-url",
        f"{app_url}/health",
        "--health-body",
        "ok",
        "--health-successes",
        "2",
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 3, done.stderr
    assert f"health check failed: {app_url}/health (HTTP 500, 2 in a row)" in done.stderr
    assert elapsed < 15  # failed early, well before the 30 s window closed
    assert f"{app_url}/ok" in done.stdout


@pytest.mark.slow  # the console script as a real process, on real time
def test_live_window_is_honoured(server: DevServer, env: dict[str, str], app_url: str) -> None:
    """Grace 1 s, window 2 s, settle 0.5 s: errors sent during the window fail the gate at
    its end (handled errors wait for the window), not before."""
    deployed(server, NEW, time.time())
    started = time.monotonic()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sentry_release",
            "gate",
            NEW,
            "--env",
            ENV,
            "--grace",
            "1s",
            "--window",
            "2s",
            "--settle",
            "0.5s",
            "--poll",
            "0.5s",
            *LIVE,
            "--health-url",
            f"{app_url}/ok",
            "--health-successes",
            "2",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)
    now = time.time()
    send_envelopes(
        server, [error_event(NEW, now, "OSError", "disk full", user=f"u{i}") for i in range(3)]
    )
    _, err = proc.communicate(timeout=30)
    elapsed = time.monotonic() - started
    assert proc.returncode == 3, err
    assert "WEB-1 OSError: disk full" in err
    assert elapsed >= 3.5  # grace + window + settle


def test_unhandled_error_fails_fast(server: DevServer, env: dict[str, str]) -> None:
    deployed(server, NEW, time.time() - 1)
    send_envelopes(
        server,
        [
            error_event(
                NEW, time.time(), "SegFault", "crash", user=None, handled=False, level="fatal"
            )
            for _ in range(3)
        ],
    )
    started = time.monotonic()
    done = gate(env, "--grace", "0", "--window", "60s", "--settle", "0", "--poll", "0.5", *LIVE)
    assert done.returncode == 3, done.stderr
    assert time.monotonic() - started < 15
    assert "SegFault: crash" in done.stderr
    assert "fatal unhandled" in done.stdout


def test_run_with_gate_watches_the_deploy_it_recorded(
    server: DevServer, env: dict[str, str], app_url: str
) -> None:
    done = run_cli(
        [
            "run",
            "2.0.0",
            "--mode",
            "skip",
            "--env",
            ENV,
            "--gate",
            "--grace",
            "0",
            "--window",
            "1s",
            "--settle",
            "0",
            "--poll",
            "0.2",
            *LIVE,
            "--health-url",
            f"{app_url}/broken",
            "--health-successes",
            "2",
        ],
        env,
    )
    assert done.returncode == 3, done.stderr
    assert "Recorded deploy" in done.stdout
    assert "Deploy gate: FAIL" in done.stdout
    assert f"health check failed: {app_url}/broken (HTTP 500, 2 in a row)" in done.stderr
    deploys = api(server, "GET", f"/organizations/{ORG}/releases/2.0.0/deploys/").json()
    assert [d["environment"] for d in deploys] == [ENV]


def test_bad_gate_input_is_refused_before_any_request(
    server: DevServer, env: dict[str, str]
) -> None:
    done = run_cli(["run", "3.0.0", "--mode", "skip", "--gate"], env)
    assert done.returncode == 2
    assert "the deploy gate needs an environment" in done.stderr
    done = gate(env, "--health-url", "http://127.0.0.1:1/", "--health-status", "fine")
    assert done.returncode == 2
    assert "health_status must look like 2xx" in done.stderr
    assert server.store.requests == []


def test_probe_status_body_timeout_and_unreachable(app_url: str) -> None:
    from sentry_release.gate.health import parse_expected_status, probe

    ok = parse_expected_status("2xx")
    with requests.Session() as session:
        assert probe(session, f"{app_url}/ok", timeout=5, expected=ok, body="ok") == (
            True,
            "HTTP 200",
        )
        assert probe(session, f"{app_url}/ok", timeout=5, expected=ok, body="ready") == (
            False,
            "HTTP 200 without 'ready' in the body",
        )
        assert probe(session, f"{app_url}/x", timeout=5, expected=parse_expected_status("500")) == (
            True,
            "HTTP 500",
        )
        assert probe(session, f"{app_url}/slow", timeout=0.2, expected=ok) == (
            False,
            "timed out after 0.2s",
        )
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            closed = sock.getsockname()[1]
        assert probe(session, f"http://127.0.0.1:{closed}/", timeout=1, expected=ok) == (
            False,
            "unreachable: ConnectionError",
        )
