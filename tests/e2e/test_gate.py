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
PAST_WINDOW = ["--grace", "0", "--window", "1h", "--settle", "0", "--poll", "0.5"]


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
    """OLD deployed 3 h ago, NEW deployed just over 1 h ago: the NEW window is complete."""
    now = time.time()
    deployed(server, OLD, now - 3 * HOUR)
    deployed(server, NEW, now - HOUR - 10)
    return now - HOUR - 10


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
    server: DevServer, env: dict[str, str], history: float, sdk: Any
) -> None:
    for i, when in enumerate(spread(20, history - HOUR, history)):
        sdk(OLD, when, raise_and_catch(ValueError("bad price")), f"user{i % 4}")
    issues = api(
        server,
        "GET",
        f"/organizations/{ORG}/issues/",
        params={"query": f'firstRelease:"{OLD}"', "environment": ENV},
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


def test_one_stray_event_passes(server: DevServer, env: dict[str, str], history: float) -> None:
    send_envelopes(server, [error_event(OLD, t) for t in spread(20, history - HOUR, history)])
    send_envelopes(server, [error_event(NEW, history + 100, "TypeError", "stray")])
    done = gate(env, *PAST_WINDOW)
    assert done.returncode == 0, done.stderr
    assert "Deploy gate: PASS" in done.stdout
    assert "1 below the floors" in done.stdout
    row = next(line for line in done.stdout.splitlines() if line.startswith("WEB-2"))
    assert "TypeError: stray" in row and " no " in row


def test_resolved_and_ignored_issues_are_not_counted(
    server: DevServer, env: dict[str, str], history: float
) -> None:
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
        params={"query": f'firstRelease:"{NEW}" is:unresolved', "environment": ENV},
    ).json()
    ids = {i["title"].split(": ")[1]: i["id"] for i in issues}
    assert len(issues) == 2
    assert gate(env, *PAST_WINDOW).returncode == 3  # both count while unresolved
    api(server, "PUT", f"/issues/{ids['resolved']}/", json={"status": "resolved"})
    api(
        server,
        "PUT",
        f"/organizations/{ORG}/issues/",
        params={"id": ids["ignored"]},
        json={"status": "ignored"},
    )
    done = gate(env, *PAST_WINDOW)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Deploy gate: PASS" in done.stdout
    assert "RuntimeError" not in done.stdout


@pytest.mark.parametrize(("new_per_hour", "code", "verdict"), [(110, 0, "PASS"), (400, 3, "FAIL")])
def test_error_rate_against_baseline(
    server: DevServer,
    env: dict[str, str],
    history: float,
    new_per_hour: int,
    code: int,
    verdict: str,
) -> None:
    send_envelopes(server, [error_event(OLD, t) for t in spread(100, history - HOUR, history)])
    send_envelopes(
        server, [error_event(NEW, t) for t in spread(new_per_hour, history, history + HOUR)]
    )
    done = gate(env, *PAST_WINDOW, "--json")
    assert done.returncode == code, done.stderr
    report = json.loads(done.stdout)
    rate = report["rate"]
    assert report["verdict"] == verdict
    assert (rate["new_errors"], rate["base_errors"]) == (new_per_hour, 100)
    assert rate["new_exposure"] == rate["base_exposure"] == HOUR
    if verdict == "FAIL":
        # P(X >= 400 | n=500, p0=0.6) = 9.5e-22 (checked against exact rational arithmetic)
        assert rate["p_value"] < 1e-20
        assert "p = 9.51e-22" in done.stderr
    else:
        assert rate["p_value"] > 0.98
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
    assert "connection failed" in done.stderr
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
    assert "waiting 1s of grace" in err or "waiting 0s of grace" in err


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
    done = gate(env, "--grace", "0", "--window", "60s", "--settle", "0", "--poll", "0.5")
    assert done.returncode == 3, done.stderr
    assert time.monotonic() - started < 15
    assert "SegFault: crash" in done.stderr
    assert "fatal unhandled" in done.stdout


def test_markdown_summary_of_a_failing_gate() -> None:
    from sentry_release.gate.policy import GateReport
    from sentry_release.gate.watch import render_markdown

    report = GateReport(
        "FAIL",
        "1 new issue(s) above the floors",
        (
            {
                "shortId": "WEB-7",
                "title": "KeyError: a|b",
                "level": "error",
                "events": 5,
                "users": 2,
                "unhandled": False,
                "firstSeen": "2026-01-01T00:00:00Z",
                "permalink": "https://sentry.example/issues/7/",
                "counted": True,
                "why": "",
            },
        ),
        {
            "version": NEW,
            "environment": ENV,
            "baseline_release": OLD,
            "rate": {
                "new_errors": 40,
                "base_errors": 10,
                "new_exposure": 600.0,
                "base_exposure": 600.0,
                "exposure_unit": "seconds",
                "ratio": 4.0,
                "p_value": 1.2e-5,
                "verdict": "FAIL",
                "reason": "error rate regressed",
            },
            "policy": {"max_ratio": 1.5, "alpha": 0.01},
        },
    )
    text = render_markdown(report)
    assert text.startswith("### ❌ Deploy gate: FAIL")
    assert "[WEB-7](https://sentry.example/issues/7/)" in text
    assert "KeyError: a\\|b" in text
    assert "| new | 40 | 600 seconds |" in text
    assert "p-value 1.2e-05" in text


def send_sessions(server: DevServer, release: str, started: float, count: int) -> None:
    """A `sessions` aggregate envelope, as server-mode SDKs send them."""
    dsn = server.dsn(ORG, "web")
    project_id = dsn.rsplit("/", 1)[1]
    payload = json.dumps(
        {
            "attrs": {"release": release, "environment": ENV},
            "aggregates": [{"started": iso(started), "exited": count}],
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


def test_sessions_are_the_exposure_when_the_project_sends_them(
    server: DevServer, env: dict[str, str], history: float
) -> None:
    """Same error count per hour, but the new release served a quarter of the sessions:
    per session its error rate is 4x, which time exposure would not see."""
    send_envelopes(server, [error_event(OLD, t) for t in spread(100, history - HOUR, history)])
    send_envelopes(server, [error_event(NEW, t) for t in spread(100, history, history + HOUR)])
    send_sessions(server, OLD, history - HOUR / 2, 1000)
    send_sessions(server, NEW, history + HOUR / 2, 250)
    done = gate(env, *PAST_WINDOW, "--json")
    assert done.returncode == 3, done.stderr
    rate = json.loads(done.stdout)["rate"]
    assert rate["exposure_unit"] == "sessions"
    assert (rate["new_exposure"], rate["base_exposure"]) == (250, 1000)
    assert rate["ratio"] == pytest.approx(4.0)
    sessions = [r for r in server.store.requests if r["path"].endswith("/sessions/")]
    assert sessions and all("interval=1m" in r["query"] for r in sessions)


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
