"""The always-valid rate test: a mixture likelihood-ratio e-process on the conditional
binomial, so the gate may look after every poll without inflating false FAILs.

Time is cut into buckets (a minute by default). In bucket i the new release has x_i errored
units over exposure e_i, the baseline y_i over f_i (the same minute when both releases serve
at once, else the baseline's i-th minute before the deploy). Given n_i = x_i + y_i, x_i is
Binomial(n_i, p_i(theta)) with p_i = theta*e_i / (theta*e_i + f_i), theta being the ratio of
the rates. For a null theta0 and an alternative theta1 the likelihood ratio

    LR = prod_i (theta1/theta0)^x_i * ((theta0*e_i + f_i) / (theta1*e_i + f_i))^n_i

is a test martingale under theta0 (and a supermartingale for every theta on the null's side,
the family having a monotone likelihood ratio). Averaging it over a fixed grid of
alternatives keeps that property (mSPRT, Robbins' mixture); by Ville's inequality
P(sup_t M_t >= 1/alpha) <= alpha under the null, however often one looks. Inverting the two
one-sided tests gives a confidence sequence for theta: the gate FAILs when its lower bound
exceeds the tolerated ratio (checked at every poll). A PASS is decided once, at the final
look, so its upper bound is the exact one-look conditional bound at 95%
(`stats.ratio_upper_bound`): the gate PASSes only when that bound is under the ratio.

Overdispersion (bursty errors) enters as quasi-likelihood: the log-LR is divided by phi
(`paired_dispersion`): estimated from the paired comparison itself (the conditional
binomial's Pearson residuals, so variation common to both releases, which cancels in the
conditional binomial, is not divided out), its largest term dropped (one burst does not
set it), and before enough buckets exist the baseline's own series. For phi = 1 this is
exact; for phi > 1 it is the quasi-Poisson correction, and the simulation of the real gate
(bench/gate_sim.py) measures the error rate it gives under gamma noise and bursts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sentry_release.gate.stats import MAX_DISPERSION, ratio_upper_bound, winsorized_sum

# Alternatives, as multiples of the null ratio: concentrated where regressions matter, 2x to
# 5x at the default limit of 1.5x (4/3 to 10/3 times the null), log-spaced, equal weights.
# Each point costs ln(GRID_SIZE) of evidence: 5 points cost 1.6, the former 16 over
# 1.15x-30x 2.8, and most of those sat where no regression worth stopping a deploy lives
# (6 points over 2x-6x: a 3x regression at 1,000 sessions a minute caught within 5 minutes
# ~0.5 point less often in bench/gate_sim.py, 95.7% against 96.2% of 1,500 paired runs;
# beyond 5x every point of the grid is already far from the null).
PASS_ALPHA = 0.05  # the final upper bound is a one-look, 95% one-sided bound
GRID_SIZE = 5
GRID_LOW, GRID_HIGH = 4.0 / 3.0, 10.0 / 3.0
GRID = tuple(
    math.exp(math.log(GRID_LOW) + i * (math.log(GRID_HIGH) - math.log(GRID_LOW)) / (GRID_SIZE - 1))
    for i in range(GRID_SIZE)
)
LOG_LIMIT = 12.0  # bounds are searched for in [e^-12, e^12]
SEARCH_STEPS = 24  # bisection steps over [-12, 12] in log space: 1.5e-6 relative
BUCKET_CAP = 4.0  # at most e^4 (55x) of evidence from any one bucket


@dataclass(frozen=True)
class Bucket:
    """One time bucket: counts and exposures of the new release and of its baseline."""

    new: float
    new_exposure: float
    base: float
    base_exposure: float


def _usable(buckets: Sequence[Bucket]) -> list[Bucket]:
    return [b for b in buckets if b.new_exposure > 0 and b.base_exposure > 0 and b.new + b.base]


def log_lr(
    buckets: Sequence[Bucket],
    theta0: float,
    theta1: float,
    phi: float = 1.0,
    cap: float | None = None,
) -> float:
    """log LR of ratio theta1 against theta0, tempered by the dispersion phi; with `cap`,
    no bucket adds more than `cap` (a minute's burst, e.g. one user's crash loop, cannot
    carry the verdict alone). Each capped, tempered factor still has mean <= 1 under the
    null (Jensen for 1/phi <= 1, then min(., e^cap)), so the product stays a test
    supermartingale."""
    step = math.log(theta1 / theta0)
    total = 0.0
    for b in _usable(buckets):
        n = b.new + b.base
        term = (
            b.new * step
            - n
            * math.log(
                (theta1 * b.new_exposure + b.base_exposure)
                / (theta0 * b.new_exposure + b.base_exposure)
            )
        ) / phi
        total += term if cap is None else min(term, cap)
    return total


MIN_PAIRED = 5  # buckets before the paired comparison's own dispersion is used
# The prior (the baseline's own series) counts as this many degrees of freedom beside the
# pairs': five pairs move the estimate a third of the way, not all of it (Pearson's X^2 over
# 4 df has a standard deviation of 0.7 times its mean, so a raw estimate from a few pairs
# swung between 1 and 3 on the same world and delayed FAILs; bench/gate_sim.py).
PRIOR_WEIGHT = 10.0


def dispersion_at_level(phi: float, level: float) -> float:
    """A count series' dispersion carried to counts `level` times as large. Noise that
    multiplies each minute's rate (a gamma multiplier of squared CV c, the negative binomial's
    NB2 form) gives Var = mu + c mu^2, a dispersion of 1 + c mu: it grows with the count. The
    new release's counts at the null are max_ratio times the baseline's, so the baseline's
    own phi understates theirs (simulated at CV 0.5: 3.5 against 4.7, and false FAILs at the
    1.5x boundary rose past 1%); 1 + (phi - 1) x level restores it."""
    return 1.0 + max(phi - 1.0, 0.0) * max(level, 1.0)


def paired_dispersion(buckets: Sequence[Bucket], prior: float = 1.0) -> float:
    """The dispersion of the new side's counts given each bucket's total, around the pooled
    ratio: Pearson's X^2 of the conditional binomial with its largest term cut to the second
    (robust to a single burst), pooled with `prior` (the baseline's own series) weighted as
    PRIOR_WEIGHT degrees of freedom; never under the prior nor 1."""
    usable = _usable(buckets)
    if len(usable) < MIN_PAIRED:
        return max(1.0, prior)
    new = sum(b.new for b in usable)
    base = sum(b.base for b in usable)
    e_new = sum(b.new_exposure for b in usable)
    e_base = sum(b.base_exposure for b in usable)
    theta = (new / e_new) / (base / e_base) if base > 0 and new > 0 else 1.0
    terms = []
    for b in usable:
        n = b.new + b.base
        p = theta * b.new_exposure / (theta * b.new_exposure + b.base_exposure)
        variance = n * p * (1.0 - p)
        if variance > 0:
            terms.append((b.new - n * p) ** 2 / variance)
    if len(terms) < MIN_PAIRED:
        return max(1.0, prior)
    terms.sort()
    prior = max(1.0, prior)
    pooled = (winsorized_sum(terms) + PRIOR_WEIGHT * prior) / (len(terms) - 1 + PRIOR_WEIGHT)
    return max(prior, min(MAX_DISPERSION, pooled))


def _logmeanexp(values: Sequence[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values) / len(values))


def log_e_value(
    buckets: Sequence[Bucket],
    theta0: float,
    *,
    side: str = "greater",
    phi: float = 1.0,
    cap: float | None = None,
) -> float:
    """log of the mixture e-value against theta <= theta0 (`greater`) or >= theta0 (`less`)."""
    usable = _usable(buckets)
    if not usable:
        return 0.0
    factors = GRID if side == "greater" else tuple(1.0 / g for g in GRID)
    return _logmeanexp([log_lr(usable, theta0, theta0 * f, phi, cap) for f in factors])


def _search(buckets: Sequence[Bucket], alpha: float, phi: float, side: str) -> float:
    """The confidence-sequence boundary on one side (inf/0 when the data do not bound it)."""
    target = math.log(1.0 / alpha)

    def past(x: float) -> bool:
        """Monotone in x: False below the boundary, True above it."""
        if side == "upper":  # theta rejected as too large
            return log_e_value(buckets, math.exp(x), side="less", phi=phi) >= target
        # lower: theta no longer rejected as too small (the FAIL side: capped as the FAIL is)
        return log_e_value(buckets, math.exp(x), side="greater", phi=phi, cap=BUCKET_CAP) < target

    low, high = -LOG_LIMIT, LOG_LIMIT
    if not past(high):
        return math.inf
    if past(low):
        return 0.0
    for _ in range(SEARCH_STEPS):
        mid = (low + high) / 2
        if past(mid):
            high = mid
        else:
            low = mid
    return math.exp(high)


def confidence_bounds(
    buckets: Sequence[Bucket], alpha: float, phi: float = 1.0
) -> tuple[float, float]:
    """(lower, upper): the 1-alpha confidence sequence for the rate ratio, each side at alpha."""
    if not _usable(buckets):
        return 0.0, math.inf
    return _search(buckets, alpha, phi, "lower"), _search(buckets, alpha, phi, "upper")


@dataclass(frozen=True)
class SequentialResult:
    """The e-value against the tolerated ratio and the confidence sequence of the ratio."""

    new: float
    new_exposure: float
    base: float
    base_exposure: float
    ratio: float | None  # pooled observed ratio (None without baseline errors)
    e_value: float  # evidence against ratio <= max_ratio, valid at every look
    lower: float  # always-valid lower confidence bound (1 - alpha)
    upper: float  # one-look upper bound (1 - PASS_ALPHA), for the final verdict
    phi: float
    buckets: int
    # the usable buckets' totals and the null, for the one look at the window's end
    used_new: float = 0.0
    used_base: float = 0.0
    used_new_exposure: float = 0.0
    used_base_exposure: float = 0.0
    max_ratio: float | None = None


def sequential_test(
    buckets: Sequence[Bucket],
    *,
    max_ratio: float,
    alpha: float,
    phi: float = 1.0,
    bounds: bool = True,
    pass_alpha: float = PASS_ALPHA,
) -> SequentialResult:
    """Everything the rate rule needs from the buckets seen so far (without the lower
    confidence bound's search when `bounds` is False); the upper bound at 1 - `pass_alpha`."""
    usable = _usable(buckets)
    new = sum(b.new for b in buckets)
    base = sum(b.base for b in buckets)
    e_new = sum(b.new_exposure for b in buckets)
    e_base = sum(b.base_exposure for b in buckets)
    ratio = (new / e_new) / (base / e_base) if base and e_new and e_base else None
    log_e = log_e_value(usable, max_ratio, side="greater", phi=phi, cap=BUCKET_CAP)
    lower = _search(usable, alpha, phi, "lower") if bounds and usable else 0.0
    used_new = sum(b.new for b in usable)
    used_base = sum(b.base for b in usable)
    upper = ratio_upper_bound(
        used_new / phi,
        used_base / phi,
        sum(b.new_exposure for b in usable),
        sum(b.base_exposure for b in usable),
        pass_alpha,
    )
    return SequentialResult(
        new=new,
        new_exposure=e_new,
        base=base,
        base_exposure=e_base,
        ratio=ratio,
        e_value=math.exp(min(log_e, 700.0)),
        lower=lower,
        upper=upper,
        phi=phi,
        buckets=len(usable),
        used_new=used_new,
        used_base=used_base,
        used_new_exposure=sum(b.new_exposure for b in usable),
        used_base_exposure=sum(b.base_exposure for b in usable),
        max_ratio=max_ratio,
    )
