"""The baseline's length and the split of alpha, planned before the window from the
baseline alone: 12 windows with enough errored units, else as far back as one read goes; most
alpha on watching with traffic, on the end's exact look without."""

from __future__ import annotations

import io
import random
from datetime import datetime, timedelta, timezone

import pytest

from sentry_release.config.settings import DeployOptions, GatePolicy, Settings
from sentry_release.gate.models import Series, Traffic
from sentry_release.gate.policy import (
    LOW_TRAFFIC_ERRORED,
    LOW_TRAFFIC_WATCH_SHARE,
    WATCH_SHARE,
    watch_share,
)
from sentry_release.gate.watch import BASELINE_MIN_ERRORED, _Watcher
from sentry_release.output import Output
from tests.unit.test_gate_sim_reference import gate_sim

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)


def test_a_series_keeps_its_last_buckets_and_their_start() -> None:
    series = Series(T0, 60.0, (1.0, 2.0, 3.0, 4.0))
    assert series.last(2) == Series(T0 + timedelta(seconds=120), 60.0, (3.0, 4.0))
    assert series.last(9) == series
    assert series.last(0) == Series(T0 + timedelta(seconds=240), 60.0, ())


def test_traffic_cuts_every_series_alike() -> None:
    def s(*values: float) -> Series:
        return Series(T0, 60.0, values)

    traffic = Traffic("sessions", s(1, 2, 3), s(10, 20, 30), None, s(1, 1, 2), s(9, 19, 28))
    cut = traffic.last(2)
    assert cut.errored.values == (2, 3) and cut.exposure is not None
    assert cut.exposure.values == (20, 30)
    assert cut.errored_users is not None and cut.errored_users.values == (1, 2)
    assert cut.users is not None and cut.users.values == (19, 28)
    assert cut.by_users().exposure == cut.users


def test_the_watch_share_turns_on_the_errored_units_a_window_holds() -> None:
    assert watch_share(LOW_TRAFFIC_ERRORED) == WATCH_SHARE
    assert watch_share(LOW_TRAFFIC_ERRORED - 0.01) == LOW_TRAFFIC_WATCH_SHARE
    assert watch_share(0.0) == LOW_TRAFFIC_WATCH_SHARE
    assert WATCH_SHARE > 0.5 > LOW_TRAFFIC_WATCH_SHARE


@pytest.mark.parametrize(
    ("cell", "buckets", "share"),
    [
        # 1,000 sessions a minute at 1%: ~1,200 errored in 12 windows: 12 windows, watching
        ("3x, mild noise", 120, WATCH_SHARE),
        # 20 a minute at 2%: ~48 errored in 12 windows: 5 hours back, the end's look
        ("5x, 20/min", 300, LOW_TRAFFIC_WATCH_SHARE),
    ],
)
def test_the_plan_picks_the_baseline_and_the_split_from_the_baseline(
    cell: str, buckets: int, share: float
) -> None:
    sim = gate_sim()
    world = sim.build(sim.CELLS[cell], random.Random("plan"))
    clock = sim.SimClock(world.deploy + 1)
    sentry = sim.SimSentry(world, clock.clock, 1)
    settings = Settings(
        url="http://127.0.0.1:1/",
        auth_token="sim",
        org="acme",
        deploy=DeployOptions(environment="production"),
        gate=GatePolicy(enabled=True),
    )
    out = Output(stdout=io.StringIO(), stderr=io.StringIO(), is_tty=False)
    watcher = _Watcher(settings, sentry, sim.NEW, None, out, clock.clock, clock.sleep, 10.0)  # type: ignore[arg-type]
    plan = watcher.plan()
    (traffic,) = plan.baseline.values()
    assert len(traffic.errored.values) == buckets
    recent = traffic.last(120).errored.total()
    assert (recent >= BASELINE_MIN_ERRORED) == (buckets == 120)
    assert plan.shares == {"11": share}
