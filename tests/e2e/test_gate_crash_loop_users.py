"""Issue #22, "crash loops are one user", end to end against the stand-in: an SDK that sets a
user sends sessions carrying `did`; the gate reads errored users beside errored sessions and
judges users. One user crash-looping into 50 errored sessions a minute is one errored user
a minute: the healthy release does not FAIL, while a 4x regression across many users does.
Without users, the same crash loop is 50 errored sessions a minute, and the gate (judging
sessions) fails it; the report says which unit it judged."""

from __future__ import annotations

import time
from typing import Any

from sentry_standin import DevServer
from tests.e2e.test_gate_table import (
    ENV,
    MINUTE,
    NEW,
    OLD,
    deploy,
    envelope,
    gate,
    iso,
    minute,
    release,
)

USERS = 200  # users a minute, each with one session a minute
LOOPER = "looper"


def user_sessions(
    server: DevServer,
    version: str,
    start: float,
    minutes: int,
    errored: int,
    *,
    loop: int = 0,
    users: bool = True,
) -> None:
    """Server-mode aggregates, one item per user and minute (with `did` when `users`):
    `errored` of the USERS users have an errored session; with `loop`, one more user's
    session crash-loops into `loop` errored sessions every minute."""
    for i in range(minutes):
        started = iso(start + i * MINUTE)
        items: list[dict[str, Any]] = []
        for n in range(USERS):
            key = "errored" if n < errored else "exited"
            items.append({"started": started, "did": f"user-{n}", key: 1})
        if loop:
            items.append({"started": started, "did": LOOPER, "errored": loop})
        if not users:
            items = [{k: v for k, v in item.items() if k != "did"} for item in items]
        payload = {"attrs": {"release": version, "environment": ENV}, "aggregates": items}
        done = envelope(server, [("sessions", payload)])
        assert done.status_code == 200, done.text


def deployed(server: DevServer) -> float:
    """OLD served 5% errored users for half an hour; NEW deployed two hours ago (the default
    timeline is over, so the gate decides at once)."""
    t = minute(time.time() - 2 * 3600)
    for version in (OLD, NEW):
        release(server, version)
    deploy(server, OLD, t - 3600, t - 3600)
    deploy(server, NEW, t, t)
    return t


def test_one_users_crash_loop_does_not_fail_a_healthy_release(
    server: DevServer, env: dict[str, str]
) -> None:
    t = deployed(server)
    user_sessions(server, OLD, t - 1800, 30, 10)
    user_sessions(server, NEW, t, 10, 10, loop=50)  # 60 errored sessions of 250 a minute
    code, report, _ = gate(env)
    assert report["rate"]["unit"] == "users", report["reason"]
    assert (report["verdict"], code) == ("PASS", 0), report["reason"]
    # errored users: 10 a minute and the looping user, of 201
    assert (report["rate"]["new_errors"], report["rate"]["new_exposure"]) == (110, 2010)


def test_a_four_times_regression_across_many_users_fails_on_users(
    server: DevServer, env: dict[str, str]
) -> None:
    t = deployed(server)
    user_sessions(server, OLD, t - 1800, 30, 10)
    user_sessions(server, NEW, t, 10, 40, loop=50)
    code, report, _ = gate(env)
    assert (report["verdict"], code) == ("FAIL", 3), report["reason"]
    assert report["rate"]["unit"] == "users"
    assert "errored users" in report["rate"]["reason"]


def test_without_users_the_gate_judges_sessions_and_says_so(
    server: DevServer, env: dict[str, str]
) -> None:
    t = deployed(server)
    user_sessions(server, OLD, t - 1800, 30, 10, users=False)
    user_sessions(server, NEW, t, 10, 10, loop=50, users=False)
    code, report, _ = gate(env)
    assert report["rate"]["unit"] == "sessions"
    assert (report["verdict"], code) == ("FAIL", 3), report["reason"]
