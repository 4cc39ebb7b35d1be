"""The stand-in's sessions endpoint counts users as Sentry does (`snuba/sessions_v2.py`
UsersField, over Snuba's `users`, `users_errored`, `users_crashed`, `users_abnormal`):
distinct `did`s of single sessions (their status updates included) and of server-mode
aggregates, exploded into healthy/errored/crashed/abnormal, beside `sum(session)`; and the
same 400s as Sentry for a missing or unknown field or groupBy."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests

from tests.differential.cases import UNRECORDED, recorded
from tests.standin.conftest import ORG, READ, Api
from tests.standin.test_differential import standin_answers

MINUTE = 60.0
T0 = (int(time.time()) // 60 - 10) * MINUTE  # a whole minute, ten minutes ago


def iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def send(api: Api, items: list[tuple[str, dict[str, Any]]]) -> None:
    dsn = api.server.dsn(ORG, "web")
    key = dsn.split("//", 1)[1].split("@", 1)[0]
    parts = [json.dumps({"dsn": dsn}).encode()]
    for kind, payload in items:
        data = json.dumps(payload).encode()
        parts += [json.dumps({"type": kind, "length": len(data)}).encode(), data]
    done = requests.post(
        f"{api.server.url}api/{dsn.rsplit('/', 1)[1]}/envelope/",
        data=b"\n".join(parts),
        headers={"X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7"},
        timeout=10,
    )
    assert done.status_code == 200, done.text


ATTRS = {"release": "1.1", "environment": "production"}


def session(sid: str, did: str | None, started: float, **extra: Any) -> dict[str, Any]:
    body = {"sid": sid, "init": True, "started": iso(started), "status": "ok", "attrs": ATTRS}
    if did is not None:
        body["did"] = did
    return {**body, **extra}


def world(api: Api) -> None:
    """Minute 0: u1 crash-loops into 50 errored sessions (aggregates), u2 healthy twice,
    u3 crashes (a single session whose update says so), one session without a user.
    Minute 1: u1 healthy, u4 abnormal."""
    loop = {"started": iso(T0), "did": "u1", "errored": 50}
    u2 = {"started": iso(T0 + 5), "did": "u2", "exited": 2}
    anonymous = {"started": iso(T0 + 6), "exited": 1}
    u1_later = {"started": iso(T0 + MINUTE), "did": "u1", "exited": 1}
    send(api, [("sessions", {"attrs": ATTRS, "aggregates": [loop, u2, anonymous, u1_later]})])
    send(api, [("session", session("s3", "u3", T0 + 10))])
    send(api, [("session", {**session("s3", "u3", T0 + 10), "init": False, "status": "crashed"})])
    send(api, [("session", session("s4", "u4", T0 + MINUTE + 1, status="abnormal"))])


def sessions(api: Api, *params: tuple[str, str]) -> Any:
    scoped = [
        *params,
        ("interval", "1m"),
        ("start", iso(T0)),
        ("end", iso(T0 + 2 * MINUTE)),
        ("project", api.project_id("web")),
        ("environment", "production"),
    ]
    return api.get("/sessions/", token=READ, params=scoped)


BOTH = (("field", "sum(session)"), ("field", "count_unique(user)"))


def test_users_by_status_are_distinct_dids_as_sentry_explodes_them(api: Api) -> None:
    world(api)
    answer = sessions(api, *BOTH, ("groupBy", "session.status"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert sorted(body) == ["end", "groups", "intervals", "query", "start"]
    by = {g["by"]["session.status"]: g for g in body["groups"]}
    assert sorted(by) == ["abnormal", "crashed", "errored", "healthy"]
    users = {s: g["series"]["count_unique(user)"] for s, g in by.items()}
    sessions_ = {s: g["series"]["sum(session)"] for s, g in by.items()}
    # minute 0: users u1 u2 u3 (the anonymous session counts none); u1 errored, u3 crashed
    # minute 1: u1 healthy, u4 abnormal
    assert users == {"healthy": [1, 1], "errored": [1, 0], "crashed": [1, 0], "abnormal": [0, 1]}
    assert sessions_ == {
        "healthy": [3, 1],
        "errored": [50, 0],
        "crashed": [1, 0],
        "abnormal": [0, 1],
    }
    # a total counts each user once over the range: u1 had an errored session, so it is not
    # healthy (healthy = users - users_errored), even though it was healthy in minute 1
    totals = {s: g["totals"]["count_unique(user)"] for s, g in by.items()}
    assert totals == {"healthy": 1, "errored": 1, "crashed": 1, "abnormal": 1}
    assert by["errored"]["totals"]["sum(session)"] == 50


def test_users_without_status_and_by_release(api: Api) -> None:
    world(api)
    plain = sessions(api, ("field", "count_unique(user)")).json()
    assert [g["by"] for g in plain["groups"]] == [{}]
    assert plain["groups"][0]["series"] == {"count_unique(user)": [3, 2]}
    assert plain["groups"][0]["totals"] == {"count_unique(user)": 4}
    by_release = sessions(api, *BOTH, ("groupBy", "release")).json()
    assert [(g["by"], g["totals"]) for g in by_release["groups"]] == [
        ({"release": "1.1"}, {"sum(session)": 56, "count_unique(user)": 4})
    ]


def test_sessions_of_an_sdk_without_users_count_no_users(api: Api) -> None:
    send(api, [("sessions", {"attrs": ATTRS, "aggregates": [{"started": iso(T0), "exited": 9}]})])
    body = sessions(api, *BOTH, ("groupBy", "session.status")).json()
    healthy = next(g for g in body["groups"] if g["by"]["session.status"] == "healthy")
    assert healthy["series"] == {"sum(session)": [9, 0], "count_unique(user)": [0, 0]}


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        # api/endpoints/organization_sessions.py turns InvalidField into ParseError(str(error))
        ((), 'Request is missing a "field"'),
        ((("field", "count_unique(session)"),), 'Invalid field: "count_unique(session)"'),
        ((("field", "sum(session)"), ("groupBy", "user")), 'Invalid groupBy: "user"'),
    ],
)
def test_what_sentry_refuses_is_a_400_in_its_words(
    api: Api, params: tuple[tuple[str, str], ...], detail: str
) -> None:
    answer = sessions(api, *params)
    assert (answer.status_code, answer.json()) == (400, {"detail": detail})


# What 23.7.1's code answers for the users cases (snuba/sessions_v2.py QueryDefinition,
# massage_sessions_result; an empty store answers `groups: []` with the same keys), read from
# the code before the real server recorded them; the recording (2026-12-07) agrees, and the
# differential test now holds the stand-in to it
FROM_23_7_1_CODE = {
    "sessions and users, 1m": {
        "status": 200,
        "keys": ["end", "groups", "intervals", "query", "start"],
    },
    "sessions, unknown field": {
        "status": 400,
        "body": {"detail": 'Invalid field: "count_unique(session)"'},
    },
    "sessions, no field": {"status": 400, "body": {"detail": 'Request is missing a "field"'}},
}


def test_the_real_23_7_1_answered_the_users_cases_as_its_code_reads() -> None:
    assert not UNRECORDED
    answers = recorded()
    assert {name: answers[name] for name in FROM_23_7_1_CODE} == FROM_23_7_1_CODE


@pytest.mark.parametrize("modes", [frozenset(), frozenset({"self-hosted-23.7"})])
def test_the_stand_in_answers_the_users_cases_as_23_7_1(modes: frozenset[str]) -> None:
    answers = standin_answers(modes)
    assert {name: answers[name] for name in FROM_23_7_1_CODE} == FROM_23_7_1_CODE
