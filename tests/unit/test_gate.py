"""The gate's pure decisions: the exact binomial rate test, the new-issue floors, health
streaks, and how `evaluate` combines them over time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from fractions import Fraction
from math import comb
from typing import Any

import pytest

from sentry_release.config.settings import GatePolicy
from sentry_release.errors import ConfigError
from sentry_release.gate.health import parse_expected_status
from sentry_release.gate.policy import (
    FAIL,
    INCONCLUSIVE,
    PASS,
    WATCHING,
    GateReport,
    Observations,
    ProbeStatus,
    api_error_report,
    apply_policy,
    binomial_sf,
    evaluate,
    health_verdict,
    rate_test,
)

POLICY = GatePolicy()

# Reference p-values P(X >= new), X ~ Binomial(new + base, p0), p0 = r0*En / (r0*En + Eb),
# computed once offline with exact rational arithmetic (fractions.Fraction and math.comb,
# summing every term), printed to 13 significant digits and hard-coded here.
RATE_TABLE = [
    # new, base, E_new, E_base, r0, p0, reference p-value, verdict (alpha 0.01, floors 10/5)
    (110, 100, 3600, 3600, 1.5, 0.6, 9.894986769731e-01, PASS),  # 100/h -> 110/h
    (400, 100, 3600, 3600, 1.5, 0.6, 9.507818994543e-22, FAIL),  # 100/h -> 400/h
    (12, 0, 600, 600, 1.5, 0.6, 2.176782336000e-03, FAIL),  # from zero to 12 errors
    (9, 0, 600, 600, 1.5, 0.6, 1.007769600000e-02, INCONCLUSIVE),  # 9 < min_errors
    (30, 10, 600, 600, 1.5, 0.6, 3.522248011417e-02, PASS),  # 3x, but p > alpha
    (20, 10, 600, 600, 1.5, 0.6, 2.914718612235e-01, PASS),
    (50, 100, 1000, 4000, 1.5, 3 / 11, 5.973060400997e-02, PASS),  # session exposures
    (4000, 2500, 3600, 3600, 1.5, 0.6, 5.802993418533e-03, FAIL),  # 1.6x at high volume
    (40, 100, 300, 3600, 1.5, 1 / 9, 1.311617994224e-08, FAIL),  # early in the window
    (25, 10, 600, 600, 2.0, 2 / 3, 3.443549554996e-01, PASS),
    (1, 0, 600, 600, 1.5, 0.6, 6.000000000000e-01, INCONCLUSIVE),  # one stray error
]


@pytest.mark.parametrize(("new", "base", "en", "eb", "r0", "p0", "p_ref", "verdict"), RATE_TABLE)
def test_rate_test_table(
    new: int, base: int, en: float, eb: float, r0: float, p0: float, p_ref: float, verdict: str
) -> None:
    result = rate_test(new, base, en, eb, max_ratio=r0, alpha=0.01, min_errors=10, min_excess=5)
    assert result.p0 == pytest.approx(p0, rel=1e-12)
    assert result.p_value == pytest.approx(p_ref, rel=1e-9)
    assert result.verdict == verdict, result.reason
    assert result.expected == pytest.approx(r0 * base * en / eb)


def test_binomial_sf_matches_exact_rational_sum() -> None:
    for n, p in [(1, 0.5), (7, 0.3), (40, 0.2), (200, 0.55), (333, 0.01)]:
        for k in range(0, n + 2, max(1, n // 17)):
            q = Fraction(str(p))  # the decimal value, so the exact sum stays small
            exact = sum(comb(n, i) * q**i * (1 - q) ** (n - i) for i in range(k, n + 1))
            assert binomial_sf(k, n, p) == pytest.approx(float(exact), rel=1e-10, abs=1e-300)


def test_binomial_sf_edges_and_large_n_is_fast() -> None:
    assert binomial_sf(0, 10, 0.3) == 1.0
    assert binomial_sf(11, 10, 0.3) == 0.0
    assert binomial_sf(1, 10, 0.0) == 0.0
    assert binomial_sf(10, 10, 1.0) == 1.0
    # a busy service: a million errors; must stay exact-ish and quick
    assert binomial_sf(600_000, 1_000_000, 0.6) == pytest.approx(0.5, abs=1e-3)
    assert binomial_sf(603_000, 1_000_000, 0.6) < 1e-9


def test_binomial_sf_agrees_with_scipy_when_installed() -> None:
    stats = pytest.importorskip("scipy.stats")
    for k, n, p in [(400, 500, 0.6), (30, 40, 0.6), (5, 100, 0.01)]:
        assert binomial_sf(k, n, p) == pytest.approx(stats.binom.sf(k - 1, n, p), rel=1e-9)


def test_excess_floor_keeps_tiny_but_significant_regressions_passing() -> None:
    strict = rate_test(
        4000, 2500, 3600, 3600, max_ratio=1.5, alpha=0.01, min_errors=10, min_excess=300
    )
    assert strict.verdict == PASS
    assert strict.excess == pytest.approx(250)


def test_no_baseline_or_no_exposure_is_inconclusive() -> None:
    kwargs: dict[str, Any] = {"max_ratio": 1.5, "alpha": 0.01, "min_errors": 10, "min_excess": 5}
    assert "no baseline" in rate_test(50, 0, 600, 0, **kwargs).reason
    result = rate_test(0, 50, 0, 100, unit="sessions", **kwargs)
    assert result.verdict == INCONCLUSIVE
    assert "no sessions" in result.reason


# --- evaluate ---------------------------------------------------------------------------------

DEPLOY = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)
WINDOW_START = DEPLOY + timedelta(seconds=300)
WINDOW_END = WINDOW_START + timedelta(seconds=600)
FINAL = WINDOW_END + timedelta(seconds=POLICY.settle)
DURING = WINDOW_START + timedelta(seconds=60)


def issue(
    short: str = "WEB-1",
    count: int = 5,
    users: int = 2,
    level: str = "error",
    unhandled: bool = False,
    first_seen: datetime = DEPLOY + timedelta(seconds=30),
    status: str = "unresolved",
) -> dict[str, Any]:
    return {
        "id": short.split("-")[1],
        "shortId": short,
        "title": f"Error {short}",
        "level": level,
        "count": str(count),
        "userCount": users,
        "isUnhandled": unhandled,
        "status": status,
        "firstSeen": first_seen.isoformat().replace("+00:00", "Z"),
        "permalink": f"https://sentry.example/issues/{short}/",
    }


def obs(**changes: Any) -> Observations:
    values: dict[str, Any] = {
        "version": "1.1",
        "environment": "production",
        "deploy_start": DEPLOY,
        "window_start": WINDOW_START,
        "window_end": WINDOW_END,
        "new_errors": 20,
        "base_errors": 20,
        "new_exposure": 600.0,
        "base_exposure": 600.0,
        "baseline_release": "1.0",
    }
    values.update(changes)
    return Observations(**values)


def test_pass_only_after_window_and_settle() -> None:
    assert evaluate(obs(), POLICY, DURING).verdict == WATCHING
    assert evaluate(obs(), POLICY, WINDOW_END).verdict == WATCHING  # settling
    report = evaluate(obs(), POLICY, FINAL)
    assert report.verdict == PASS
    assert report.details["final"] is True
    assert report.details["rate"]["p_value"] == pytest.approx(binomial_sf(20, 40, 0.6))


def test_handled_new_issue_fails_at_window_end_not_before() -> None:
    observed = obs(issues=(issue(),))
    assert evaluate(observed, POLICY, DURING).verdict == WATCHING
    report = evaluate(observed, POLICY, FINAL)
    assert report.verdict == FAIL
    assert "WEB-1 Error WEB-1" in report.reason
    assert report.new_issues[0]["counted"] is True


@pytest.mark.parametrize("severe", [{"level": "fatal"}, {"unhandled": True, "users": 0}])
def test_fatal_or_unhandled_issue_fails_fast(severe: dict[str, Any]) -> None:
    observed = obs(issues=(issue(**severe),))
    assert evaluate(observed, POLICY, DURING).verdict == FAIL
    no_fast = GatePolicy(fail_fast=False)
    assert evaluate(observed, no_fast, DURING).verdict == WATCHING


@pytest.mark.parametrize(
    ("fields", "counted", "why"),
    [
        ({"count": 2}, False, "2 < 3 events"),
        ({"users": 0}, False, "0 < 1 users and handled"),
        ({"users": 0, "unhandled": True}, True, "unhandled"),
        ({"count": 3, "users": 1}, True, "3 events, 1 users"),
    ],
)
def test_issue_floors(fields: dict[str, Any], counted: bool, why: str) -> None:
    report = evaluate(obs(issues=(issue(**fields),)), POLICY, FINAL)
    [row] = report.new_issues
    assert row["counted"] is counted
    assert why in row["why"]
    assert report.verdict == (FAIL if counted else PASS)


def test_old_or_resolved_issues_are_not_new() -> None:
    before = issue("WEB-1", first_seen=DEPLOY - timedelta(seconds=1))
    resolved = issue("WEB-2", status="resolved")
    ignored = issue("WEB-3", status="ignored")
    report = evaluate(obs(issues=(before, resolved, ignored)), POLICY, FINAL)
    assert report.new_issues == ()
    assert report.verdict == PASS


def test_max_new_issues_allows_some() -> None:
    observed = obs(issues=(issue("WEB-1"), issue("WEB-2")))
    assert evaluate(observed, GatePolicy(max_new_issues=2), FINAL).verdict == PASS
    assert evaluate(observed, GatePolicy(max_new_issues=1), FINAL).verdict == FAIL


def test_clear_rate_breach_fails_early_and_too_little_data_is_inconclusive() -> None:
    breach = obs(new_errors=60, base_errors=20, new_exposure=60.0)
    report = evaluate(breach, POLICY, DURING)
    assert report.verdict == FAIL
    assert "p = " in report.reason
    empty = obs(new_errors=0, base_errors=0)
    report = evaluate(empty, POLICY, FINAL)
    assert report.verdict == INCONCLUSIVE
    assert "too few errors" in report.reason


def test_health_failures_fail_and_unhealthy_at_end_fails() -> None:
    down = ProbeStatus("http://app/health")
    for _ in range(3):
        down = down.record(False, "HTTP 500", 3)
    assert evaluate(obs(probes=(down,)), POLICY, DURING).verdict == FAIL
    flaky = ProbeStatus("http://app/health").record(True, "HTTP 200", 3)
    flaky = flaky.record(False, "HTTP 502", 3).record(True, "HTTP 200", 3)
    assert health_verdict((flaky,), 3, final=False)[0] == WATCHING
    report = evaluate(obs(probes=(flaky,)), POLICY, FINAL)
    assert report.verdict == FAIL
    assert "never passed 3 times in a row" in report.reason
    healthy = ProbeStatus("http://app/ok")
    for _ in range(3):
        healthy = healthy.record(True, "HTTP 200", 3)
    assert evaluate(obs(probes=(healthy,)), POLICY, FINAL).verdict == PASS


def test_on_inconclusive_and_on_api_error_policies() -> None:
    report = GateReport(INCONCLUSIVE, "too few errors")
    kept, warning = apply_policy(report, GatePolicy())
    assert kept.verdict == INCONCLUSIVE and warning and "--on-inconclusive pass" in warning
    failed, warning = apply_policy(report, GatePolicy(on_inconclusive="fail"))
    assert failed.verdict == FAIL and warning is None
    assert "--on-inconclusive is fail" in failed.reason
    strict = GatePolicy(on_inconclusive="fail")
    assert apply_policy(GateReport(PASS, "ok"), strict)[0].verdict == PASS

    failed, warning = api_error_report("GET /issues/ failed with HTTP 503", GatePolicy())
    assert failed.verdict == FAIL and warning is None
    assert "Sentry could not be read (GET /issues/ failed with HTTP 503)" in failed.reason
    passed, warning = api_error_report("timed out", GatePolicy(on_api_error="pass"))
    assert passed.verdict == PASS
    assert warning and "could not see" in warning
    assert passed.details["observed_verdict"] == "API_ERROR"


@pytest.mark.parametrize(
    ("spec", "good", "bad"),
    [
        ("2xx", [200, 204, 299], [199, 300, 500]),
        ("200", [200], [201, 500]),
        ("200-299", [200, 250, 299], [300]),
        ("200,301-302", [200, 301, 302], [303, 204]),
    ],
)
def test_expected_status(spec: str, good: list[int], bad: list[int]) -> None:
    check = parse_expected_status(spec)
    assert all(check(s) for s in good)
    assert not any(check(s) for s in bad)


@pytest.mark.parametrize("spec", ["ok", "2xxx", "299-200", "20"])
def test_bad_expected_status_is_a_config_error(spec: str) -> None:
    with pytest.raises(ConfigError, match="health_status"):
        parse_expected_status(spec)
