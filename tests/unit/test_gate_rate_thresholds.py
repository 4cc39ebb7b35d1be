"""Where the rate rule's FAIL begins, pinned at the boundary: the watching e-value against
1/(0.8 alpha), the one look at the window's end against 0.2 alpha, and the `--min-errors` /
`--min-excess` floors. Every expected number is computed here from the statistics in
docs/gate.md (the likelihood ratio of the conditional binomial, the e^4 cap per bucket, the
exact binomial tail), never by asking the code under test."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from sentry_release.config.settings import GatePolicy
from sentry_release.gate.policy import FAIL, INCONCLUSIVE, WATCHING, RateInput, project_rates
from sentry_release.gate.sequential import Bucket

POLICY = GatePolicy()  # max ratio 1.5, alpha 0.01, floors 10 errors and 5 excess
CAP = 4.0  # docs/gate.md: no bucket adds more than e^4


def rate(buckets: list[Bucket]) -> RateInput:
    # the split planned for a window of few errored units is 0.2; 0.8 is pinned here so
    # both parts' thresholds are tested away from 0 and 1 (the plan: test_gate_baseline_plan)
    return RateInput("sessions", "concurrent", tuple(buckets), 1.0, "1.0", watch_share=0.8)


def log_lr(b: Bucket, theta0: float, theta1: float) -> float:
    """log of (theta1/theta0)^x * ((theta0 E + F) / (theta1 E + F))^n for one bucket."""
    n = b.new + b.base
    ratio = (theta0 * b.new_exposure + b.base_exposure) / (
        theta1 * b.new_exposure + b.base_exposure
    )
    return b.new * math.log(theta1 / theta0) + n * math.log(ratio)


def alternatives(theta0: float) -> list[float]:
    """Six log-spaced alternatives from 4/3 to 4 times the null (docs/gate.md)."""
    low, high = math.log(4 / 3), math.log(4.0)
    return [theta0 * math.exp(low + i * (high - low) / 5) for i in range(6)]


# Two identical minutes, 60 errored of 1000 sessions against 5 of 1000: ratio 12, so under
# every alternative each minute's likelihood ratio is past the cap, and the e-value is
# exactly (e^4)^2 = e^8 = 2981 whatever the mixture's weights.
STRONG = [Bucket(60, 1000.0, 5, 1000.0)] * 2
E_STRONG = math.exp(2 * CAP)
STRONG_NEW, STRONG_EXCESS = 120, 120 - 1.5 * 10 * 1000.0 / 1000.0  # 105


def test_the_strong_minutes_are_past_the_cap_under_every_alternative() -> None:
    assert all(log_lr(b, 1.5, t) > CAP for b in STRONG for t in alternatives(1.5))
    result = project_rates((rate(STRONG),), POLICY, final=False)
    assert result.test is not None
    assert result.test.e_value == pytest.approx(E_STRONG)


def alpha_for(threshold: float) -> float:
    """The alpha whose watching share (80%) puts the FAIL threshold 1/(0.8 alpha) exactly at
    `threshold` (the float next to 1/(0.8 threshold) where rounding needs it)."""
    alpha = 1.0 / (0.8 * threshold)
    for step in (0, 1, -1, 2, -2, 3, -3):
        near = alpha + step * math.ulp(alpha)
        if 1.0 / (near * 0.8) == threshold:
            return near
    return alpha


@pytest.mark.parametrize(
    ("threshold", "verdict"),
    [
        (E_STRONG * 0.99, FAIL),  # the e-value just above 1/(0.8 alpha)
        (E_STRONG, FAIL),  # reaching it is enough (Ville: P(sup M >= 1/alpha) <= alpha)
        (E_STRONG * 1.01, WATCHING),  # just below: keep watching
        (E_STRONG / 10, FAIL),
        (E_STRONG * 10, WATCHING),
    ],
)
def test_watching_fails_when_the_e_value_reaches_one_over_its_share_of_alpha(
    threshold: float, verdict: str
) -> None:
    alpha = alpha_for(threshold)
    if threshold == E_STRONG:
        assert 1.0 / (alpha * 0.8) == E_STRONG  # the tie itself, not a rounding either way
    policy = replace(POLICY, alpha=alpha, min_errors=0, min_excess=0)
    result = project_rates((rate(STRONG),), policy, final=False)
    assert result.verdict == verdict, result.reason
    if verdict == FAIL:
        assert result.reason.startswith("error rate regressed: 120 errored sessions in 2000")


def test_at_the_default_alpha_the_strong_minutes_fail_and_one_alone_does_not() -> None:
    # e^8 = 2981 >= 125; one minute alone is capped at e^4 = 55 < 125
    assert E_STRONG >= 1 / (0.8 * POLICY.alpha) > math.exp(CAP)
    relaxed = replace(POLICY, min_errors=0, min_excess=0)
    assert project_rates((rate(STRONG),), relaxed, final=False).verdict == FAIL
    assert project_rates((rate(STRONG[:1]),), relaxed, final=False).verdict == WATCHING


@pytest.mark.parametrize("final", [False, True])
@pytest.mark.parametrize(
    ("min_errors", "min_excess", "fails"),
    [
        (STRONG_NEW, STRONG_EXCESS, True),  # at both floors
        (STRONG_NEW + 1, STRONG_EXCESS, False),  # one errored unit under --min-errors
        (STRONG_NEW, STRONG_EXCESS + 1, False),  # one unit of excess under --min-excess
    ],
)
def test_the_floors_hold_back_a_fail_until_both_are_reached(
    min_errors: float, min_excess: float, fails: bool, final: bool
) -> None:
    policy = replace(POLICY, min_errors=min_errors, min_excess=min_excess)
    result = project_rates((rate(STRONG),), policy, final=final)
    unsure = INCONCLUSIVE if final else WATCHING  # ratio 12: the upper bound is far above 1.5
    assert result.verdict == (FAIL if fails else unsure), result.reason
    assert result.excess == pytest.approx(STRONG_EXCESS)


def few(minutes: int) -> list[Bucket]:
    # one errored of 10 sessions a minute against 1 of 10000: ratio 1000, overwhelming
    return [Bucket(1, 10.0, 1, 10000.0)] * minutes


@pytest.mark.parametrize(("minutes", "verdict"), [(9, WATCHING), (10, FAIL)])
def test_the_default_floor_of_ten_errored_units(minutes: int, verdict: str) -> None:
    # the evidence is past 1/(0.8 alpha) either way: the mixture is at least its 4x term / 6
    buckets = few(minutes)
    at_4x = sum(log_lr(b, 1.5, 6.0) for b in buckets)
    assert math.exp(at_4x) / 6 >= 1 / (0.8 * POLICY.alpha)
    excess = minutes - 1.5 * minutes * 10.0 / 10000.0
    assert excess >= POLICY.min_excess
    assert project_rates((rate(buckets),), POLICY, final=False).verdict == verdict


def binomial_tail(k: int, n: int, p: float) -> float:
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


# Two minutes, 10 errored of 100 sessions against 6 of 300 each: the e-process stays short of
# its threshold, the exact look at the end (20 of 32 at p0 = 1.5*200/(1.5*200 + 600) = 1/3)
# gives p = P(X >= 20) under Binomial(32, 1/3).
ENDING = [Bucket(10, 100.0, 6, 300.0)] * 2
P_END = binomial_tail(20, 32, 1 / 3)


@pytest.mark.parametrize(
    ("share_of_p", "verdict"),
    [(1.01, FAIL), (0.99, INCONCLUSIVE), (0.1, INCONCLUSIVE)],
)
def test_the_look_at_the_end_fails_under_a_fifth_of_alpha(share_of_p: float, verdict: str) -> None:
    alpha = P_END * share_of_p / 0.2  # 20% of alpha is spent on the one look
    policy = replace(POLICY, alpha=alpha)
    watching = project_rates((rate(ENDING),), policy, final=False)
    assert watching.verdict == WATCHING  # the e-process alone does not decide here
    result = project_rates((rate(ENDING),), policy, final=True)
    assert result.verdict == verdict, result.reason
    if verdict == FAIL:
        assert f"one-look exact p = {P_END:.2g}" in result.reason


def test_with_several_projects_each_gets_its_share_of_alpha() -> None:
    # alone, e^8 is past 1/(0.8 alpha); split over two projects (alpha/2 each) it is not
    policy = replace(POLICY, alpha=alpha_for(E_STRONG * 0.7), min_errors=0, min_excess=0)
    quiet = [Bucket(5, 1000.0, 5, 1000.0)] * 2
    web, api = replace(rate(quiet), project="web"), replace(rate(STRONG), project="api")
    assert project_rates((api,), policy, final=False).verdict == FAIL
    both = project_rates((web, api), policy, final=False)
    assert both.verdict == WATCHING, both.reason
    assert [r.verdict for r in both.projects] == [WATCHING, WATCHING]
    looser = replace(policy, alpha=alpha_for(E_STRONG * 0.7 / 2))  # alpha/2 back at 0.7 e^8
    both = project_rates((web, api), looser, final=False)
    assert both.verdict == FAIL and both.reason.startswith("api: error rate regressed")
