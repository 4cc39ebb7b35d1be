"""How the rules' verdicts make the gate's: FAIL when a deciding rule fails, WATCHING while one
watches, INCONCLUSIVE when one cannot tell, PASS when all pass; the words a user reads for
each, the release-name rule, dropped events, and the INCONCLUSIVE / API-error mappings."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

from sentry_release.config.settings import GatePolicy
from sentry_release.gate.models import Outcomes
from sentry_release.gate.policy import (
    FAIL,
    INCONCLUSIVE,
    PASS,
    WATCHING,
    GateReport,
    Observations,
    ProbeStatus,
    RateInput,
    api_error_report,
    apply_policy,
    evaluate,
)
from sentry_release.gate.sequential import Bucket

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
POLICY = GatePolicy()
STEADY = RateInput("sessions", "concurrent", (Bucket(1, 1000.0, 1, 1000.0),) * 10, 1.0, "old")


def healthy(url: str = "http://app/healthz") -> ProbeStatus:
    status = ProbeStatus(url)
    for _ in range(3):
        status = status.record(True, "HTTP 200", 3)
    return status


def obs(**changes: Any) -> Observations:
    fields: dict[str, Any] = {
        "version": "2.0",
        "environment": "production",
        "deploy_start": T0,
        "window_start": T0,
        "window_end": T0 + timedelta(minutes=10),
        "final": True,
        "rate": None,
        "rates": (replace(STEADY, buckets=(Bucket(0, 1000.0, 0, 1000.0),) * 10),),
    }
    return Observations(**{**fields, **changes})


def test_all_passing_rules_pass_with_their_reasons_but_the_release_name() -> None:
    report = evaluate(obs(probes=(healthy(),)), POLICY)
    assert report.verdict == PASS
    assert report.reason == (
        "no new issues above the floors; no regressed issues above the floors; "
        "no escalating issues above the floors; no errored sessions on either side "
        "(10000 vs 10000 sessions); health checks passed"
    )
    assert [r.name for r in report.rules][-1] == "release-name"
    assert (report.version, report.environment, report.probes) == (
        "2.0",
        "production",
        (healthy(),),
    )


def test_one_watching_rule_keeps_the_gate_watching() -> None:
    assert evaluate(obs(final=False), POLICY).verdict == WATCHING
    report = evaluate(obs(final=False), POLICY)
    assert report.reason == "watching"
    assert {r.name: r.verdict for r in report.rules}["release-name"] == WATCHING


def test_failing_rules_are_all_named() -> None:
    bad = ProbeStatus("http://app/healthz")
    for _ in range(3):
        bad = bad.record(False, "HTTP 503", 3)
    loud = replace(STEADY, buckets=(Bucket(60, 1000.0, 5, 1000.0),) * 4)
    report = evaluate(obs(rates=(loud,), probes=(bad,), final=False), POLICY)
    assert report.verdict == FAIL
    assert report.reason.startswith("error rate regressed: 240 errored sessions")
    assert report.reason.endswith(
        "; health check failed: http://app/healthz (HTTP 503, 3 in a row)"
    )


def test_the_single_rate_input_is_judged_when_no_per_project_list_is_given() -> None:
    loud = replace(STEADY, buckets=(Bucket(60, 1000.0, 5, 1000.0),) * 4)
    assert evaluate(obs(rates=(), rate=loud), POLICY).verdict == FAIL
    assert evaluate(obs(rates=(), rate=None), POLICY).verdict == INCONCLUSIVE


def test_inconclusive_rules_are_named_and_a_silent_release_name_said() -> None:
    report = evaluate(obs(rates=(), new_traffic=False, other_releases=("shop@1", "shop@2")), POLICY)
    assert report.verdict == INCONCLUSIVE
    parts = report.reason.split("; ")
    assert parts[0] == "no baseline release to compare with"
    assert parts[1].startswith("no event or session of 2.0 reached production since the deploy")
    assert "these releases did: shop@1, shop@2" in report.reason
    assert "set the SDK's release to '2.0'" in report.reason
    assert report.reason.endswith("the SDK sends (--release / the release input)")
    six = evaluate(obs(new_traffic=False, other_releases=tuple(f"s@{i}" for i in range(6))), POLICY)
    assert "s@4" in six.reason and "s@5" not in six.reason  # five names at most
    hinted = evaluate(
        obs(new_traffic=False, other_releases=("shop@1",), same_commit="shop@1 is this commit"),
        POLICY,
    )
    assert hinted.reason.endswith("; shop@1 is this commit")
    heard = evaluate(obs(new_traffic=True, other_releases=("shop@1",)), POLICY)
    assert heard.verdict == PASS
    named = {r.name: r for r in heard.rules}["release-name"]
    assert (named.verdict, named.reason) == (PASS, "release name seen")
    quiet = evaluate(obs(new_traffic=False, other_releases=()), POLICY)
    assert quiet.verdict == PASS  # nothing reached the environment: no other name to suspect


def test_a_probe_short_of_samples_gets_its_extra_attempts_after_the_window() -> None:
    status = ProbeStatus("http://app/healthz")
    for ok in (True, False, True):
        status = status.record(ok, "HTTP 200" if ok else "HTTP 503", 3)
    assert evaluate(obs(probes=(status,)), POLICY).verdict == FAIL
    assert evaluate(obs(probes=(status,), probe_extra=1), POLICY).verdict == WATCHING


def test_dropped_events_are_said_except_while_watching() -> None:
    dropped = Outcomes(accepted=100, rate_limited=7, invalid=2, client_discard=1)
    report = evaluate(obs(outcomes=dropped), POLICY)
    assert report.reason.startswith("no new issues above the floors; ")
    assert report.reason.endswith(
        "; Sentry dropped 10 error event(s) in the window (7 rate-limited): the gate could not "
        "see them"
    )
    assert report.outcomes == dropped
    assert evaluate(obs(outcomes=dropped, final=False), POLICY).reason == "watching"
    assert "dropped" not in evaluate(obs(outcomes=Outcomes(accepted=5)), POLICY).reason


def test_inconclusive_maps_through_on_inconclusive() -> None:
    unsure = GateReport(INCONCLUSIVE, "cannot tell")
    failed, warning = apply_policy(unsure, replace(POLICY, on_inconclusive="fail"))
    assert failed.reason == "inconclusive (cannot tell) and --on-inconclusive is fail"
    assert (failed.verdict, failed.observed_verdict, warning) == (FAIL, INCONCLUSIVE, None)
    passed, warning = apply_policy(unsure, POLICY)
    assert (passed.verdict, passed.observed_verdict) == (INCONCLUSIVE, INCONCLUSIVE)
    assert warning == "deploy gate inconclusive: cannot tell; passing (--on-inconclusive pass)"
    decided = GateReport(FAIL, "boom")
    assert apply_policy(decided, replace(POLICY, on_inconclusive="fail")) == (decided, None)


def test_an_unreadable_sentry_fails_unless_told_to_pass() -> None:
    failed, warning = api_error_report("HTTP 502", POLICY, {"baseline_release": "1.9"})
    assert (failed.verdict, failed.observed_verdict, failed.api_error) == (
        FAIL,
        "API_ERROR",
        "HTTP 502",
    )
    assert failed.reason == "Sentry could not be read (HTTP 502) and --on-api-error is fail"
    assert warning is None and failed.rollback_hint == "1.9"
    passed, warning = api_error_report(
        "HTTP 502", replace(POLICY, on_api_error="pass"), {"baseline_release": "1.9"}
    )
    assert (passed.verdict, passed.observed_verdict, passed.api_error) == (
        PASS,
        "API_ERROR",
        "HTTP 502",
    )
    reason = "Sentry could not be read (HTTP 502); passing because --on-api-error is pass"
    assert passed.reason == reason and warning == f"deploy gate could not see: {reason}"
    assert passed.rollback_hint == "1.9"
    assert api_error_report("HTTP 502", POLICY)[0].context == {}
