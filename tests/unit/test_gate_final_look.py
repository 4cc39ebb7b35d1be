"""The rate rule's one look at the window's end (the exact conditional test on the totals,
the busiest minute left out from three minutes on) and the INCONCLUSIVE's "about N more
minutes": p-values computed here from the binomial tail, the minutes checked by giving the
rule that much more traffic."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from sentry_release.config.settings import GatePolicy
from sentry_release.gate.policy import (
    FAIL,
    INCONCLUSIVE,
    PASS,
    RateInput,
    final_p_value,
    more_minutes,
    project_rates,
)
from sentry_release.gate.sequential import Bucket

POLICY = GatePolicy()


def tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


def p0(ratio: float, e_new: float, e_base: float) -> float:
    return ratio * e_new / (ratio * e_new + e_base)


def test_two_minutes_are_tested_on_their_totals() -> None:
    buckets = [Bucket(7, 100.0, 5, 300.0), Bucket(4, 150.0, 9, 200.0)]
    expected = tail(11, 25, p0(1.5, 250.0, 500.0))
    assert final_p_value(buckets, 1.5, 1.0) == pytest.approx(expected, rel=1e-9)
    assert final_p_value(buckets, 2.0, 1.0) == pytest.approx(
        tail(11, 25, p0(2.0, 250.0, 500.0)), rel=1e-9
    )


def test_from_three_minutes_a_burst_counts_as_the_second_busiest() -> None:
    buckets = [Bucket(7, 100.0, 5, 300.0), Bucket(30, 120.0, 4, 300.0), Bucket(4, 150.0, 9, 200.0)]
    # 30 > 2 x 7 + 3: a burst, counted as 7 (the second most), keeping its exposure and base
    expected = tail(18, 36, p0(1.5, 370.0, 800.0))
    assert final_p_value(buckets, 1.5, 1.0) == pytest.approx(expected, rel=1e-9)
    # 17 = 2 x 7 + 3 is not a burst: counted as it is
    busy = [Bucket(7, 100.0, 5, 300.0), Bucket(17, 120.0, 4, 300.0), Bucket(4, 150.0, 9, 200.0)]
    assert final_p_value(busy, 1.5, 1.0) == pytest.approx(
        tail(28, 46, p0(1.5, 370.0, 800.0)), rel=1e-9
    )
    # two minutes only: nothing is cut
    two = [Bucket(7, 100.0, 5, 300.0), Bucket(30, 120.0, 4, 300.0)]
    assert final_p_value(two, 1.5, 1.0) == pytest.approx(
        tail(37, 46, p0(1.5, 220.0, 600.0)), rel=1e-9
    )
    # ties: two minutes at the top keep their counts
    tied = [Bucket(9, 100.0, 5, 300.0), Bucket(9, 120.0, 4, 300.0), Bucket(4, 150.0, 9, 200.0)]
    assert final_p_value(tied, 1.5, 1.0) == pytest.approx(
        tail(22, 40, p0(1.5, 370.0, 800.0)), rel=1e-9
    )


def test_minutes_without_traffic_on_a_side_are_not_counted() -> None:
    kept = [Bucket(7, 100.0, 5, 300.0), Bucket(4, 150.0, 9, 200.0)]
    idle = [Bucket(2, 0.0, 1, 300.0), Bucket(2, 100.0, 1, 0.0)]
    # the idle minutes neither count nor make three minutes (the busiest cut down)
    assert final_p_value([*kept, *idle], 1.5, 1.0) == final_p_value(kept, 1.5, 1.0)
    assert final_p_value(idle, 1.5, 1.0) == 1.0


def test_the_counts_are_divided_by_the_dispersion_and_rounded() -> None:
    buckets = [Bucket(7, 100.0, 5, 300.0), Bucket(4, 150.0, 9, 200.0)]
    x, y = round(11 / 2.5), round(14 / 2.5)  # 4 and 6
    expected = tail(x, x + y, p0(1.5, 250.0, 500.0))
    assert final_p_value(buckets, 1.5, 2.5) == pytest.approx(expected, rel=1e-9)


STEADY = tuple(Bucket(3, 1000.0, 1, 1000.0) for _ in range(10))  # 30 vs 10 in 10 minutes


def scaled(buckets: tuple[Bucket, ...], f: float) -> tuple[Bucket, ...]:
    return tuple(
        Bucket(b.new * f, b.new_exposure * f, b.base * f, b.base_exposure * f) for b in buckets
    )


def verdict(buckets: tuple[Bucket, ...], policy: GatePolicy) -> str:
    inp = RateInput("sessions", "concurrent", buckets, 1.0, "1.0")
    return project_rates((inp,), policy, final=True).verdict


@pytest.mark.parametrize("bucket", [60.0, 120.0])
def test_the_more_minutes_given_would_decide_and_a_fifth_fewer_would_not(bucket: float) -> None:
    policy = replace(POLICY, bucket=bucket)
    assert verdict(STEADY, policy) == INCONCLUSIVE
    more = more_minutes(list(STEADY), policy, policy.alpha, 1.0)
    assert more is not None
    window = 10 * bucket / 60.0  # minutes observed
    assert verdict(scaled(STEADY, 1 + more / window), policy) == FAIL  # ratio 3: it fails
    assert verdict(scaled(STEADY, 1 + 0.8 * more / window), policy) == INCONCLUSIVE


def test_the_minutes_are_minutes_of_traffic_not_buckets() -> None:
    per_minute = more_minutes(list(STEADY), POLICY, POLICY.alpha, 1.0)
    per_two = more_minutes(list(STEADY), replace(POLICY, bucket=120.0), POLICY.alpha, 1.0)
    assert per_minute is not None and per_two is not None
    assert per_two == pytest.approx(2 * per_minute, rel=0.05)


def test_a_ratio_safely_under_the_limit_would_pass_with_more_minutes() -> None:
    close = tuple(Bucket(1, 1000.0, 1, 1000.0) for _ in range(10))  # 10 vs 10: ratio 1
    assert verdict(close, POLICY) == INCONCLUSIVE
    more = more_minutes(list(close), POLICY, POLICY.alpha, 1.0)
    assert more is not None
    assert verdict(scaled(close, 1 + more / 10), POLICY) == PASS
    assert verdict(scaled(close, 1 + 0.8 * more / 10), POLICY) == INCONCLUSIVE


def test_a_more_dispersed_series_needs_more_minutes() -> None:
    calm = more_minutes(list(STEADY), POLICY, POLICY.alpha, 1.0)
    noisy = more_minutes(list(STEADY), POLICY, POLICY.alpha, 3.0)
    assert calm is not None and noisy is not None and noisy > 2 * calm


def test_idle_minutes_are_not_minutes_of_traffic() -> None:
    idle = [Bucket(3, 0.0, 1, 1000.0), Bucket(3, 1000.0, 1, 0.0)]
    alone = more_minutes(list(STEADY), POLICY, POLICY.alpha, 1.0)
    assert more_minutes([*STEADY, *idle], POLICY, POLICY.alpha, 1.0) == alone


def test_nothing_to_scale_means_no_estimate() -> None:
    idle = [Bucket(3, 0.0, 1, 1000.0)]
    assert more_minutes(idle, POLICY, POLICY.alpha, 1.0) is None


def test_a_decision_within_the_first_minute_is_said_as_one_minute() -> None:
    # decides at f barely above 1: at least one more minute is said, never less
    near = tuple(Bucket(4.3, 1000.0, 1, 1000.0) for _ in range(10))
    more = more_minutes(list(near), POLICY, POLICY.alpha, 1.0)
    assert more == 1.0


def test_a_fraction_of_exposure_is_still_traffic() -> None:
    # exposures are weights, not only whole sessions: any positive exposure counts
    small = [Bucket(1, 0.5, 2, 0.5), Bucket(1, 0.5, 2, 0.5)]
    expected = tail(2, 6, p0(1.5, 1.0, 1.0))
    assert final_p_value(small, 1.5, 1.0) == pytest.approx(expected, rel=1e-9)
    quiet = (Bucket(0, 0.5, 0, 0.5),)
    assert verdict(quiet, POLICY) == PASS
    assert more_minutes(small, POLICY, POLICY.alpha, 1.0) is not None
