"""The baseline and the split of alpha, planned before the window from the baseline alone:
as far back as one read goes (5 hours); most alpha on watching with traffic, on the end's
exact look without."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

import pytest

from sentry_release.config.settings import GatePolicy
from sentry_release.gate.policy import (
    LOW_TRAFFIC_ERRORED,
    LOW_TRAFFIC_WATCH_SHARE,
    WATCH_SHARE,
    watch_share,
)
from sentry_release.gate.watch import _Watcher
from tests.unit.test_gate_sim_reference import gate_sim


def sim_watcher(cell: str, policy: GatePolicy) -> tuple[_Watcher, float]:
    """The real watcher against the simulated Sentry of one seeded world of `cell`, a second
    after its deploy, and the simulated clock's time then."""
    sim = gate_sim()
    world = sim.build(sim.CELLS[cell], random.Random("plan"))
    clock = sim.SimClock(world.deploy + 1)
    return sim.watcher(world, sim.CELLS[cell], clock, policy), clock.now


def test_the_watch_share_turns_on_the_errored_units_a_window_holds() -> None:
    assert watch_share(LOW_TRAFFIC_ERRORED) == WATCH_SHARE
    assert watch_share(LOW_TRAFFIC_ERRORED - 0.01) == LOW_TRAFFIC_WATCH_SHARE
    assert watch_share(0.0) == LOW_TRAFFIC_WATCH_SHARE
    assert WATCH_SHARE > 0.5 > LOW_TRAFFIC_WATCH_SHARE


@pytest.mark.parametrize(
    ("cell", "buckets", "share"),
    [
        # 1,000 sessions a minute at 1%: ~100 errored a window: watching
        ("3x, mild noise", 300, WATCH_SHARE),
        # 20 a minute at 2%: ~4 errored a window: the end's look
        ("5x, 20/min", 300, LOW_TRAFFIC_WATCH_SHARE),
    ],
)
def test_the_plan_picks_the_baseline_and_the_split_from_the_baseline(
    cell: str, buckets: int, share: float
) -> None:
    watcher, _ = sim_watcher(cell, GatePolicy(enabled=True))
    plan = watcher.plan()
    (traffic,) = plan.baseline.values()
    assert len(traffic.errored.values) == buckets
    assert traffic.errored.start == plan.deploy_start.replace(second=0, microsecond=0) - timedelta(
        hours=5
    )
    assert plan.shares == {"11": share}


def test_the_baseline_dispersion_is_carried_to_the_nulls_level() -> None:
    from sentry_release.gate.sequential import dispersion_at_level

    # NB2: phi = 1 + c mu; the null puts the new side's counts at 1.5x the baseline's
    assert dispersion_at_level(3.5, 1.5) == pytest.approx(4.75)
    assert dispersion_at_level(1.0, 1.5) == 1.0  # Poisson stays Poisson
    assert dispersion_at_level(0.8, 1.5) == 1.0  # never under 1
    assert dispersion_at_level(2.0, 0.5) == 2.0  # never scaled down


def test_a_second_end_look_is_planned_and_halves_the_ends_level() -> None:
    from sentry_release.gate.policy import FAIL, RateInput, end_alpha, final_p_value, rate_rule
    from sentry_release.gate.sequential import Bucket

    # 2% -> ~10% at 20 sessions a minute: 20 of 200 against 120 of 6,000
    buckets = tuple(Bucket(2.0, 20.0, 12.0, 600.0) for _ in range(10))
    share = LOW_TRAFFIC_WATCH_SHARE
    p = final_p_value(buckets, 1.5, 1.0)
    alpha = 1.5 * p / (1.0 - share)  # one look at alpha's end part rejects; half of it not
    assert end_alpha(alpha, share, 2) < p < end_alpha(alpha, share, 1)
    one = RateInput("sessions", "previous", buckets, 1.0, "1.0", watch_share=share)
    policy = GatePolicy(enabled=True)
    assert rate_rule(one, policy, final=True, alpha=alpha).verdict == FAIL
    two = rate_rule(replace(one, end_looks=2), policy, final=True, alpha=alpha)
    assert two.verdict != FAIL and "more minute" in two.reason


@pytest.mark.parametrize(("timeout", "looks"), [(None, 1), (900.0, 1), (3 * 3600.0, 2)])
def test_an_extension_keeps_the_split_planned_before_the_window(
    timeout: float | None, looks: int
) -> None:
    watcher, now = sim_watcher("5x, 20/min", GatePolicy(enabled=True, timeout=timeout))
    plan = watcher.plan()
    deadline = now + timeout if timeout else None
    room = watcher.extension_end(plan, deadline) if deadline else None
    assert (1 if room is None else 2) == looks
    # five hours of 20 sessions a minute at 2% expect > 20 errored: a plan made after the
    # window would move alpha to watching, spending more than the end's look left
    five_hours = plan.window_start + timedelta(hours=5)
    longer = watcher.extend(replace(plan, end_looks=looks), five_hours)
    assert watcher.with_baseline(replace(plan, window_end=five_hours)).shares == {"11": WATCH_SHARE}
    assert longer.shares == plan.shares == {"11": LOW_TRAFFIC_WATCH_SHARE}
    assert longer.end_looks == looks


def test_a_planned_extension_splits_the_pass_bound_too() -> None:
    from sentry_release.gate.policy import PASS, RateInput, rate_rule
    from sentry_release.gate.sequential import Bucket

    # 38 errored against 38 on equal traffic: the 95% upper bound of the ratio is 1.497, the
    # 97.5% one 1.61; a PASS possible at two ends spends half the false-PASS level at each
    buckets = (Bucket(19.0, 500.0, 19.0, 500.0), Bucket(19.0, 500.0, 19.0, 500.0))
    one = RateInput("sessions", "concurrent", buckets, 1.0, "1.0")
    policy = GatePolicy(enabled=True)
    assert rate_rule(one, policy, final=True).verdict == PASS
    two = rate_rule(replace(one, end_looks=2), policy, final=True)
    assert two.verdict != PASS and "upper bound 1.61" in two.reason
