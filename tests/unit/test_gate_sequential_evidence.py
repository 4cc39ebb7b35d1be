"""The rate test's evidence and bounds against the statistics written out here from
docs/gate.md: the conditional binomial's likelihood ratio per bucket, tempered by the
dispersion and capped at e^4, averaged over five alternatives log-spaced from 4/3 to 10/3 times
the null; the paired dispersion (Pearson's X^2 around the pooled ratio, its largest term cut
to the second, over m - 1); the confidence sequence as the set of ratios the e-value does not
reject; the one-look 95% Clopper-Pearson upper bound. Computed here, never by the code under
test."""

from __future__ import annotations

import math

import pytest

from sentry_release.gate.sequential import (
    PRIOR_WEIGHT,
    Bucket,
    confidence_bounds,
    log_e_value,
    log_lr,
    paired_dispersion,
    sequential_test,
)

CAP = 4.0


def ref_log_lr(
    buckets: list[Bucket], t0: float, t1: float, phi: float = 1.0, cap: float = 1e9
) -> float:
    total = 0.0
    for b in buckets:
        if b.new_exposure <= 0 or b.base_exposure <= 0 or b.new + b.base == 0:
            continue  # no information in this bucket
        p0 = t0 * b.new_exposure / (t0 * b.new_exposure + b.base_exposure)
        p1 = t1 * b.new_exposure / (t1 * b.new_exposure + b.base_exposure)
        # binomial likelihood ratio of x new among n, p1 against p0
        term = b.new * math.log(p1 / p0) + b.base * math.log((1 - p1) / (1 - p0))
        total += min(term / phi, cap)
    return total


def grid(theta0: float, side: str) -> list[float]:
    low, high = math.log(4 / 3), math.log(10 / 3)
    factors = [math.exp(low + i * (high - low) / 4) for i in range(5)]
    return [theta0 * (f if side == "greater" else 1 / f) for f in factors]


def ref_e_value(
    buckets: list[Bucket], theta0: float, side: str = "greater", phi: float = 1.0, cap: float = 1e9
) -> float:
    return sum(math.exp(ref_log_lr(buckets, theta0, t, phi, cap)) for t in grid(theta0, side)) / 5


def ref_dispersion(buckets: list[Bucket]) -> float:
    new = sum(b.new for b in buckets)
    base = sum(b.base for b in buckets)
    theta = (new / sum(b.new_exposure for b in buckets)) / (
        base / sum(b.base_exposure for b in buckets)
    )
    terms = []
    for b in buckets:
        n = b.new + b.base
        p = theta * b.new_exposure / (theta * b.new_exposure + b.base_exposure)
        terms.append((b.new - n * p) ** 2 / (n * p * (1 - p)))
    terms.sort()
    terms[-1] = terms[-2]
    return sum(terms) / (len(terms) - 1)


def pooled(raw: float, count: int, prior: float = 1.0) -> float:
    """The paired estimate (over count - 1 df) pooled with the prior weighted PRIOR_WEIGHT."""
    return (raw * (count - 1) + PRIOR_WEIGHT * prior) / (count - 1 + PRIOR_WEIGHT)


# Uneven minutes, the new release about twice the baseline's rate, with real scatter.
MIXED = [
    Bucket(7, 300.0, 9, 800.0),
    Bucket(2, 250.0, 12, 900.0),
    Bucket(11, 310.0, 6, 700.0),
    Bucket(4, 280.0, 10, 820.0),
    Bucket(9, 260.0, 3, 760.0),
    Bucket(5, 330.0, 14, 880.0),
    Bucket(13, 290.0, 8, 790.0),
]
EMPTY = [Bucket(0, 300.0, 0, 800.0), Bucket(5, 0.0, 3, 800.0), Bucket(5, 300.0, 3, 0.0)]


@pytest.mark.parametrize(("t0", "t1", "phi"), [(1.5, 3.0, 1.0), (1.5, 0.9, 1.0), (2.0, 5.0, 2.5)])
def test_the_log_likelihood_ratio_is_the_conditional_binomials(
    t0: float, t1: float, phi: float
) -> None:
    assert log_lr(MIXED, t0, t1, phi) == pytest.approx(ref_log_lr(MIXED, t0, t1, phi), rel=1e-9)
    # buckets without exposure on a side or without errors carry no evidence
    assert log_lr([*MIXED, *EMPTY], t0, t1, phi) == pytest.approx(log_lr(MIXED, t0, t1, phi))


def test_the_cap_bounds_each_bucket_not_the_sum() -> None:
    burst = [Bucket(60, 300.0, 5, 800.0), Bucket(1, 300.0, 20, 800.0)]
    expected = ref_log_lr(burst, 1.5, 4.0, cap=CAP)
    assert ref_log_lr(burst[:1], 1.5, 4.0) > CAP > expected  # the burst is cut, the other adds
    assert log_lr(burst, 1.5, 4.0, cap=CAP) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("side", ["greater", "less"])
@pytest.mark.parametrize(
    ("theta0", "phi", "cap"), [(1.5, 1.0, None), (0.8, 1.0, CAP), (1.2, 1.7, CAP)]
)
def test_the_e_value_is_the_mean_over_five_alternatives(
    side: str, theta0: float, phi: float, cap: float | None
) -> None:
    expected = ref_e_value(MIXED, theta0, side, phi, 1e9 if cap is None else cap)
    got = log_e_value([*MIXED, *EMPTY], theta0, side=side, phi=phi, cap=cap)
    assert got == pytest.approx(math.log(expected), rel=1e-9)
    assert log_e_value(EMPTY, theta0, side=side) == 0.0  # no information: e-value 1


def test_the_paired_dispersion_is_pearsons_winsorized() -> None:
    phi = paired_dispersion([*MIXED, *EMPTY])
    assert phi == pytest.approx(pooled(ref_dispersion(MIXED), len(MIXED)), rel=1e-9)
    assert phi > 1.5  # real scatter: more than the binomial's
    # the prior weighs in as PRIOR_WEIGHT degrees of freedom, and is a floor
    assert paired_dispersion(MIXED, prior=1.5) == pytest.approx(
        pooled(ref_dispersion(MIXED), len(MIXED), 1.5), rel=1e-9
    )
    assert paired_dispersion(MIXED, prior=50.0) == 50.0  # never under the prior
    steady = [Bucket(4, 300.0, 8, 800.0)] * 6  # no scatter at all: floored at 1
    assert paired_dispersion(steady) == 1.0


def test_the_paired_dispersion_needs_five_informative_buckets() -> None:
    assert paired_dispersion([*MIXED[:4], *EMPTY]) == 1.0
    assert paired_dispersion(MIXED[:4], prior=2.0) == 2.0
    assert paired_dispersion(MIXED[:5]) == pytest.approx(
        pooled(ref_dispersion(MIXED[:5]), 5), rel=1e-9
    )


def test_the_paired_dispersion_is_capped_at_a_hundred() -> None:
    wild = [
        Bucket(x, 300.0, y, 800.0)
        for x, y in [(900, 1), (1, 900), (700, 2), (2, 800), (500, 1), (1, 600)]
    ]
    assert pooled(ref_dispersion(wild), len(wild)) > 100
    assert paired_dispersion(wild) == 100.0


def test_the_paired_dispersion_without_errors_on_one_side_uses_ratio_one() -> None:
    # no baseline errors: the pooled ratio is undefined, the comparison is made at 1
    only_new = [Bucket(x, 300.0, 0, 800.0) for x in (1, 9, 2, 14, 3, 8)]
    terms = []
    for b in only_new:
        p = 300.0 / 1100.0
        terms.append((b.new - b.new * p) ** 2 / (b.new * p * (1 - p)))
    terms.sort()
    expected = (sum(terms[:-1]) + terms[-2]) / 5
    assert paired_dispersion(only_new) == pytest.approx(
        min(100.0, pooled(expected, len(only_new))), rel=1e-9
    )


@pytest.mark.parametrize("alpha", [0.01, 0.05])
def test_the_confidence_sequence_is_the_ratios_not_rejected(alpha: float) -> None:
    lower, upper = confidence_bounds([*MIXED, *EMPTY], alpha)
    target = 1 / alpha
    assert 0 < lower < upper < math.inf
    # the lower side is the FAIL side: capped as the FAIL is
    assert ref_e_value(MIXED, lower * 0.999, "greater", cap=CAP) >= target
    assert ref_e_value(MIXED, lower * 1.001, "greater", cap=CAP) < target
    assert ref_e_value(MIXED, upper * 1.001, "less") >= target
    assert ref_e_value(MIXED, upper * 0.999, "less") < target
    tempered = confidence_bounds(MIXED, alpha, phi=3.0)
    assert tempered[0] < lower and tempered[1] > upper  # more dispersion, wider bounds
    assert ref_e_value(MIXED, tempered[0] * 0.999, "greater", 3.0, CAP) >= target
    assert ref_e_value(MIXED, tempered[0] * 1.001, "greater", 3.0, CAP) < target


def test_the_confidence_sequence_open_ends() -> None:
    assert confidence_bounds(EMPTY, 0.01) == (0.0, math.inf)
    no_new = [Bucket(0, 300.0, 9, 800.0)] * 3  # nothing bounds the ratio away from zero
    assert confidence_bounds(no_new, 0.01)[0] == 0.0
    no_base = [Bucket(9, 300.0, 0, 800.0)] * 3  # nothing bounds it from above
    assert confidence_bounds(no_base, 0.01)[1] == math.inf


def binomial_cdf(k: int, n: int, p: float) -> float:
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))


def test_the_result_sums_every_bucket_and_bounds_the_informative_ones() -> None:
    buckets = [*MIXED, *EMPTY]
    result = sequential_test(buckets, max_ratio=1.5, alpha=0.01, phi=2.0)
    assert (result.new, result.base) == (51 + 10, 62 + 6)
    assert (result.new_exposure, result.base_exposure) == (2020.0 + 600.0, 5650.0 + 1600.0)
    assert result.ratio == pytest.approx((61 / 2620.0) / (68 / 7250.0))
    assert result.buckets == 7
    assert (result.used_new, result.used_base) == (51, 62)
    assert (result.used_new_exposure, result.used_base_exposure) == (2020.0, 5650.0)
    assert result.phi == 2.0 and result.max_ratio == 1.5
    expected = ref_e_value(MIXED, 1.5, "greater", 2.0, CAP)
    assert result.e_value == pytest.approx(expected, rel=1e-9)
    lower = confidence_bounds(MIXED, 0.01, phi=2.0)[0]
    assert result.lower == pytest.approx(lower, rel=1e-6)
    # one-look 95% upper bound on the counts divided by phi: 51/2 -> 26 of 26 + 31 = 57
    x, n = round(51 / 2.0), round(51 / 2.0 + 31)
    p = result.upper * 2020.0 / (result.upper * 2020.0 + 5650.0)
    assert binomial_cdf(x, n, p) == pytest.approx(0.05, abs=1e-6)
    without = sequential_test(buckets, max_ratio=1.5, alpha=0.01, phi=2.0, bounds=False)
    assert without.lower == 0.0 and without.e_value == result.e_value


def test_no_baseline_errors_means_no_ratio() -> None:
    result = sequential_test([Bucket(5, 300.0, 0, 800.0)] * 2, max_ratio=1.5, alpha=0.01)
    assert result.ratio is None and result.upper == math.inf
    nothing = sequential_test(EMPTY, max_ratio=1.5, alpha=0.01)
    assert nothing.buckets == 0 and nothing.lower == 0.0 and nothing.e_value == 1.0


def ref_dispersion_at(buckets: list[Bucket], theta: float) -> float:
    terms = []
    for b in buckets:
        n = b.new + b.base
        p = theta * b.new_exposure / (theta * b.new_exposure + b.base_exposure)
        terms.append((b.new - n * p) ** 2 / (n * p * (1 - p)))
    terms.sort()
    terms[-1] = terms[-2]
    return min(100.0, sum(terms) / (len(terms) - 1))


def test_the_paired_dispersion_with_one_side_silent_is_measured_at_ratio_one() -> None:
    # no new errors at all: the pooled ratio would be 0, the comparison is made at 1
    no_new = [Bucket(0, 300.0, y, 300.0) for y in (1, 9, 2, 14, 3, 8)]
    assert paired_dispersion(no_new) == pytest.approx(
        pooled(ref_dispersion_at(no_new, 1.0), len(no_new)), rel=1e-9
    )
    assert paired_dispersion(no_new) > 1.0


ONE_BASE = [(1, 1), (9, 0), (2, 0), (14, 0), (3, 0), (8, 0)]  # one baseline error in all
ONE_NEW = [(1, 1), (0, 9), (0, 2), (0, 14), (0, 3), (0, 8)]  # one new error in all


@pytest.mark.parametrize("pairs", [ONE_BASE, ONE_NEW])
def test_a_single_error_on_a_side_still_sets_the_pooled_ratio(pairs: list[tuple[int, int]]) -> None:
    buckets = [Bucket(x, 300.0, y, 800.0) for x, y in pairs]
    x, y = sum(b.new for b in buckets), sum(b.base for b in buckets)
    theta = (x / 1800.0) / (y / 4800.0)
    assert ref_dispersion_at(buckets, theta) < 1.0  # around the pooled ratio: no excess scatter
    assert ref_dispersion_at(buckets, 1.0) > 2.0  # around 1 it would look overdispersed
    assert paired_dispersion(buckets) == 1.0


def test_the_paired_dispersion_is_never_under_one_even_with_a_lower_prior() -> None:
    steady = [Bucket(4, 300.0, 8, 800.0)] * 6
    assert paired_dispersion(steady, prior=0.5) == 1.0


def test_any_positive_exposure_is_information() -> None:
    small = [Bucket(1, 0.5, 2, 0.5)] * 2  # e.g. a fraction of a minute's sessions
    result = sequential_test(small, max_ratio=1.5, alpha=0.01)
    assert result.buckets == 2 and result.used_new == 2
    assert log_e_value(small, 1.5) == pytest.approx(math.log(ref_e_value(small, 1.5)), rel=1e-9)


def test_the_default_dispersion_is_one() -> None:
    result = sequential_test(MIXED, max_ratio=1.5, alpha=0.01)
    assert result.phi == 1.0
    assert result.e_value == pytest.approx(ref_e_value(MIXED, 1.5, cap=CAP), rel=1e-9)


def test_overwhelming_evidence_is_reported_as_e_to_the_700_not_an_overflow() -> None:
    loud = [Bucket(60, 1000.0, 5, 1000.0)] * 200  # each minute capped at e^4: e^800 in all
    result = sequential_test(loud, max_ratio=1.5, alpha=0.01, bounds=False)
    assert result.e_value == math.exp(700.0)
