"""What the rate rule says, verdict by verdict: the counts, the ratio and its bounds (the lower
one only at the end or on a FAIL), the project's name, the notes, and why it cannot tell."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from sentry_release.config.settings import GatePolicy
from sentry_release.gate.policy import (
    FAIL,
    INCONCLUSIVE,
    PASS,
    WATCHING,
    RateInput,
    project_rates,
    rate_rule,
)
from sentry_release.gate.sequential import Bucket

POLICY = GatePolicy()


def rate(*buckets: Bucket, **changes: Any) -> RateInput:
    return replace(RateInput("sessions", "previous", buckets, 1.0, "1.0"), **changes)


def test_no_baseline_or_no_denominator_never_decides() -> None:
    for final, pending in ((False, WATCHING), (True, INCONCLUSIVE)):
        none = rate_rule(None, POLICY, final)
        assert (none.verdict, none.reason, none.unit, none.mode) == (
            pending,
            "no baseline release to compare with",
            None,
            "none",
        )
        first = rate_rule(rate(baseline_release=None), POLICY, final)
        assert first.verdict == pending and first.mode == "none"
        no_unit = rate_rule(rate(Bucket(5, 10, 1, 10), unit=None), POLICY, final)
        assert no_unit.verdict == pending and no_unit.mode == "previous"
        assert no_unit.reason == (
            "no traffic denominator: the project sends no sessions or transactions, so errors "
            "cannot be normalised (the rate is never judged on time alone)"
        )


def test_no_errors_on_either_side_passes_at_the_end_only_with_traffic() -> None:
    quiet = rate(Bucket(0, 500.0, 0, 400.0), Bucket(0, 500.0, 0, 400.0))
    result = rate_rule(quiet, POLICY, True)
    assert result.verdict == PASS
    assert result.reason == "no errored sessions on either side (1000 vs 800 sessions)"
    early = rate_rule(quiet, POLICY, False)
    assert (early.verdict, early.reason) == (WATCHING, "no errored sessions on either side yet")
    no_traffic = rate_rule(rate(Bucket(0, 0.0, 0, 400.0)), POLICY, True)
    assert no_traffic.verdict == INCONCLUSIVE
    one_sided = rate_rule(rate(Bucket(0, 500.0, 0, 0.0)), POLICY, True)
    assert one_sided.verdict == INCONCLUSIVE


def test_a_pass_gives_the_counts_ratio_and_both_bounds() -> None:
    steady = rate(*[Bucket(10, 1000.0, 10, 1000.0)] * 10)
    result = rate_rule(steady, POLICY, True)
    assert result.verdict == PASS
    test = result.test
    assert test is not None and 0 < test.lower < 1 < test.upper < 1.5
    assert result.reason == (
        "error rate within bounds: 100 errored sessions in 10000 vs 100 in 10000 "
        f"(ratio 1.00, bounds {test.lower:.2f}-{test.upper:.2f})"
    )
    assert result.excess == -50.0
    assert (result.unit, result.mode) == ("sessions", "previous")


def test_while_watching_only_the_upper_bound_is_said() -> None:
    steady = rate(*[Bucket(10, 1000.0, 10, 1000.0)] * 10)
    result = rate_rule(steady, POLICY, False)
    assert result.verdict == WATCHING
    assert result.test is not None and result.test.lower == 0.0  # not searched while watching
    assert result.reason == (
        "cannot tell yet: 100 errored sessions in 10000 vs 100 in 10000 "
        f"(ratio 1.00, upper bound {result.test.upper:.2f}); the upper bound "
        f"{result.test.upper:.2f} is not under 1.5"
    )
    assert result.more_minutes is None


def test_a_fail_while_watching_gives_the_lower_bound() -> None:
    loud = rate(*[Bucket(60, 1000.0, 5, 1000.0)] * 4)
    result = rate_rule(loud, POLICY, False)
    assert result.verdict == FAIL
    test = result.test
    assert test is not None and 1.5 < test.lower < 12 < test.upper
    assert result.reason == (
        "error rate regressed: 240 errored sessions in 4000 vs 20 in 4000 "
        f"(ratio 12.00, bounds {test.lower:.2f}-{test.upper:.2f} > 1.5)"
    )


def test_without_baseline_errors_the_ratio_is_not_available() -> None:
    only_new = rate(*[Bucket(3, 1000.0, 0, 1000.0)] * 2)
    result = rate_rule(only_new, POLICY, True)
    assert result.verdict == INCONCLUSIVE
    assert "(ratio n/a, bounds " in result.reason and "-inf)" in result.reason
    assert "the upper bound inf is not under 1.5" in result.reason
    assert result.test is not None and math.isinf(result.test.upper)


def test_the_project_and_the_notes_are_said() -> None:
    noted = rate(
        Bucket(0, 500.0, 0, 400.0),
        project="api",
        notes=("sessions were not used: too few", "baseline from the 1.0 release"),
    )
    result = rate_rule(noted, POLICY, True)
    assert result.project == "api"
    assert result.reason == (
        "api: no errored sessions on either side (500 vs 400 sessions) (note: sessions were "
        "not used: too few; baseline from the 1.0 release)"
    )
    plain = rate_rule(rate(Bucket(0, 500.0, 0, 400.0)), POLICY, True)
    assert plain.project == "" and not plain.reason.startswith(":")


def test_every_project_must_pass_and_the_unsure_ones_are_named() -> None:
    quiet = (Bucket(0, 500.0, 0, 400.0),)
    unsure = (Bucket(3, 1000.0, 1, 1000.0),) * 10
    web, api = rate(*quiet, project="web"), rate(*quiet, project="api")
    both = project_rates((web, api), POLICY, True)
    assert both.verdict == PASS and [r.project for r in both.projects] == ["web", "api"]
    assert both.reason.startswith("web: no errored") and "; api: no errored" in both.reason
    shop = rate(*unsure, project="shop")
    mixed = project_rates((web, shop, api), POLICY, True)
    assert mixed.verdict == INCONCLUSIVE and mixed.project == "shop"
    assert mixed.reason.startswith("shop: cannot tell: 30 errored sessions")
    assert "web:" not in mixed.reason
    assert project_rates((), POLICY, True).reason == "no baseline release to compare with"
    assert project_rates((web,), POLICY, True).projects == ()  # one project: no breakdown
    assert both.project == "web"
    other = rate(*unsure, project="cart")
    two = project_rates((shop, web, other), POLICY, True)
    assert two.reason.startswith("shop: cannot tell") and "; cart: cannot tell" in two.reason
    loud = (Bucket(60, 1000.0, 5, 1000.0),) * 4
    failing = project_rates((rate(*loud, project="a"), rate(*loud, project="b")), POLICY, True)
    assert failing.verdict == FAIL and failing.project == "a"
    assert failing.reason.startswith("a: error rate regressed")
    assert "; b: error rate regressed" in failing.reason


def test_the_baselines_own_dispersion_tempers_the_evidence() -> None:
    few = rate(*[Bucket(10, 1000.0, 10, 1000.0)] * 3, phi=3.0)  # too few pairs to estimate
    result = rate_rule(few, POLICY, True)
    assert result.test is not None and result.test.phi == 3.0
    loud = rate(*[Bucket(60, 1000.0, 5, 1000.0)] * 4, phi=2.0)
    result = rate_rule(loud, POLICY, False)
    assert result.verdict == FAIL and result.test is not None and result.test.phi == 2.0


def test_a_ratio_at_the_limit_says_more_traffic_would_not_decide() -> None:
    at_limit = rate(*[Bucket(15, 1000.0, 10, 1000.0)] * 10)
    result = rate_rule(at_limit, POLICY, True)
    assert result.reason.startswith("cannot tell: 150 errored sessions in 10000 vs 100 in 10000")
    assert result.reason.endswith(
        "is not under 1.5; more traffic at this rate would not decide (the ratio sits at the limit)"
    )
