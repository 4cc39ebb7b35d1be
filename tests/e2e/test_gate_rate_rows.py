"""Issue #22's table, rate rows, end to end against the stand-in: low traffic with a 5x
errored share FAILs, a regression in one of two projects FAILs naming it, and a regression
whose errored-session updates arrive late is never a PASS."""

from __future__ import annotations

import json
import time

import requests

from sentry_standin import DevServer
from tests.e2e.test_gate_table import (
    ENV,
    MINUTE,
    NEW,
    OLD,
    api,
    deploy,
    event,
    events,
    gate,
    iso,
    minute,
    sessions,
    sessions_at,
    steady,
)
from tests.helpers import ORG, SimClock


def both_projects(server: DevServer) -> float:
    """OLD and NEW releases of `web` and `api`; NEW deployed two hours ago."""
    t = minute(time.time() - 2 * 3600)
    for version in (OLD, NEW):
        api(
            server,
            "POST",
            f"/organizations/{ORG}/releases/",
            json={"version": version, "projects": ["web", "api"]},
        )
    deploy(server, OLD, t - 3600, t - 3600)
    deploy(server, NEW, t, t)
    return t


def project_sessions(
    server: DevServer, project: str, version: str, start: float, minutes: int, per: int, bad: int
) -> None:
    """Session aggregates of one project, through its own DSN."""
    dsn = server.dsn(ORG, project)
    key = dsn.split("//", 1)[1].split("@", 1)[0]
    buckets = [
        {"started": iso(start + i * MINUTE), "exited": per - bad, "errored": bad}
        for i in range(minutes)
    ]
    payload = json.dumps({"attrs": {"release": version, "environment": ENV}, "aggregates": buckets})
    body = b"\n".join(
        [
            json.dumps({"dsn": dsn}).encode(),
            json.dumps({"type": "sessions", "length": len(payload)}).encode(),
            payload.encode(),
        ]
    )
    done = requests.post(
        f"{server.url}api/{dsn.rsplit('/', 1)[1]}/envelope/",
        data=body,
        headers={"X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7"},
        timeout=10,
    )
    assert done.status_code == 200, done.text


def test_low_traffic_errored_share_two_to_ten_percent_fails(
    server: DevServer, env: dict[str, str]
) -> None:
    """20 sessions a minute: 12 errored of 600 before the deploy (2%), 20 of 200 after (10%);
    the one-look exact p is 0.0007, which the gate's look at the window's end uses."""
    t = both_projects(server)
    for i in range(30):
        sessions(server, OLD, t - 1800 + i * MINUTE, 1, 20, 1 if i % 5 < 2 else 0)
    sessions(server, NEW, t, 10, 20, 2)
    code, report, _ = gate(env)
    assert (report["verdict"], code) == ("FAIL", 3), report["reason"]
    assert (report["rate"]["new_errors"], report["rate"]["base_errors"]) == (20, 12)


def test_one_of_two_projects_four_times_worse_fails_naming_it(
    server: DevServer, env: dict[str, str]
) -> None:
    """`web` steady at 1,000 sessions a minute, `api` (100 a minute) from 1% to 4%: pooled,
    the ratio is 1.27 (under the 1.5 limit); judged per project, `api` fails."""
    t = both_projects(server)
    for project, per, bad in (("web", 1000, 10), ("api", 100, 1)):
        project_sessions(server, project, OLD, t - 1800, 30, per, 1 if project == "api" else bad)
        project_sessions(server, project, NEW, t, 10, per, 4 if project == "api" else bad)
    code, report, _ = gate(env, "--project", "web", "--project", "api")
    assert (report["verdict"], code) == ("FAIL", 3), report["reason"]
    assert "api: error rate regressed" in report["reason"]
    assert "web: error rate regressed" not in report["reason"]
    assert report["rate"]["project"] == "api"
    assert {r["project"]: r["verdict"] for r in report["rate"]["projects"]} == {
        "web": "PASS",
        "api": "FAIL",
    }


def _late_errors(server: DevServer, sim: SimClock, t: float) -> None:
    """NEW's sessions arrive on time healthy; their errored updates (3x the baseline's
    rate) arrive 3.5 s after each one-second bucket (on a seconds scale, 'minutes late'),
    on the test's clock while the gate waits."""
    for i in range(5):
        sim.at(t + i + 0.2, lambda i=i: sessions_at(server, NEW, t + i, 5000, 0))
        sim.at(t + i + 3.5, lambda i=i: sessions_at(server, NEW, t + i, 150, 150))


def test_a_regression_whose_errored_updates_arrive_late_is_never_a_pass(
    server: DevServer, env: dict[str, str], sim: SimClock
) -> None:
    t = sim.now()
    for version in (OLD, NEW):
        api(
            server,
            "POST",
            f"/organizations/{ORG}/releases/",
            json={"version": version, "projects": ["web"]},
        )
    deploy(server, OLD, t - 3600, t - 3600)
    deploy(server, NEW, t, t)
    for i in range(48):  # the baseline: 48 one-second buckets before the deploy, 1% errored
        sessions_at(server, OLD, t - 48 + i, 5000, 50)
    _late_errors(server, sim, t)
    code, report, _ = gate(
        env,
        *("--grace", "0", "--window", "4s", "--settle", "1s", "--settle-sessions", "1s"),
        *("--bucket", "1s", "--poll", "0.3"),
    )
    assert report["verdict"] != "PASS", report["reason"]
    assert (report["verdict"], code) == ("FAIL", 3), report["reason"]


def test_inconclusive_says_how_many_more_minutes_would_decide(
    server: DevServer, env: dict[str, str]
) -> None:
    """30 errored sessions against 10 (ratio 3, upper bound 6): INCONCLUSIVE, and the warning
    annotation and the report say how much more traffic would decide."""
    t = both_projects(server)
    sessions(server, OLD, t - 600, 10, 1000, 1)
    sessions(server, NEW, t, 10, 1000, 3)
    code, report, stderr = gate(env)
    assert (report["verdict"], code) == ("INCONCLUSIVE", 0), report["reason"]
    minutes = report["rate"]["more_minutes"]
    assert minutes is not None and minutes >= 1
    assert f"about {minutes:.0f} more minute(s) of traffic" in stderr


def test_a_pass_says_when_error_events_tell_another_story(
    server: DevServer, env: dict[str, str]
) -> None:
    """Errored sessions steady, but one user's loop sends 150 error events: the PASS stands
    (one user), and says that events per session rose."""
    t = both_projects(server)
    steady(server, t)
    events(
        server, [event(NEW, t + 300 + i * 0.1, "TimeoutError", user="looper") for i in range(150)]
    )
    code, report, _ = gate(env)
    assert (report["verdict"], code) == ("PASS", 0), report["reason"]
    assert "error events per session rose" in report["reason"]
