"""The rate rule's third generation: per-project verdicts with the error level split, the
dispersion from the paired comparison (one burst does not set it), the per-bucket evidence
cap (one minute's crash loop cannot carry a FAIL), the one look at the window's end, and an
INCONCLUSIVE that says how many more minutes would decide."""

from __future__ import annotations

import math

from sentry_release.config.settings import GatePolicy
from sentry_release.gate.policy import FAIL, INCONCLUSIVE, PASS, RateInput, project_rates
from sentry_release.gate.sequential import (
    BUCKET_CAP,
    Bucket,
    log_e_value,
    log_lr,
    paired_dispersion,
)
from sentry_release.gate.stats import robust_dispersion

POLICY = GatePolicy()


def steady(count: int, new: float = 10, base: float = 10) -> list[Bucket]:
    return [Bucket(new, 1000.0, base, 1000.0) for _ in range(count)]


def test_one_burst_does_not_set_the_dispersion() -> None:
    counts = [10.0] * 29 + [60.0]  # a crash loop of 50 in one minute
    assert robust_dispersion(counts, [1000.0] * 30) == 1.0
    buckets = [*steady(9), Bucket(60, 1000.0, 10, 1000.0)]
    assert paired_dispersion(buckets) < 1.5
    assert paired_dispersion(buckets, prior=2.5) == 2.5  # never under the baseline's own


def test_one_bucket_adds_at_most_the_cap() -> None:
    burst = [Bucket(60, 1000.0, 10, 1000.0)]
    assert log_lr(burst, 1.5, 3.0) > BUCKET_CAP
    assert log_lr(burst, 1.5, 3.0, cap=BUCKET_CAP) == BUCKET_CAP
    quiet = steady(9)
    capped = log_e_value([*quiet, *burst], 1.5, cap=BUCKET_CAP)
    assert capped < math.log(1 / POLICY.alpha)  # the loop alone cannot fail the release


def test_each_project_is_judged_and_the_failing_one_named() -> None:
    web = RateInput("sessions", "previous", tuple(steady(10)), 1.0, "1.0", (), "web")
    api = RateInput("sessions", "previous", tuple(steady(10, new=8, base=2)), 1.0, "1.0", (), "api")
    result = project_rates((web, api), POLICY, final=True)
    assert result.verdict == FAIL
    assert result.reason.startswith("api: error rate regressed")
    assert [r.project for r in result.projects] == ["web", "api"]
    assert result.projects[0].verdict == PASS


def test_the_look_at_the_windows_end_decides_what_watching_could_not() -> None:
    # 19.5 of 200 against 12 of 600: the e-process stays under its threshold, the one look at
    # the end (equal minutes: the busiest counts as the second, i.e. as it is; exact p =
    # 0.0013 < 0.8 alpha at the split planned for a window of few errored units) decides
    buckets = tuple(Bucket(1.95, 20.0, 1.2, 60.0) for _ in range(10))
    inp = RateInput("sessions", "previous", buckets, 1.0, "1.0", watch_share=0.2)
    assert project_rates((inp,), POLICY, final=False).verdict != FAIL
    final = project_rates((inp,), POLICY, final=True)
    assert final.verdict == FAIL and "one-look exact p = 0.0013" in final.reason


def test_one_burst_cannot_make_the_look_at_the_end_fail() -> None:
    # 20 sessions a minute, 2% errored on both sides, one user's loop of 50 in one minute
    quiet = [Bucket(0.4, 20.0, 4.8, 240.0) for _ in range(9)]
    buckets = (*quiet, Bucket(50.4, 70.0, 4.8, 240.0))
    result = project_rates((RateInput("sessions", "previous", buckets, 1.0, "1.0"),), POLICY, True)
    assert result.verdict != FAIL, result.reason


def test_inconclusive_says_how_many_more_minutes_would_decide() -> None:
    buckets = tuple(Bucket(3, 1000.0, 1, 1000.0) for _ in range(10))  # 30 vs 10, ratio 3
    result = project_rates((RateInput("sessions", "previous", buckets, 1.0, "1.0"),), POLICY, True)
    assert result.verdict == INCONCLUSIVE
    assert result.more_minutes is not None and 1 <= result.more_minutes < 60
    assert f"about {result.more_minutes:.0f} more minute(s)" in result.reason
    at_limit = tuple(Bucket(15, 1000.0, 10, 1000.0) for _ in range(10))  # ratio 1.5 exactly
    result = project_rates((RateInput("sessions", "previous", at_limit, 1.0, "1.0"),), POLICY, True)
    assert result.verdict == INCONCLUSIVE and result.more_minutes is None
    assert "would not decide" in result.reason
