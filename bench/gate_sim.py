"""Simulation of the deploy gate against bursty traffic (no server): false FAILs, detection
rates and time to FAIL of the gate's policy beside the anchors' rules.

    .venv/bin/python bench/gate_sim.py [--runs 500] [--seed 14]

Traffic per minute: sessions (the new release's share after a canary split), errored
sessions negative-binomial around 1% (mild overdispersion, shape 50), error events per
errored session 1 + geometric (mean 0.5) with a 0.3% chance of a retry loop of 150 events,
a benign stray new issue (one event) in 30% of the runs. Ingestion lag: events 1-10 s,
session aggregates 5-75 s after their minute (SDK flush + processing). Policies poll every
30 s (Sentry's rate limits) from the deploy on.

Scenarios: no regression; 2x, 3x, 10x errored sessions; a handled new issue in 1% of the
sessions; a fatal new issue in 1% of the sessions. Policies:
- gate (this project): `gate.policy` rules with the always-valid sequential test, the
  default settings (grace, window, settle per source, floors);
- sentry: Sentry's pipeline rule: wait 300 s, fail on any new issue;
- fixed: a Datadog-style monitor: error events per session over the last 5 minutes above
  2x the baseline's, evaluated every minute;
- gen1: this gate's first generation: 300 s grace, then a fixed-sample exact test of error
  events per second of time at every poll, new issues counted by users.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sentry_release.config.settings import GatePolicy
from sentry_release.gate.sequential import Bucket, log_e_value
from sentry_release.gate.stats import conditional_p_value, dispersion

POLICY = GatePolicy()
POLL = 30.0
MINUTE = 60.0
BASE_P = 0.01
MINUTES = 14  # simulated minutes after the deploy (window + settle)
BASE_MINUTES = 30  # BASELINE_MULTIPLE windows


def poisson(rng: random.Random, mean: float) -> int:
    """Knuth for small means, a rounded normal beyond (means of thousands)."""
    if mean <= 0:
        return 0
    if mean > 60:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, prod = math.exp(-mean), 0, rng.random()
    while prod > limit:
        k += 1
        prod *= rng.random()
    return k


def neg_binomial(rng: random.Random, mean: float, shape: float) -> int:
    """Gamma-Poisson mixture: variance mean + mean^2/shape."""
    return poisson(rng, rng.gammavariate(shape, mean / shape)) if mean > 0 else 0


def events_for(rng: random.Random, errored: int) -> int:
    total = 0
    for _ in range(errored):
        total += 1
        while rng.random() < 1 / 3:  # geometric, mean 0.5 extra
            total += 1
        if rng.random() < 0.003:
            total += 150  # one user's retry loop
    return total


@dataclass
class Side:
    """One release's minutes: sessions, errored sessions, events, and when each minute's
    session aggregate reaches Sentry."""

    sessions: list[float] = field(default_factory=list)
    errored: list[float] = field(default_factory=list)
    events: list[float] = field(default_factory=list)
    arrives: list[float] = field(default_factory=list)


@dataclass
class World:
    new: Side
    base_now: Side  # the old release after the deploy (canary); empty at a full rollout
    base_before: Side  # the old release in the 10 minutes before the deploy
    issue_events: list[float]  # when each new-issue event is visible in Sentry
    issue_fatal: bool
    stray: float | None  # when a stray one-event new issue is visible
    concurrent: bool


@dataclass(frozen=True)
class Scenario:
    name: str
    ratio: float = 1.0
    issue_share: float = 0.0
    fatal: bool = False


SCENARIOS = (
    Scenario("no regression"),
    Scenario("2x errors", ratio=2.0),
    Scenario("3x errors", ratio=3.0),
    Scenario("10x errors", ratio=10.0),
    Scenario("new issue, 1% of sessions", issue_share=0.01),
    Scenario("fatal new issue, 1% of sessions", issue_share=0.01, fatal=True),
)


def side(rng: random.Random, minutes: int, sessions: float, p: float, start: float) -> Side:
    out = Side()
    for m in range(minutes):
        count = poisson(rng, sessions)
        errored = min(count, neg_binomial(rng, p * count, 50.0))
        out.sessions.append(count)
        out.errored.append(errored)
        out.events.append(events_for(rng, errored))
        out.arrives.append(start + (m + 1) * MINUTE + rng.uniform(5, 75))
    return out


def world(rng: random.Random, scenario: Scenario, new_per_minute: float, split: float) -> World:
    total = new_per_minute / split
    concurrent = split < 1.0
    new = side(rng, MINUTES, new_per_minute, BASE_P * scenario.ratio, 0.0)
    base_now = side(rng, MINUTES, total - new_per_minute, BASE_P, 0.0) if concurrent else Side()
    base_before = side(rng, BASE_MINUTES, total, BASE_P, -BASE_MINUTES * MINUTE)
    issue_events: list[float] = []
    if scenario.issue_share:
        for m in range(MINUTES):
            for _ in range(poisson(rng, scenario.issue_share * new.sessions[m])):
                issue_events.append(m * MINUTE + rng.uniform(0, MINUTE) + rng.uniform(1, 10))
        issue_events.sort()
    stray = rng.uniform(30, 600) if rng.random() < 0.3 else None
    return World(new, base_now, base_before, issue_events, scenario.fatal, stray, concurrent)


# --- policies: each returns the time of its FAIL (seconds after the deploy) or None --------


def gate_policy(w: World) -> float | None:
    """This project's gate with its default settings."""
    grace, window = POLICY.grace, POLICY.window
    settle = max(POLICY.settle, POLICY.settle_sessions)
    final = grace + window + settle
    phi = dispersion(w.base_before.errored, w.base_before.sessions)
    threshold = math.log(1 / POLICY.alpha)
    t = POLL
    while t <= final + POLL:
        seen = sum(1 for e in w.issue_events if e <= t)
        if seen >= POLICY.min_events and (w.issue_fatal or t >= final):
            return t
        buckets = []
        first = int(grace // MINUTE)
        for j in range(first, first + int(window // MINUTE)):
            end = (j + 1) * MINUTE
            if end + settle > t or w.new.arrives[j] > t:
                break
            if w.concurrent:
                if w.base_now.arrives[j] > t:
                    break
                base = (w.base_now.errored[j], w.base_now.sessions[j])
            else:
                group = range((j - first) % 10, BASE_MINUTES, 10)
                base = (
                    sum(w.base_before.errored[k] for k in group),
                    sum(w.base_before.sessions[k] for k in group),
                )
            buckets.append(Bucket(w.new.errored[j], w.new.sessions[j], base[0], base[1]))
        if buckets:
            new = sum(b.new for b in buckets)
            expected = (
                POLICY.max_ratio
                * sum(b.base for b in buckets)
                * sum(b.new_exposure for b in buckets)
                / max(sum(b.base_exposure for b in buckets), 1.0)
            )
            if (
                new >= POLICY.min_errors
                and new - expected >= POLICY.min_excess
                and log_e_value(buckets, POLICY.max_ratio, phi=phi) >= threshold
            ):
                return t
        t += POLL
    return None


def sentry_policy(w: World) -> float | None:
    """Sentry's pipeline: after 300 s, any new issue fails."""
    seen = [e for e in w.issue_events if e <= 300] + ([w.stray] if w.stray else [])
    return 300.0 if any(e <= 300 for e in seen) else None


def fixed_policy(w: World) -> float | None:
    """A fixed-threshold monitor: events per session over the last 5 minutes (data a
    minute old) above 2x the baseline's, checked every minute until the window ends."""
    base = sum(w.base_before.events[-10:]) / max(sum(w.base_before.sessions[-10:]), 1.0)
    for minute in range(2, 12):
        t = minute * MINUTE
        last = [m for m in range(max(0, minute - 6), minute - 1)]
        sessions = sum(w.new.sessions[m] for m in last)
        events = sum(w.new.events[m] for m in last) + sum(
            1 for e in w.issue_events if t - 360 <= e <= t - 60
        )
        if sessions and events / sessions > 2 * base:
            return t
    return None


def gen1_policy(w: World) -> float | None:
    """The first generation: 300 s grace, then at every poll an exact test of error events
    over time (the baseline's 600 s before the deploy at full traffic), alpha 0.01."""
    base_events = sum(w.base_before.events[-10:])
    t = 300.0 + POLL
    while t <= 960.0:
        seen = sum(1 for e in w.issue_events if e <= t)
        if seen >= 3 and (w.issue_fatal or t >= 960.0):
            return t
        upto = min(t, 900.0) - 2.0  # events lag a few seconds
        minutes = [m for m in range(5, MINUTES) if m * MINUTE < upto]
        new = 0.0
        for m in minutes:
            share = min(1.0, max(0.0, (upto - m * MINUTE) / MINUTE))
            new += w.new.events[m] * share
        new += seen
        exposure = max(upto - 300.0, 1.0)
        new_i = round(new)
        expected = 1.5 * base_events * exposure / 600.0
        if (
            new_i >= 10
            and new_i - expected >= 5
            and conditional_p_value(new_i, base_events, exposure, 600.0, 1.5) < 0.01
        ):
            return t
        t += POLL
    return None


POLICIES: dict[str, Callable[[World], float | None]] = {
    "gate": gate_policy,
    "sentry": sentry_policy,
    "fixed": fixed_policy,
    "gen1": gen1_policy,
}


def first_event(w: World) -> float | None:
    return w.issue_events[0] if w.issue_events else None


def run(runs: int, seed: int) -> list[dict[str, object]]:
    rows = []
    settings = [(1000.0, 1.0), (1000.0, 0.5), (1000.0, 0.1), (100.0, 0.05), (250.0, 0.25)]
    for new_per_minute, split in settings:
        for scenario in SCENARIOS:
            rng = random.Random(f"{seed}-{scenario.name}-{new_per_minute}-{split}")
            worlds = [world(rng, scenario, new_per_minute, split) for _ in range(runs)]
            for name, policy in POLICIES.items():
                times = []
                for w in worlds:
                    when = policy(w)
                    if when is None:
                        continue
                    if scenario.fatal:
                        start = first_event(w)
                        when = when - start if start is not None else when
                    times.append(when)
                within = sum(1 for x in times if x <= 300.0) / runs
                within_60 = sum(1 for x in times if x <= 60.0) / runs
                rows.append(
                    {
                        "traffic": f"{new_per_minute:g}/min, split {split:.0%}",
                        "scenario": scenario.name,
                        "policy": name,
                        "fail_rate": len(times) / runs,
                        "within_5min": within,
                        "within_60s": within_60,
                        "median": statistics.median(times) if times else None,
                    }
                )
    return rows


def table(rows: list[dict[str, object]]) -> str:
    lines = [
        "| New release traffic | Scenario | Policy | FAIL rate | FAIL within 5 min "
        "| Median time to FAIL |",
        "|---|---|---|---:|---:|---:|",
    ]
    for row in rows:
        median = row["median"]
        shown = f"{median:.0f} s" if isinstance(median, float) else "-"
        lines.append(
            f"| {row['traffic']} | {row['scenario']} | {row['policy']} "
            f"| {row['fail_rate']:.1%} | {row['within_5min']:.1%} | {shown} |"
        )
    return "\n".join(lines)


MARK_START = "<!-- gate-sim:start -->"
MARK_END = "<!-- gate-sim:end -->"


def targets(rows: list[dict[str, object]]) -> list[str]:
    """Issue #14's targets, met or not, from the table."""

    def pick(traffic: str, scenario: str, policy: str = "gate") -> dict[str, object]:
        return next(
            r
            for r in rows
            if r["traffic"] == traffic and r["scenario"] == scenario and r["policy"] == policy
        )

    def rate(row: dict[str, object], key: str) -> float:
        value = row[key]
        assert isinstance(value, float)
        return value

    nulls = [
        rate(r, "fail_rate")
        for r in rows
        if r["scenario"] == "no regression" and r["policy"] == "gate"
    ]
    full = "1000/min, split 100%"
    three = rate(pick(full, "3x errors"), "within_5min")
    fatal = min(
        rate(r, "within_60s")
        for r in rows
        if r["scenario"].startswith("fatal")
        and r["policy"] == "gate"  # type: ignore[union-attr]
        and str(r["traffic"]).startswith("1000/")
    )
    splits = ", ".join(
        f"{r['traffic']}: {rate(r, 'within_5min'):.0%}"
        for r in rows
        if r["scenario"] == "3x errors" and r["policy"] == "gate"
    )

    def met(ok: bool) -> str:
        return "met" if ok else "**not met**"

    return [
        f"- False FAIL with no regression <= 1% (every poll counted): worst {max(nulls):.1%}: "
        f"{met(max(nulls) <= 0.01)}",
        f"- 3x regression detected >= 95% within 5 minutes at 1,000 sessions/min: {three:.0%}: "
        f"{met(three >= 0.95)} (smaller splits: {splits})",
        f"- Fatal new issue failed within 60 s of its first event reaching Sentry (1,000 "
        f"sessions/min, every split): {fatal:.0%} of runs: {met(fatal >= 0.95)}",
    ]


def section(rows: list[dict[str, object]], runs: int, seed: int) -> str:
    return "\n".join(
        [
            MARK_START,
            "## Deploy gate: simulation (`bench/gate_sim.py`)",
            "",
            f"_Generated by `python bench/gate_sim.py --runs {runs} --seed {seed} --write "
            "bench/README.md` (no server; this section only)._",
            "",
            (__doc__ or "").split("\n\n", 2)[2].strip(),
            "",
            "### Targets",
            "",
            *targets(rows),
            "",
            table(rows),
            MARK_END,
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--write", help="replace the gate section of this Markdown file")
    args = parser.parse_args()
    text = section(run(args.runs, args.seed), args.runs, args.seed)
    if not args.write:
        print(text)
        return
    path = Path(args.write)
    current = path.read_text()
    if MARK_START in current:
        before, rest = current.split(MARK_START, 1)
        after = rest.split(MARK_END, 1)[1]
        current = before + text + after
    else:
        current = current.rstrip("\n") + "\n\n" + text + "\n"
    path.write_text(current)


if __name__ == "__main__":
    main()
