"""Issue #14's table: each everyday release situation gives the right verdict against the
stand-in, with the default policy. Events and sessions carry explicit timestamps: the deploy
is two hours in the past, so the default timeline (60 s grace, 600 s window, settle) is over
and the gate decides at once; the one live row uses a seconds-scale timeline."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
import requests

from sentry_standin import DevServer
from tests.helpers import ORG, TOKEN, SimClock, run_cli

ENV = "production"
OLD, NEW = "shop@1.0.0", "shop@1.1.0"
MINUTE = 60.0
WINDOW = 600.0  # the default window
GRACE = 0.0  # the default grace: the rate window starts at the deploy


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
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1e6):06d}Z"


def release(server: DevServer, version: str) -> None:
    api(
        server,
        "POST",
        f"/organizations/{ORG}/releases/",
        json={"version": version, "projects": ["web"]},
    )


def deploy(server: DevServer, version: str, finished: float, started: float | None) -> None:
    body: dict[str, Any] = {"environment": ENV, "dateFinished": iso(finished)}
    if started is not None:
        body["dateStarted"] = iso(started)
    api(server, "POST", f"/organizations/{ORG}/releases/{version}/deploys/", json=body)


def envelope(server: DevServer, items: list[tuple[str, dict[str, Any]]]) -> requests.Response:
    """One envelope with the given items, authenticated with the DSN key."""
    dsn = server.dsn(ORG, "web")
    key = dsn.split("//", 1)[1].split("@", 1)[0]
    project_id = dsn.rsplit("/", 1)[1]
    parts = [json.dumps({"dsn": dsn}).encode()]
    for kind, payload in items:
        data = json.dumps(payload).encode()
        parts += [json.dumps({"type": kind, "length": len(data)}).encode(), data]
    return requests.post(
        f"{server.url}api/{project_id}/envelope/",
        data=b"\n".join(parts),
        headers={"X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7"},
        timeout=10,
    )


def sessions(
    server: DevServer, version: str, start: float, minutes: int, per_minute: int, errored: int
) -> None:
    """Server-mode session aggregates: `per_minute` sessions a minute, `errored` of them
    with errors, as an SDK flushes them."""
    buckets = [
        {"started": iso(start + i * MINUTE), "exited": per_minute - errored, "errored": errored}
        for i in range(minutes)
    ]
    payload = {"attrs": {"release": version, "environment": ENV}, "aggregates": buckets}
    done = envelope(server, [("sessions", payload)])
    assert done.status_code == 200, done.text


def event(
    version: str,
    when: float,
    exc_type: str = "KeyError",
    *,
    user: str | None = "u1",
    handled: bool = True,
    level: str = "error",
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": uuid.uuid4().hex,
        "timestamp": when,
        "level": level,
        "release": version,
        "environment": ENV,
        "exception": {
            "values": [{"type": exc_type, "value": "boom", "mechanism": {"handled": handled}}]
        },
    }
    if user:
        body["user"] = {"id": user}
    return body


def events(server: DevServer, bodies: list[dict[str, Any]]) -> None:
    for body in bodies:
        done = envelope(server, [("event", body)])
        assert done.status_code == 200, done.text


def minute(epoch: float) -> float:
    """Start of the minute: SDKs flush session aggregates per whole minute."""
    return epoch - epoch % MINUTE


def spread(count: int, start: float, end: float) -> list[float]:
    step = (end - start) / (count + 1)
    return [start + step * (i + 1) for i in range(count)]


def gate(env: dict[str, str], *args: str) -> tuple[int, dict[str, Any], str]:
    done: subprocess.CompletedProcess[str] = run_cli(
        ["gate", NEW, "--env", ENV, "--json", *args], env, timeout=120
    )
    assert done.stdout.strip().startswith("{"), done.stderr
    return done.returncode, json.loads(done.stdout), done.stderr


@pytest.fixture
def deployed_at(server: DevServer) -> float:
    """OLD served for an hour; NEW deployed (dateStarted recorded) two hours ago."""
    t = minute(time.time() - 2 * 3600)
    release(server, OLD)
    release(server, NEW)
    deploy(server, OLD, t - 3600, t - 3600)
    deploy(server, NEW, t, t)
    return t


def steady(server: DevServer, t: float, base: str = OLD, *, errored: int = 10) -> None:
    """1,000 sessions a minute with 1% errored: the baseline the 10 minutes before the
    deploy, the new release over its whole window; plus an existing issue's events."""
    sessions(server, base, t - WINDOW, 10, 1000, errored)
    sessions(server, NEW, t + GRACE, 10, 1000, errored)
    events(server, [event(base, w, "TimeoutError") for w in spread(5, t - WINDOW, t)])
    events(server, [event(NEW, w, "TimeoutError") for w in spread(5, t + GRACE, t + 700)])


def test_redeploy_of_the_same_release_with_steady_errors_passes(
    server: DevServer, env: dict[str, str]
) -> None:
    t = minute(time.time() - 2 * 3600)
    release(server, NEW)
    deploy(server, NEW, t - 3600, t - 3600)
    deploy(server, NEW, t, t)
    steady(server, t, base=NEW)
    code, report, _ = gate(env)
    assert (report["verdict"], code) == ("PASS", 0), report["reason"]
    assert report["baseline"]["release"] == NEW  # the release that served before
    assert report["rate"]["unit"] == "sessions"


def test_fatal_crash_during_the_rollout_without_started_fails(
    server: DevServer, env: dict[str, str]
) -> None:
    t = minute(time.time() - 2 * 3600)
    release(server, OLD)
    release(server, NEW)
    deploy(server, OLD, t - 3600, t - 3600)
    deploy(server, NEW, t, None)  # no dateStarted: the rollout began 2 minutes earlier
    sessions(server, OLD, t - WINDOW, 10, 1000, 10)
    sessions(server, NEW, t - 2 * MINUTE, 12, 1000, 10)
    crash = [
        event(NEW, w, "SegFault", user=None, handled=False, level="fatal")
        for w in spread(4, t - 90, t - 30)
    ]
    events(server, crash)
    code, report, stderr = gate(env)
    assert (report["verdict"], code) == ("FAIL", 3), report["reason"]
    assert report["deploy"]["start_source"] == "first traffic"
    assert "SegFault" in report["reason"]
    assert "SegFault" in stderr


def test_new_handled_issue_without_user_context_fails(
    server: DevServer, env: dict[str, str], deployed_at: float
) -> None:
    t = deployed_at
    steady(server, t)
    events(server, [event(NEW, w, "ValueError", user=None) for w in spread(150, t + 70, t + 600)])
    code, report, _ = gate(env)
    assert (report["verdict"], code) == ("FAIL", 3), report["reason"]
    [row] = [i for i in report["new_issues"] if i["counted"]]
    assert (row["title"], row["events"], row["users"], row["kind"]) == (
        "ValueError: boom",
        150,
        0,
        "new",
    )


def comes_back(
    server: DevServer,
    env: dict[str, str],
    t: float,
    exc_type: str,
    status: dict[str, str],
    count: int,
) -> dict[str, Any]:
    """An issue of OLD gets `status` before the deploy, then NEW sees it `count` times (one
    user in ten): the gate's verdict, which must FAIL with that one issue counted."""
    steady(server, t)
    events(server, [event(OLD, t - 3000, exc_type)])
    [old] = api(
        server,
        "GET",
        f"/organizations/{ORG}/issues/",
        params={
            "query": exc_type,
            "environment": ENV,
            "project": str((server.store.project(ORG, "web") or {})["id"]),
        },
    ).json()
    api(server, "PUT", f"/organizations/{ORG}/issues/{old['id']}/", json=status)
    spread_over = enumerate(spread(count, t + 70, t + 600))
    events(server, [event(NEW, w, exc_type, user=f"u{i % 10}") for i, w in spread_over])
    code, report, _ = gate(env)
    assert (report["verdict"], code) == ("FAIL", 3), report["reason"]
    [row] = [i for i in report["new_issues"] if i["counted"]]
    return dict(row)


def test_regressed_issue_fails(server: DevServer, env: dict[str, str], deployed_at: float) -> None:
    row = comes_back(server, env, deployed_at, "IndexError", {"status": "resolved"}, 40)
    assert (row["kind"], row["rule"], row["events"], row["users"]) == (
        "regressed",
        "regressed-issues",
        40,
        10,
    )


class _Healthy(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def app_url() -> Iterator[str]:
    httpd = HTTPServer(("127.0.0.1", 0), _Healthy)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/healthz"
    httpd.shutdown()
    httpd.server_close()


def test_healthy_url_after_the_window_closed_passes(
    server: DevServer, env: dict[str, str], deployed_at: float, app_url: str
) -> None:
    steady(server, deployed_at)
    code, report, _ = gate(env, "--health-url", app_url)
    assert (report["verdict"], code) == ("PASS", 0), report["reason"]
    [probe] = report["health"]
    assert probe["healthy"] and probe["attempts"] >= 3


def test_late_baseline_events_and_sessions_do_not_fail_early(
    server: DevServer, env: dict[str, str], sim: SimClock
) -> None:
    """Live, on a seconds scale: the new release's session aggregates arrive 2.5 s after
    their minute... second, and baseline events 2 s late. Only settled buckets count. The
    late data arrive on the test's clock while the gate waits (its waits take no time)."""
    t = sim.now()
    release(server, OLD)
    release(server, NEW)
    deploy(server, OLD, t - 3600, t - 3600)
    deploy(server, NEW, t, t)
    for i in range(8):  # baseline: 8 one-second buckets before the deploy
        sessions_at(server, OLD, t - 8 + i, 5000, 50)
    for i in range(4):
        late = (
            (t + i + 1, lambda i=i: events(server, [event(NEW, t + i + 0.5, "TimeoutError")])),
            (t + i + 2.0, lambda i=i: events(server, [event(OLD, t + i + 0.2, "TimeoutError")])),
            (t + i + 2.5, lambda i=i: sessions_at(server, NEW, t + i, 5000, 50)),
        )
        for when, action in late:  # events 2 s late, sessions 2.5 s late
            sim.at(when, action)
    code, report, _ = gate(
        env,
        *("--grace", "0", "--window", "4s", "--settle", "1s", "--settle-sessions", "3s"),
        *("--bucket", "1s", "--poll", "0.3"),
    )
    assert (report["verdict"], code) == ("PASS", 0), report["reason"]
    assert report["polls"] > 3  # it looked while the sessions were still missing


def sessions_at(server: DevServer, version: str, when: float, count: int, errored: int) -> None:
    payload = {
        "attrs": {"release": version, "environment": ENV},
        "aggregates": [{"started": iso(when), "exited": count - errored, "errored": errored}],
    }
    assert envelope(server, [("sessions", payload)]).status_code == 200


def test_canary_at_ten_percent_without_sessions_is_never_a_pass(
    server: DevServer, env: dict[str, str], deployed_at: float
) -> None:
    """Old release at 90% of traffic and its rate; the canary at 10% with 5x the rate: by
    time it looks better than the baseline, but there is no traffic denominator."""
    t = deployed_at
    events(server, [event(OLD, w, "TimeoutError") for w in spread(40, t - WINDOW, t)])
    events(server, [event(OLD, w, "TimeoutError") for w in spread(36, t, t + 700)])
    events(server, [event(NEW, w, "TimeoutError") for w in spread(20, t + GRACE, t + 700)])
    code, report, _ = gate(env)
    assert (report["verdict"], code) == ("INCONCLUSIVE", 0), report["reason"]
    assert "no traffic denominator" in report["reason"]


def test_thirty_errors_against_ten_is_inconclusive(
    server: DevServer, env: dict[str, str], deployed_at: float
) -> None:
    t = deployed_at
    sessions(server, OLD, t - WINDOW, 10, 1000, 1)
    sessions(server, NEW, t + GRACE, 10, 1000, 3)
    code, report, _ = gate(env)
    assert (report["verdict"], code) == ("INCONCLUSIVE", 0), report["reason"]
    rate = report["rate"]
    assert (rate["new_errors"], rate["base_errors"], rate["ratio"]) == (30, 10, 3.0)
    assert rate["upper"] == pytest.approx(6.0, abs=0.1)  # the 95% bound the issue names


def test_one_users_retry_loop_on_an_existing_issue_passes(
    server: DevServer, env: dict[str, str], deployed_at: float
) -> None:
    t = deployed_at
    steady(server, t)
    sessions(server, NEW, t + 300, 1, 1, 1)  # the one session that looped
    events(
        server, [event(NEW, t + 300 + i * 0.1, "TimeoutError", user="looper") for i in range(150)]
    )
    code, report, _ = gate(env)
    assert (report["verdict"], code) == ("PASS", 0), report["reason"]
    assert not [i for i in report["new_issues"] if i["counted"]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--report-only", "new-issues,rates"], "unknown rule 'rates' in report_only"),
        (["--window", "30s", "--settle", "1m"], "shorter than the settle period"),
        (["--window", "90s", "--settle-sessions", "2m"], "shorter than the settle period"),
        (["--fail-fast", "--report-only", "new-issues"], "contradicts --report-only new-issues"),
        (["--health-body", "ok"], "without health_url"),
    ],
)
def test_bad_gate_policy_is_refused_before_any_request(
    server: DevServer, env: dict[str, str], args: list[str], message: str
) -> None:
    done = run_cli(["gate", NEW, "--env", ENV, *args], env)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1  # one line, no traceback
    assert server.store.requests == []


def test_the_gate_token_is_used_and_never_shown(
    server: DevServer, env: dict[str, str], deployed_at: float
) -> None:
    """The main token cannot read (wrong), the gate token can: the gate reads with it."""
    steady(server, deployed_at)
    code, report, stderr = gate(
        {**env, "SENTRY_AUTH_TOKEN": "no-such-token-1234", "SENTRY_GATE_AUTH_TOKEN": TOKEN}
    )
    assert (report["verdict"], code) == ("PASS", 0), report["reason"]
    assert TOKEN not in stderr + json.dumps(report)


def test_a_gate_token_without_read_scope_is_exit_2_naming_it(
    server: DevServer, env: dict[str, str], deployed_at: float
) -> None:
    done = run_cli(
        ["gate", NEW, "--env", ENV], {**env, "SENTRY_GATE_AUTH_TOKEN": "no-such-token-1234"}
    )
    assert done.returncode == 2, done.stderr
    assert "needs the" in done.stderr and "SENTRY_GATE_AUTH_TOKEN" in done.stderr
    assert "no-such-token-1234" not in done.stderr


def test_rate_limited_events_are_reported_and_suspect_commit_named(
    server: DevServer, env: dict[str, str], deployed_at: float
) -> None:
    t = deployed_at
    steady(server, t)
    api(
        server,
        "PUT",
        f"/organizations/{ORG}/releases/{NEW}/",
        json={
            "commits": [
                {
                    "id": "c" * 40,
                    "repository": "acme/shop",
                    "message": "cart: read the price lazily",
                    "author_name": "Ada",
                    "author_email": "ada@example.com",
                    "patch_set": [{"path": "shop/cart.py", "type": "M"}],
                }
            ]
        },
    )
    crash = event(NEW, t + 100, "LookupError", user="u1")
    crash["exception"]["values"][0]["stacktrace"] = {
        "frames": [{"filename": "shop/cart.py", "function": "price", "lineno": 3}]
    }
    events(
        server,
        [{**crash, "event_id": uuid.uuid4().hex, "timestamp": t + 100 + i} for i in range(5)],
    )
    server.store.data["quotas"] = {"web": 0}  # Relay's quota: everything further is dropped
    assert envelope(server, [("event", event(NEW, t + 200))]).status_code == 429
    code, report, _ = gate(env)
    assert (report["verdict"], code) == ("FAIL", 3), report["reason"]
    [row] = [i for i in report["new_issues"] if i["counted"]]
    assert row["suspect_commit"]["commit"] == "c" * 40
    assert report["outcomes"]["rate_limited"] == 1
    assert "dropped 1 error event" in report["reason"]
    assert report["rollback_hint"] == OLD


def test_another_release_name_from_the_sdk_is_named_never_a_pass(
    server: DevServer, env: dict[str, str], deployed_at: float
) -> None:
    """CI created shop@1.1.0 but the SDK reports the commit sha: nothing lands on NEW."""
    t = deployed_at
    sessions(server, OLD, t - WINDOW, 10, 1000, 10)
    sessions(server, "shop@4f2a9c1", t, 10, 1000, 10)
    code, report, _ = gate(env)
    assert (report["verdict"], code) == ("INCONCLUSIVE", 0), report["reason"]
    assert "shop@4f2a9c1" in report["reason"]
    assert "set the SDK's release" in report["reason"]


def test_an_archived_issue_that_escalates_fails(
    server: DevServer, env: dict[str, str], deployed_at: float
) -> None:
    archived = {"status": "ignored", "substatus": "archived_until_escalating"}
    row = comes_back(server, env, deployed_at, "MemoryError", archived, 15)
    assert (row["kind"], row["rule"], row["substatus"]) == (
        "escalating",
        "escalating-issues",
        "escalating",
    )
