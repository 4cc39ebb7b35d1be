"""The issue rules at their floors: which issues count (`--min-events`, `--min-users` for
handled ones with users), which are severe (fatal or unhandled: fail at once), which the
report lists (unresolved, seen since the deploy, each once) and what each rule says."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from sentry_release.config.settings import GatePolicy
from sentry_release.gate.models import Issue
from sentry_release.gate.policy import (
    FAIL,
    PASS,
    WATCHING,
    Observations,
    classify,
    evaluate,
    issue_rows,
)

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
POLICY = GatePolicy(min_events=3, min_users=2)


def issue(**fields: Any) -> Issue:
    base: dict[str, Any] = {
        "id": "1",
        "short_id": "WEB-1",
        "title": "KeyError: cart",
        "level": "error",
        "status": "unresolved",
        "substatus": "new",
        "unhandled": False,
        "events": 5,
        "users": 2,
        "first_seen": T0 + timedelta(minutes=5),
        "last_seen": T0 + timedelta(minutes=6),
        "permalink": None,
        "project_id": "1",
        "project_slug": "web",
        "kind": "new",
    }
    return Issue(**{**base, **fields})


@pytest.mark.parametrize(
    ("fields", "counted", "why"),
    [
        ({"events": 2}, False, "below the floor: 2 < 3 events"),
        ({"events": 3}, True, "3 events, 2 users"),
        ({"users": 1}, False, "below the floor: 1 < 2 users and handled"),
        ({"users": 2}, True, "5 events, 2 users"),
        ({"users": 0}, True, "5 events, no user data"),
        ({"users": 1, "unhandled": True}, True, "5 events, unhandled"),
        ({"events": 2, "unhandled": True}, False, "below the floor: 2 < 3 events"),
    ],
)
def test_an_issue_counts_at_its_floors(fields: dict[str, Any], counted: bool, why: str) -> None:
    seen = issue(**fields)
    row = classify(seen, POLICY)
    assert (row.issue, row.counted, row.why) == (seen, counted, why)
    if not counted:
        assert row.severe is False  # the JSON report's "severe": false, never null


@pytest.mark.parametrize(
    ("fields", "severe"),
    [({}, False), ({"level": "fatal"}, True), ({"unhandled": True}, True)],
)
def test_fatal_or_unhandled_is_severe(fields: dict[str, Any], severe: bool) -> None:
    assert classify(issue(**fields), POLICY).severe is severe


def test_the_report_lists_each_unresolved_issue_seen_since_the_deploy_once() -> None:
    at_deploy = issue(id="1", short_id="WEB-1", first_seen=T0)  # first seen at the deploy
    before = issue(id="2", short_id="WEB-2", first_seen=T0 - timedelta(seconds=1))
    unknown = issue(id="3", short_id="WEB-3", first_seen=None)
    resolved = issue(id="4", short_id="WEB-4", status="resolved")
    old = T0 - timedelta(days=3)
    regressed = issue(id="5", short_id="WEB-5", kind="regressed", first_seen=old, last_seen=T0)
    stale = issue(id="6", short_id="WEB-6", kind="regressed", first_seen=old, last_seen=old)
    again = issue(id="1", short_id="WEB-1", kind="regressed", first_seen=old, last_seen=T0)
    rows = issue_rows([at_deploy, before, unknown, resolved, stale, regressed, again], POLICY, T0)
    assert sorted(r.issue.short_id for r in rows) == ["WEB-1", "WEB-3", "WEB-5"]
    assert [r.issue.kind for r in rows if r.issue.id == "1"] == ["new"]  # the first one found


def test_counted_severe_and_busiest_issues_come_first() -> None:
    rows = issue_rows(
        [
            issue(id="1", short_id="WEB-1", events=2),  # not counted
            issue(id="2", short_id="WEB-2", events=5),
            issue(id="3", short_id="WEB-3", events=9),
            issue(id="4", short_id="WEB-4", events=4, level="fatal"),
            issue(id="5", short_id="WEB-0", events=5),
        ],
        POLICY,
        T0,
    )
    assert [r.issue.short_id for r in rows] == ["WEB-4", "WEB-3", "WEB-0", "WEB-2", "WEB-1"]


def obs(*issues: Issue, final: bool = True) -> Observations:
    return Observations(
        version="new",
        environment="production",
        deploy_start=T0,
        window_start=T0,
        window_end=T0 + timedelta(minutes=10),
        final=final,
        issues=issues,
    )


def rule(report_obs: Observations, policy: GatePolicy, name: str) -> tuple[str, str]:
    found = [r for r in evaluate(report_obs, policy).rules if r.name == name]
    return found[0].verdict, found[0].reason


def test_the_new_issues_rule_allows_max_new_issues() -> None:
    one, two = issue(id="1", short_id="WEB-1"), issue(id="2", short_id="WEB-2", title="Boom")
    allow_one = replace(POLICY, max_new_issues=1)
    assert rule(obs(one), allow_one, "new-issues") == (PASS, "no new issues above the floors")
    verdict, reason = rule(obs(one, two), allow_one, "new-issues")
    assert verdict == FAIL
    assert reason == "2 new issue(s) above the floors (max 1): WEB-1 KeyError: cart, WEB-2 Boom"


def test_the_rule_names_at_most_five_issues() -> None:
    many = [issue(id=str(i), short_id=f"WEB-{i}", events=10 + i) for i in range(7)]
    _, reason = rule(obs(*many), POLICY, "new-issues")
    assert reason.startswith("7 new issue(s) above the floors (max 0): WEB-6 ")
    assert reason.count("WEB-") == 5 and "WEB-1" not in reason


def test_issues_below_the_floors_are_said_at_the_end() -> None:
    low = issue(events=1)
    assert rule(obs(low), POLICY, "new-issues") == (
        PASS,
        "no new issues above the floors (1 below the floors)",
    )
    assert rule(obs(low, final=False), POLICY, "new-issues") == (WATCHING, "0 new issue(s) so far")


def test_a_severe_issue_fails_during_the_window_only_with_fail_fast() -> None:
    fatal = issue(level="fatal")
    assert rule(obs(fatal, final=False), POLICY, "new-issues")[0] == FAIL
    patient = replace(POLICY, fail_fast=False)
    assert rule(obs(fatal, final=False), patient, "new-issues") == (
        WATCHING,
        "1 new issue(s) so far",
    )
    assert rule(obs(fatal), patient, "new-issues")[0] == FAIL


def test_regressed_and_escalating_issues_allow_none() -> None:
    old = T0 - timedelta(days=3)
    for kind in ("regressed", "escalating"):
        seen = issue(kind=kind, first_seen=old, last_seen=T0)
        allow = replace(POLICY, max_new_issues=5)  # only new issues have an allowance
        verdict, reason = rule(obs(seen), allow, f"{kind}-issues")
        assert verdict == FAIL
        assert reason == f"1 {kind} issue(s) above the floors (max 0): WEB-1 KeyError: cart"
