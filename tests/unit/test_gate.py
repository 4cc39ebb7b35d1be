"""The gate's pure parts: statistics against frozen statsmodels/scipy values, the sequential
test's error rate by simulation, and the rules' verdicts."""

from __future__ import annotations

import json
import math
import random
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from sentry_release.config.settings import GatePolicy
from sentry_release.errors import ConfigError
from sentry_release.gate.health import parse_expected_status
from sentry_release.gate.models import Issue
from sentry_release.gate.policy import (
    FAIL,
    INCONCLUSIVE,
    PASS,
    WATCHING,
    Observations,
    ProbeStatus,
    RateInput,
    api_error_report,
    apply_policy,
    classify,
    evaluate,
    health_verdict,
    validate_policy,
)
from sentry_release.gate.sequential import Bucket, log_e_value, sequential_test
from sentry_release.gate.stats import (
    binomial_sf,
    conditional_p_value,
    dispersion,
    ratio_upper_bound,
)

REFERENCE = json.loads((Path(__file__).parents[1] / "fixtures" / "gate_reference.json").read_text())
POLICY = GatePolicy()
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


# --- statistics against frozen reference values ---------------------------------------------


@pytest.mark.parametrize("case", REFERENCE["conditional"], ids=lambda c: str(c["args"]))
def test_conditional_test_matches_statsmodels_exact_cond(case: dict[str, Any]) -> None:
    new, base, e_new, e_base, ratio = case["args"]
    assert conditional_p_value(new, base, e_new, e_base, ratio) == pytest.approx(
        case["p_value"], rel=1e-9, abs=1e-300
    )


@pytest.mark.parametrize("case", REFERENCE["binomial_sf"], ids=lambda c: str(c["args"]))
def test_binomial_sf_matches_scipy(case: dict[str, Any]) -> None:
    k, n, p = case["args"]
    assert binomial_sf(k, n, p) == pytest.approx(case["sf"], rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("case", REFERENCE["upper_bound"], ids=lambda c: str(c["args"]))
def test_upper_bound_matches_scipy_beta_quantile(case: dict[str, Any]) -> None:
    new, base, e_new, e_base, alpha = case["args"]
    assert ratio_upper_bound(new, base, e_new, e_base, alpha) == pytest.approx(
        case["upper"], rel=1e-6
    )


@pytest.mark.parametrize("case", REFERENCE["dispersion"], ids=lambda c: str(c["counts"][:3]))
def test_dispersion_matches_statsmodels_poisson_glm(case: dict[str, Any]) -> None:
    expected = min(100.0, max(1.0, case["pearson_phi"]))
    assert dispersion(case["counts"], case["exposures"]) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("case", REFERENCE["e_value"], ids=lambda c: str(c["theta0"]))
def test_mixture_e_value_matches_scipy_logpmf(case: dict[str, Any]) -> None:
    buckets = [Bucket(*b) for b in case["buckets"]]
    assert log_e_value(buckets, case["theta0"], side=case["side"]) == pytest.approx(
        case["log_e"], rel=1e-9, abs=1e-9
    )


def test_binomial_sf_equals_the_exact_rational_sum() -> None:
    n, p = 40, Fraction(3, 10)
    for k in (0, 5, 12, 25, 40):
        exact = sum(Fraction(math.comb(n, i)) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))
        assert binomial_sf(k, n, 0.3) == pytest.approx(float(exact), rel=1e-12, abs=1e-300)


def test_the_issues_example_bound_thirty_against_ten() -> None:
    assert ratio_upper_bound(30, 10, 1.0, 1.0, 0.05) == pytest.approx(6.02, abs=0.01)


# --- the sequential test --------------------------------------------------------------------


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth for small means, normal approximation beyond (tests only)
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, prod = math.exp(-mean), 0, rng.random()
    while prod > limit:
        k += 1
        prod *= rng.random()
    return k


def test_looking_every_bucket_keeps_false_fails_under_alpha() -> None:
    """At the boundary (new rate = 1.5x base), 20 looks per run: the always-valid test
    fails at most alpha of the runs (a fixed-sample test looked at 20 times would not)."""
    rng = random.Random(7)
    runs, fails, naive = 200, 0, 0
    for _ in range(runs):
        buckets: list[Bucket] = []
        failed = naive_failed = False
        for _ in range(20):
            buckets.append(Bucket(_poisson(rng, 15.0), 1000, _poisson(rng, 10.0), 1000))
            failed = failed or log_e_value(buckets, 1.5) >= math.log(100)
            new, base = sum(b.new for b in buckets), sum(b.base for b in buckets)
            naive_failed = (
                naive_failed or conditional_p_value(int(new), int(base), 1.0, 1.0, 1.5) < 0.01
            )
        fails += failed
        naive += naive_failed
    assert fails / runs <= 0.01
    assert naive > fails  # repeated fixed-sample looks inflate false FAILs


def test_bursty_errors_keep_false_fails_under_alpha_once_tempered() -> None:
    """Negative-binomial bursts (variance 3x the mean) at the boundary: the dispersion of a
    30-minute baseline tempers the evidence back under alpha; untempered it would not be."""
    rng = random.Random(5)

    def burst(mean: float) -> int:
        return _poisson(rng, rng.gammavariate(5.0, mean / 5.0))

    runs, tempered, plain = 200, 0, 0
    for _ in range(runs):
        phi = dispersion([burst(10.0) for _ in range(30)], [1000] * 30)
        buckets: list[Bucket] = []
        failed = failed_plain = False
        for _ in range(20):
            buckets.append(Bucket(burst(15.0), 1000, burst(10.0), 1000))
            failed = failed or log_e_value(buckets, 1.5, phi=phi) >= math.log(100)
            failed_plain = failed_plain or log_e_value(buckets, 1.5) >= math.log(100)
        tempered += failed
        plain += failed_plain
    assert tempered / runs <= 0.01
    assert plain / runs > 0.05


def test_a_threefold_regression_is_found_within_a_few_buckets() -> None:
    rng = random.Random(3)
    found = []
    for _ in range(50):
        buckets: list[Bucket] = []
        for minute in range(1, 11):
            buckets.append(Bucket(_poisson(rng, 30.0), 1000, _poisson(rng, 10.0), 1000))
            if log_e_value(buckets, 1.5) >= math.log(100):
                found.append(minute)
                break
    assert len(found) >= 48
    assert sorted(found)[len(found) // 2] <= 5


def test_dispersion_tempers_the_evidence() -> None:
    buckets = [Bucket(30, 1000, 10, 1000)] * 4
    plain = sequential_test(buckets, max_ratio=1.5, alpha=0.01)
    bursty = sequential_test(buckets, max_ratio=1.5, alpha=0.01, phi=4.0)
    assert bursty.e_value < plain.e_value
    assert bursty.upper > plain.upper


# --- rules ---------------------------------------------------------------------------------


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
    ("fields", "counted"),
    [
        ({}, True),
        ({"events": 2}, False),
        ({"users": 0, "events": 150}, True),  # handled, no user context: events decide
        ({"users": 1}, True),
        ({"unhandled": True, "users": 0}, True),
    ],
)
def test_issue_floors(fields: dict[str, Any], counted: bool) -> None:
    assert classify(issue(**fields), POLICY).counted is counted


def test_issue_floor_of_users_applies_when_users_are_known() -> None:
    policy = GatePolicy(min_users=3)
    assert not classify(issue(users=2), policy).counted
    assert classify(issue(users=0), policy).counted


def steady_rate(new: float = 10, base: float = 10, count: int = 10) -> RateInput:
    return RateInput(
        "sessions",
        "previous",
        tuple(Bucket(new, 1000, base, 1000) for _ in range(count)),
        baseline_release="old",
    )


def obs(**changes: Any) -> Observations:
    fields: dict[str, Any] = {
        "version": "new",
        "environment": "production",
        "deploy_start": T0,
        "window_start": T0 + timedelta(minutes=1),
        "window_end": T0 + timedelta(minutes=11),
        "final": True,
        "rate": steady_rate(),
    }
    return Observations(**{**fields, **changes})


def test_steady_rate_passes_at_the_end_only() -> None:
    assert evaluate(obs(), POLICY).verdict == PASS
    assert evaluate(obs(final=False), POLICY).verdict == WATCHING


def test_no_denominator_or_no_baseline_is_never_a_pass() -> None:
    no_unit = RateInput(None, "concurrent", (), baseline_release="old")
    assert evaluate(obs(rate=no_unit), POLICY).verdict == INCONCLUSIVE
    assert evaluate(obs(rate=None), POLICY).verdict == INCONCLUSIVE


def test_severe_new_issue_fails_before_the_end_handled_one_at_the_end() -> None:
    fatal = issue(level="fatal")
    assert evaluate(obs(final=False, issues=(fatal,)), POLICY).verdict == FAIL
    handled = issue()
    assert evaluate(obs(final=False, issues=(handled,)), POLICY).verdict == WATCHING
    assert evaluate(obs(issues=(handled,)), POLICY).verdict == FAIL


def test_regressed_and_escalating_issues_fail() -> None:
    for kind in ("regressed", "escalating"):
        old = issue(kind=kind, first_seen=T0 - timedelta(days=3))
        report = evaluate(obs(issues=(old,)), POLICY)
        assert report.verdict == FAIL
        assert f"{kind}-issues" in [r.name for r in report.rules if r.verdict == FAIL]


def test_old_resolved_or_pre_deploy_issues_do_not_count() -> None:
    before = issue(first_seen=T0 - timedelta(minutes=1))
    resolved = issue(id="2", status="resolved")
    assert evaluate(obs(issues=(before, resolved)), POLICY).verdict == PASS


def test_report_only_rules_are_shown_but_never_decide() -> None:
    policy = GatePolicy(report_only=("new-issues", "rate"))
    regressed = RateInput(
        "sessions", "previous", (Bucket(60, 1000, 10, 1000),) * 5, baseline_release="o"
    )
    report = evaluate(obs(issues=(issue(),), rate=regressed), policy)
    assert report.verdict == PASS
    assert {r.name: r.verdict for r in report.rules if r.report_only} == {
        "new-issues": FAIL,
        "rate": FAIL,
    }
    assert evaluate(obs(issues=(issue(),), rate=regressed), POLICY).verdict == FAIL


def test_release_name_mismatch_is_named_never_a_pass() -> None:
    report = evaluate(obs(rate=None, new_traffic=False, other_releases=("shop@abc123",)), POLICY)
    assert report.verdict == INCONCLUSIVE
    assert "shop@abc123" in report.reason and "release" in report.reason


def test_health_decides_with_samples_after_the_window() -> None:
    probe = ProbeStatus("http://app/healthz").record(True, "HTTP 200", 3)
    assert health_verdict([probe], 3, True, extra=3)[0] == WATCHING
    probe = probe.record(True, "HTTP 200", 3).record(True, "HTTP 200", 3)
    assert health_verdict([probe], 3, True, extra=3)[0] == PASS
    failing = ProbeStatus("u")
    for _ in range(3):
        failing = failing.record(False, "HTTP 500", 3)
    assert health_verdict([failing], 3, False)[0] == FAIL


def test_on_inconclusive_and_on_api_error() -> None:
    report = evaluate(obs(rate=None), POLICY)
    mapped, warning = apply_policy(report, GatePolicy(on_inconclusive="fail"))
    assert (mapped.verdict, mapped.observed_verdict, warning) == (FAIL, INCONCLUSIVE, None)
    kept, warning = apply_policy(report, POLICY)
    assert kept.verdict == INCONCLUSIVE and warning
    failed, _ = api_error_report("HTTP 502", POLICY)
    passed, warned = api_error_report("HTTP 502", GatePolicy(on_api_error="pass"))
    assert (failed.verdict, passed.verdict, bool(warned)) == (FAIL, PASS, True)


@pytest.mark.parametrize(
    ("policy", "explicit", "message"),
    [
        (GatePolicy(report_only=("rates",)), {}, "unknown rule 'rates'"),
        (GatePolicy(window=30.0), {}, "shorter than the settle period"),
        (GatePolicy(report_only=("new-issues",)), {"fail_fast": True}, "contradicts"),
        (GatePolicy(), {"health_body": "ok"}, "without health_url"),
    ],
)
def test_bad_policies_are_refused(
    policy: GatePolicy, explicit: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        validate_policy(policy, explicit)


@pytest.mark.parametrize(
    ("spec", "good", "bad"),
    [("2xx", [200, 299], [300, 404]), ("200,204", [200, 204], [201]), ("200-202", [201], [203])],
)
def test_expected_status(spec: str, good: list[int], bad: list[int]) -> None:
    matches = parse_expected_status(spec)
    assert all(matches(s) for s in good) and not any(matches(s) for s in bad)


def test_markdown_has_the_rules_issues_and_a_mermaid_chart() -> None:
    from sentry_release.gate.render import render_markdown, report_dict

    rate = RateInput(
        "sessions", "previous", (Bucket(30, 1000, 10, 1000),) * 6, baseline_release="old"
    )
    report = evaluate(obs(rate=rate, issues=(issue(title="KeyError: a|b"),)), POLICY)
    chart = {"bucket": 60.0, "new": [3.0] * 6, "base": [1.0] * 6}
    report = replace(report, context={"chart": chart, "baseline_release": "old"})
    text = render_markdown(report)
    assert text.startswith("### ❌ Deploy gate: FAIL")
    assert "KeyError: a\\|b" in text
    assert "```mermaid\nxychart-beta" in text
    assert '"+0 deploy+grace"' in text and '"+5 FAIL"' in text
    assert "  line [3, 3, 3, 3, 3, 3]" in text and "  line [1, 1, 1, 1, 1, 1]" in text
    assert "Rollback hint: `old`" in text
    data = report_dict(report)
    assert data["rollback_hint"] == "old"
    assert data["rate"]["lower"] > 1.5
