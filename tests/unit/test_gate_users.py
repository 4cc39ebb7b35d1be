"""Errored users beside errored sessions (issue #22, "crash loops are one user"): the sessions
read asks `sum(session)` and `count_unique(user)` in one request and parses both; the rate
rule's buckets count users when both sides' sessions carry users, else sessions."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from sentry_release.config.settings import DeployOptions, GatePolicy, Settings
from sentry_release.gate.models import Deploy, Project, Series, Traffic
from sentry_release.gate.reads import Reads
from sentry_release.gate.sequential import Bucket
from sentry_release.gate.stats import robust_dispersion
from sentry_release.gate.watch import Plan, Poll, _Watcher, counts_users
from sentry_release.output import Output
from sentry_release.sentry.api import SentryApi

BASE = "https://sentry.example.com/"
API = BASE + "api/0/organizations/acme"
START = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)
END = START + timedelta(minutes=2)
INTERVALS = ["2026-05-01T12:00:00Z", "2026-05-01T12:01:00Z"]


def group(status: str, sessions: list[int], users: list[int]) -> dict[str, object]:
    """One group as `snuba/sessions_v2.py` answers it with both fields asked."""
    return {
        "by": {"session.status": status},
        "totals": {"sum(session)": sum(sessions), "count_unique(user)": max(users)},
        "series": {"sum(session)": sessions, "count_unique(user)": users},
    }


def reads() -> Reads:
    responses.get(f"{API}/releases/1.1/", json={"version": "1.1", "projects": [{"id": 11}]})
    found = Reads(SentryApi(BASE, "tok"), "acme", "production", clock=lambda: 0.0)
    found.bind_projects("1.1", ())
    return found


@responses.activate
def test_one_request_asks_sessions_and_users_by_status_and_both_are_parsed() -> None:
    gate = reads()
    responses.get(
        f"{API}/sessions/",
        json={
            "intervals": INTERVALS,
            "groups": [
                # minute 1: one user crash-looped into 50 sessions, 2 others errored once
                group("healthy", [900, 950], [890, 940]),
                group("errored", [52, 10], [2, 10]),
                group("crashed", [1, 0], [1, 0]),
                group("abnormal", [0, 0], [0, 0]),
            ],
        },
    )
    found = gate.session_traffic("1.1", START, END, 60.0)
    assert found is not None
    asked = parse_qs(urlsplit(responses.calls[-1].request.url or "").query)
    assert asked["field"] == ["sum(session)", "count_unique(user)"]
    assert asked["groupBy"] == ["session.status"]
    assert len(responses.calls) == 2  # the release, then one sessions read
    assert found.errored.values == (53.0, 10.0)
    assert found.exposure is not None and found.exposure.values == (953.0, 960.0)
    assert found.errored_users is not None and found.errored_users.values == (3.0, 10.0)
    assert found.users is not None and found.users.values == (893.0, 950.0)
    assert found.has_users
    users = found.by_users()
    assert (users.unit, users.errored.values) == ("users", (3.0, 10.0))
    assert gate.session_series("1.1", START, END, 60.0) is not None  # the old shape, kept


@responses.activate
def test_an_answer_without_users_counts_no_users() -> None:
    gate = reads()
    responses.get(
        f"{API}/sessions/",
        json={
            "intervals": INTERVALS,
            "groups": [
                {"by": {"session.status": "healthy"}, "series": {"sum(session)": [90, 95]}},
                {"by": {"session.status": "errored"}, "series": {"sum(session)": [10, 5]}},
            ],
        },
    )
    found = gate.session_traffic("1.1", START, END, 60.0)
    assert found is not None and found.errored.values == (10.0, 5.0)
    assert not found.has_users
    assert found.users is not None and found.users.total() == 0


def test_traffic_without_user_series_cannot_be_counted_in_users() -> None:
    bare = Traffic("transactions", Series(START, 60.0, (1.0,)), Series(START, 60.0, (9.0,)))
    assert not bare.has_users
    with pytest.raises(ValueError, match="no users"):
        bare.by_users()


def traffic(
    errored: list[float], sessions: list[float], bad_users: list[float], users: list[float]
) -> Traffic:
    series = [Series(START, 60.0, tuple(v)) for v in (errored, sessions, bad_users, users)]
    return Traffic("sessions", series[0], series[1], errored_users=series[2], users=series[3])


def watcher() -> _Watcher:
    settings = Settings(
        url=BASE,
        auth_token="tok",
        org="acme",
        deploy=DeployOptions(environment="production"),
        gate=GatePolicy(enabled=True),
    )
    out = Output(stdout=io.StringIO(), stderr=io.StringIO(), is_tty=False)
    found = _Watcher(
        settings, SentryApi(BASE, "tok"), "1.1", None, out, lambda: 0.0, lambda s: None, 30.0
    )
    found.reads.projects = (Project(11, "web"),)
    return found


def plan(baseline: Traffic) -> Plan:
    return Plan(
        deploy=Deploy("1", "production"),
        deploy_start=START,
        start_source="dateStarted",
        window_start=START,
        window_end=END,
        baseline_release="1.0",
        baseline={"11": baseline},
        unit="sessions",
        phi={"11": 1.0},
        settle=60.0,
    )


# new: minute 0 has one user's 50-session crash loop; the baseline: 1% errored either way
NEW = traffic([60, 10], [1050, 1000], [11, 10], [1001, 1000])
BEFORE = traffic([10] * 4, [1000] * 4, [10] * 4, [1000] * 4)


def test_the_rate_rule_counts_errored_users_when_both_sides_carry_users() -> None:
    poll = Poll((), False, {"11": NEW}, {}, 2)
    (found,) = watcher().rate_inputs(plan(BEFORE), poll)
    assert found.unit == "users"
    # each new minute beside its own share of the baseline (two minutes each)
    assert found.buckets == (Bucket(11, 1001, 20, 2000), Bucket(10, 1000, 20, 2000))


@pytest.mark.parametrize("side", ["new", "base"])
def test_sessions_without_users_on_either_side_are_counted_as_sessions(side: str) -> None:
    bare = traffic([60, 10], [1050, 1000], [0, 0], [0, 0])
    bare_base = traffic([10] * 4, [1000] * 4, [0] * 4, [0] * 4)
    new, before = (bare, BEFORE) if side == "new" else (NEW, bare_base)
    assert not counts_users(new, before)
    (found,) = watcher().rate_inputs(plan(before), Poll((), False, {"11": new}, {}, 2))
    assert found.unit == "sessions"
    assert found.buckets[0] == Bucket(60, 1050, 20, 2000)


def test_a_crash_loop_is_one_errored_user_not_fifty_sessions() -> None:
    assert counts_users(NEW, BEFORE)
    users = NEW.by_users()
    assert users.errored.values[0] / users.exposure.values[0] < 0.011  # type: ignore[union-attr]
    assert NEW.errored.values[0] / NEW.exposure.values[0] > 0.05  # type: ignore[union-attr]


def test_the_users_unit_takes_its_prior_dispersion_from_the_baselines_users() -> None:
    """The plan's dispersion is the baseline's sessions series (crash loops in it make it
    large); judged in users, the users series gives it."""
    steady_users = traffic([10, 60, 10, 10], [1000, 1050, 1000, 1000], [10, 11, 9, 10], [1000] * 4)
    loopy = replace(plan(steady_users), phi={"11": 6.0})
    (found,) = watcher().rate_inputs(loopy, Poll((), False, {"11": NEW}, {}, 2))
    assert found.unit == "users"
    assert found.phi == robust_dispersion((10, 11, 9, 10), (1000,) * 4) == 1.0
