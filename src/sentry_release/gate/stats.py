"""Fixed-sample statistics of the gate: the exact conditional binomial test and the
overdispersion of a count series. Pure functions, standard library only.

The conditional test: with new errors X ~ Poisson(theta * lam * E_new) and baseline errors
Y ~ Poisson(lam * E_base), given n = X + Y, X ~ Binomial(n, p) with
p = theta*E_new / (theta*E_new + E_base). It matches statsmodels' `test_poisson_2indep`
(`method="exact-cond"`, `compare="ratio"`, `alternative="larger"`), checked against frozen
reference values in tests/fixtures/gate_reference.json (made by bench/gate_reference.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

MAX_DISPERSION = 100.0  # beyond this the series is one burst, not a rate


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed exactly term by term in log space.

    Terms are summed away from the mode, where they only shrink, and the sum stops once they
    no longer change it; above-the-mode tails are summed directly (no cancellation), others
    as 1 - P(X <= k-1).
    """
    if k <= 0:
        return 1.0
    if k > n or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)

    def log_pmf(i: int) -> float:
        return (
            math.lgamma(n + 1)
            - math.lgamma(i + 1)
            - math.lgamma(n - i + 1)
            + i * log_p
            + (n - i) * log_q
        )

    odds = p / (1.0 - p)
    mode = math.floor((n + 1) * p)
    if k > mode:
        term = math.exp(log_pmf(k))
        total = 0.0
        i = k
        while i <= n and term > 0.0:
            total += term
            if term < total * 1e-17:
                break
            term *= (n - i) / (i + 1) * odds
            i += 1
        return min(1.0, total)
    term = math.exp(log_pmf(k - 1))
    total = 0.0
    i = k - 1
    while i >= 0 and term > 0.0:
        total += term
        if term < total * 1e-17:
            break
        term *= i / (n - i + 1) / odds
        i -= 1
    return max(0.0, 1.0 - total)


def conditional_p_value(
    new: int, base: int, new_exposure: float, base_exposure: float, ratio: float
) -> float:
    """One-sided p-value of H0 rate_new <= ratio * rate_base (exact, conditional on n)."""
    if new_exposure <= 0 or base_exposure <= 0:
        return 1.0
    p0 = ratio * new_exposure / (ratio * new_exposure + base_exposure)
    return binomial_sf(new, new + base, p0)


def dispersion(counts: Sequence[float], exposures: Sequence[float]) -> float:
    """Pearson's dispersion of a count series around a constant rate (quasi-Poisson phi).

    sum((y - mu)^2 / mu) / (m - 1) with mu = exposure * total/total exposure; 1 for a Poisson
    series, more for bursts. Floored at 1 (never sharper than Poisson), capped, and 1 when
    the series is too short (fewer than 3 buckets with exposure) to say.
    """
    pairs = [(float(y), float(e)) for y, e in zip(counts, exposures, strict=True) if e > 0]
    total = sum(y for y, _ in pairs)
    exposure = sum(e for _, e in pairs)
    if len(pairs) < 3 or total <= 0 or exposure <= 0:
        return 1.0
    rate = total / exposure
    chi2 = sum((y - e * rate) ** 2 / (e * rate) for y, e in pairs)
    return min(MAX_DISPERSION, max(1.0, chi2 / (len(pairs) - 1)))


def ratio_upper_bound(
    new: float, base: float, new_exposure: float, base_exposure: float, alpha: float
) -> float:
    """Exact conditional (Clopper-Pearson) upper 1-alpha bound of the rate ratio.

    The largest theta with P(X <= new | n, p(theta)) >= alpha, p = theta*E_new/(theta*E_new
    + E_base); inf without baseline errors. Counts may be fractional (already divided by a
    dispersion): they are rounded to whole trials.
    """
    x, n = round(new), round(new + base)
    if new_exposure <= 0 or base_exposure <= 0 or n <= 0:
        return math.inf
    if x >= n:
        return math.inf
    low, high = 0.0, 1.0
    for _ in range(80):
        mid = (low + high) / 2
        if 1.0 - binomial_sf(x + 1, n, mid) >= alpha:
            low = mid
        else:
            high = mid
    p = high
    if p >= 1.0:
        return math.inf
    return p / (1.0 - p) * base_exposure / new_exposure


def robust_dispersion(counts: Sequence[float], exposures: Sequence[float]) -> float:
    """`dispersion` with the series' largest Pearson term cut to the second largest
    (winsorized): one burst (a user's crash loop) does not set the dispersion of a whole
    baseline, and ordinary noise is barely shrunk; 1 when fewer than 4 buckets have
    exposure."""
    pairs = [(float(y), float(e)) for y, e in zip(counts, exposures, strict=True) if e > 0]
    total = sum(y for y, _ in pairs)
    exposure = sum(e for _, e in pairs)
    if len(pairs) < 4 or total <= 0 or exposure <= 0:
        return 1.0
    rate = total / exposure
    terms = sorted((y - e * rate) ** 2 / (e * rate) for y, e in pairs)
    return min(MAX_DISPERSION, max(1.0, winsorized_sum(terms) / (len(terms) - 1)))


def winsorized_sum(sorted_terms: Sequence[float]) -> float:
    """The sum of ascending terms with the largest cut to the second largest."""
    if len(sorted_terms) < 2:
        return float(sum(sorted_terms))
    return float(sum(sorted_terms[:-1]) + sorted_terms[-2])
