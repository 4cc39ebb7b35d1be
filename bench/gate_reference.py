"""Reference values for the gate's statistics, computed with statsmodels and scipy and frozen
in tests/fixtures/gate_reference.json, so the test suite checks against them without
depending on either. Run: `.venv/bin/pip install scipy statsmodels` then
`.venv/bin/python bench/gate_reference.py` (never part of the suite)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import statsmodels.api as sm
from scipy import stats
from scipy.special import logsumexp
from statsmodels.stats.rates import test_poisson_2indep

from sentry_release.gate.sequential import GRID

OUT = Path(__file__).parents[1] / "tests" / "fixtures" / "gate_reference.json"

CONDITIONAL = [
    (110, 100, 3600.0, 3600.0, 1.5),
    (400, 100, 3600.0, 3600.0, 1.5),
    (30, 10, 600.0, 600.0, 1.5),
    (12, 3, 250.0, 1000.0, 1.5),
    (0, 5, 1.0, 1.0, 1.5),
    (5000, 4000, 1e6, 1e6, 1.2),
]
BINOMIAL = [(5, 40, 0.3), (30, 40, 0.6), (1, 1000, 1e-4), (900, 1000, 0.8), (3, 3, 0.5)]
UPPER = [
    (30, 10, 1.0, 1.0, 0.05),
    (100, 100, 1e4, 1e4, 0.05),
    (3, 0, 5.0, 7.0, 0.05),
    (0, 20, 1000.0, 1000.0, 0.05),
    (250, 90, 2.0, 1.0, 0.01),
]


def upper(new: int, base: int, e_new: float, e_base: float, alpha: float) -> float:
    """Clopper-Pearson upper bound of p from the beta quantile, mapped to the ratio."""
    n = new + base
    if n == 0 or new >= n:
        return math.inf
    p = stats.beta.ppf(1 - alpha, new + 1, n - new)
    return float(p / (1 - p) * e_base / e_new)


def pearson_phi(counts: list[float], exposures: list[float]) -> float:
    """Pearson chi2 / df of an intercept-only Poisson GLM with log-exposure offset."""
    model = sm.GLM(
        np.array(counts),
        np.ones((len(counts), 1)),
        family=sm.families.Poisson(),
        offset=np.log(np.array(exposures)),
    ).fit()
    return float(model.pearson_chi2 / model.df_resid)


def log_e(buckets: list[tuple[float, float, float, float]], theta0: float, side: str) -> float:
    """The mixture e-value from scipy's binomial log-pmf ratios, independently of ours."""
    factors = GRID if side == "greater" else [1 / g for g in GRID]
    terms = []
    for f in factors:
        total = 0.0
        for x, e, y, b in buckets:
            p0 = theta0 * e / (theta0 * e + b)
            p1 = theta0 * f * e / (theta0 * f * e + b)
            total += stats.binom.logpmf(x, x + y, p1) - stats.binom.logpmf(x, x + y, p0)
        terms.append(total)
    return float(logsumexp(terms) - math.log(len(terms)))


def main() -> None:
    rng = np.random.default_rng(14)
    series = []
    for shape in (None, 2.0, 0.5):
        exposures = [float(v) for v in rng.integers(800, 1200, size=15)]
        means = [e * 0.01 for e in exposures]
        if shape is None:
            counts = [float(rng.poisson(m)) for m in means]
        else:
            counts = [float(rng.negative_binomial(shape, shape / (shape + m))) for m in means]
        series.append(
            {
                "counts": counts,
                "exposures": exposures,
                "pearson_phi": pearson_phi(counts, exposures),
            }
        )
    buckets = [(30.0, 1000.0, 10.0, 1000.0), (25.0, 900.0, 12.0, 1100.0), (0.0, 50.0, 3.0, 60.0)]
    data = {
        "generated_with": {
            "scipy": __import__("scipy").__version__,
            "statsmodels": sm.__version__
            if hasattr(sm, "__version__")
            else __import__("statsmodels").__version__,
        },
        "conditional": [
            {
                "args": list(args),
                "p_value": float(
                    test_poisson_2indep(
                        args[0],
                        args[2],
                        args[1],
                        args[3],
                        value=args[4],
                        method="exact-cond",
                        compare="ratio",
                        alternative="larger",
                    ).pvalue
                ),
            }
            for args in CONDITIONAL
        ],
        "binomial_sf": [
            {"args": list(a), "sf": float(stats.binom.sf(a[0] - 1, a[1], a[2]))} for a in BINOMIAL
        ],
        "upper_bound": [
            {"args": list(a), "upper": upper(*a)} for a in UPPER if math.isfinite(upper(*a))
        ],
        "dispersion": series,
        "e_value": [
            {
                "buckets": [list(b) for b in buckets],
                "theta0": t,
                "side": s,
                "log_e": log_e(buckets, t, s),
            }
            for t, s in ((1.5, "greater"), (1.0, "greater"), (4.0, "less"))
        ],
    }
    OUT.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
