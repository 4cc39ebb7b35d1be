"""Simulation of the deploy gate: the REAL gate code (`gate/watch.py`'s loop, `Reads`, the
policy and the sequential test) against a simulated Sentry on a simulated clock.

    nice -n 10 .venv/bin/python bench/gate_sim.py [--runs 2000] [--seed 22] [--cells a,b]
        [--write bench/README.md]

The world, per run: the deploy at a random second; per project and minute, sessions Poisson
around the traffic (with a time-of-day trend of +/-20% over a day at a random phase) and
errored sessions Poisson around traffic x 1% (2% at 20/min) x the ratio x a gamma multiplier
per minute (CV 0.1 "mild", 0.5 or 1.0), the multiplier shared by the releases serving that
minute (a backend hiccup hits both); crash loops: now and then one user's session crash-
loops into 50 errored sessions (in either release, by its share of the traffic); error
events 1 + geometric(mean 0.5) per errored session, at random moments of its minute (the new
release's, and its fatal issue's, from the deploy second on). Ingestion: error events reach Sentry
1-10 s after they happen; a minute's session aggregate 5-75 s after the minute ends, and
with late revisions half of the errored updates arrive up to 5 minutes later still (the
session was counted healthy first). The new release serves all the traffic, or 10% of it
(canary, the old release serving the rest); two projects with only one regressing (it has a
fifth of the other's traffic, so the pooled ratio of a 4x regression is 1.5, the tolerated
ratio); a fatal new issue in 1% of the new release's sessions. Cells marked "users" have
an SDK that sets a user: each session is its own user that minute, except a crash loop's 50,
which are one user (errored once its first errored update arrives); the simulated Sentry then
answers `count_unique(user)` by status as `snuba/sessions_v2.py` does (healthy = users -
users_errored), and the gate counts errored users. Elsewhere users are 0, as from an SDK
that sets none, and the gate counts sessions.

The simulated Sentry answers the requests `Reads` sends (release details, deploys,
sessions by release and by status, issues, events-stats, stats_v2) from what has arrived by
the simulated clock's `now`, which the gate's sleeps advance. Each run is one `_Watcher.run`
with the default policy (poll 10 s, as against sentry.io).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import requests

from sentry_release.config.settings import DeployOptions, GatePolicy, Settings
from sentry_release.gate.policy import FAIL, PASS
from sentry_release.gate.watch import _Watcher
from sentry_release.output import Output

MINUTE = 60.0
BASE_P = 0.01
LOW_TRAFFIC_P = 0.02  # at 20 sessions/min, 2% errored (issue #22's table)
EPOCH = 1_780_000_000.0  # a Monday; runs start within the day after it
HISTORY = 5 * 3600.0  # the old release's traffic before the deploy
AFTER = 40 * 60.0  # simulated time after the deploy (window + settle + re-reads)
OLD, NEW = "shop@1.0.0", "shop@1.1.0"
PROJECTS = ({"id": "11", "slug": "web"}, {"id": "12", "slug": "api"})


@dataclass(frozen=True)
class Cell:
    """One scenario: traffic, noise and what the new release does."""

    name: str
    per_minute: float = 1000.0  # sessions a minute of the new release's project(s)
    ratio: float = 1.0  # errored-session rate of the new release over the old one
    cv: float = 0.1  # gamma CV of the per-minute errored rate
    loops: float = 0.0  # crash loops a minute (50 errored sessions each, one user)
    late: bool = False  # half of the errored updates arrive up to 5 min late
    canary: float = 1.0  # the new release's share of the traffic
    projects: int = 1  # with 2, only the first project regresses
    fatal: bool = False  # a fatal new issue in 1% of the new release's sessions
    users: bool = False  # the SDK sets a user: sessions carry `did`, Sentry counts users


CELLS = {
    c.name: c
    for c in (
        Cell("null 1x, CV 0.5", cv=0.5),
        Cell("boundary 1.5x, CV 0.5", ratio=1.5, cv=0.5),
        Cell("boundary 1.5x, CV 1.0", ratio=1.5, cv=1.0),
        Cell("boundary 1.5x, CV 0.5, users", ratio=1.5, cv=0.5, users=True),
        Cell("null 1x, crash loops, 1000/min", loops=0.05, cv=0.5),
        Cell("null 1x, crash loops, 20/min", per_minute=20.0, loops=0.01, cv=0.5),
        Cell("null 1x, crash loops, 1000/min, users", loops=0.05, cv=0.5, users=True),
        Cell(
            "null 1x, crash loops, 20/min, users", per_minute=20.0, loops=0.01, cv=0.5, users=True
        ),
        Cell("3x, mild noise", ratio=3.0),
        Cell("3x, mild noise, users", ratio=3.0, users=True),
        Cell("3x, CV 0.5", ratio=3.0, cv=0.5),
        Cell("3x, late revisions", ratio=3.0, late=True),
        Cell("3x, 10% canary", ratio=3.0, canary=0.1),
        Cell("3x, 20/min", ratio=3.0, per_minute=20.0),
        Cell("5x, 20/min", ratio=5.0, per_minute=20.0),
        Cell("4x in one of two projects", ratio=4.0, projects=2),
        Cell("fatal new issue", fatal=True),
    )
}


def poisson(rng: random.Random, mean: float) -> int:
    """Knuth for small means, a rounded normal beyond."""
    if mean <= 0:
        return 0
    if mean > 60:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, prod = math.exp(-mean), 0, rng.random()
    while prod > limit:
        k += 1
        prod *= rng.random()
    return k


@dataclass
class Minute:
    """One release's sessions in one project and minute, and when their counts arrive."""

    start: float
    sessions: int
    arrives: float  # the aggregate (all sessions, healthy at first)
    errored: list[float] = field(default_factory=list)  # arrival of each errored update
    users: int = 0  # distinct users: one a session, but a crash loop's 50 are one user
    errored_users: list[float] = field(default_factory=list)  # each one's first errored update


@dataclass
class World:
    """Everything that happens in one run; the simulated Sentry reads it by arrival."""

    deploy: float
    minutes: dict[tuple[str, str], list[Minute]]  # (release, project id) -> minutes
    events: dict[tuple[str, str], list[tuple[float, float]]]  # (occurred, arrives)
    issue: list[tuple[float, float]]  # the fatal new issue's events (occurred, arrives)
    first_issue_event: float | None = None


def build(cell: Cell, rng: random.Random) -> World:
    day = EPOCH + rng.uniform(0, 86400.0)
    deploy = math.floor(day) + rng.uniform(0, 1)  # a random second, not a minute boundary
    phase = rng.uniform(0, 2 * math.pi)
    shape = 1.0 / (cell.cv**2)
    first = math.floor((deploy - HISTORY) / MINUTE) * MINUTE
    minutes: dict[tuple[str, str], list[Minute]] = {}
    events: dict[tuple[str, str], list[tuple[float, float]]] = {}
    issue: list[tuple[float, float]] = []
    for index in range(cell.projects):
        project = PROJECTS[index]["id"]
        regressing = index == 0
        for release in (OLD, NEW):
            minutes[(release, project)] = []
            events[(release, project)] = []
        t = first
        while t < deploy + AFTER:
            trend = 1.0 + 0.2 * math.sin(2 * math.pi * t / 86400.0 + phase)
            shock = rng.gammavariate(shape, 1.0 / shape)
            for release in (OLD, NEW):
                # the share of this minute's traffic (the deploy second splits its minute)
                if release == OLD:
                    share = 1.0 if t + MINUTE <= deploy else (1.0 - cell.canary)
                    if t < deploy < t + MINUTE:
                        part = (deploy - t) / MINUTE
                        share = part + (1 - part) * (1.0 - cell.canary)
                else:
                    share = 0.0 if t + MINUTE <= deploy else cell.canary
                    if t < deploy < t + MINUTE:
                        share = cell.canary * (t + MINUTE - deploy) / MINUTE
                if share <= 0:
                    continue
                ratio = cell.ratio if release == NEW and regressing else 1.0
                # of two projects, the regressing one has a fifth of the other's traffic
                volume = cell.per_minute / (5.0 if cell.projects > 1 and regressing else 1.0)
                count = poisson(rng, volume * trend * share)
                if count == 0:
                    continue
                lag = rng.uniform(5, 75)
                # the new release's part of the deploy minute begins at the deploy second
                since = max(t, deploy) if release == NEW else t
                row = Minute(t, count, t + MINUTE + lag)
                base_p = BASE_P if cell.per_minute >= 100 else LOW_TRAFFIC_P
                errored = min(count, poisson(rng, count * base_p * ratio * shock))
                row.users = count  # most users: one session a minute
                loop = rng.random() < cell.loops * share
                if loop:
                    errored = min(count + 50, errored + 50)
                    row.sessions += 50  # the loop's sessions: one user, 50 sessions
                    row.users += 1
                for k in range(errored):
                    late = rng.uniform(0, 300) if cell.late and rng.random() < 0.5 else 0.0
                    row.errored.append(row.arrives + late)
                    if not loop or k < errored - 50:
                        row.errored_users.append(row.arrives + late)
                    for _ in range(1 + _geometric(rng)):
                        when = rng.uniform(since, t + MINUTE)
                        events[(release, project)].append((when, when + rng.uniform(1, 10)))
                if loop:  # the loop's user is errored once its first errored update is in
                    row.errored_users.append(min(row.errored[-50:]))
                minutes[(release, project)].append(row)
                if cell.fatal and release == NEW and regressing:
                    for _ in range(poisson(rng, 0.01 * count)):
                        when = rng.uniform(since, t + MINUTE)
                        issue.append((when, when + rng.uniform(1, 10)))
            t += MINUTE
    issue.sort(key=lambda e: e[1])
    return World(deploy, minutes, events, issue, issue[0][1] if issue else None)


def _geometric(rng: random.Random) -> int:
    extra = 0
    while rng.random() < 1 / 3:
        extra += 1
    return extra


# --- the simulated Sentry ------------------------------------------------------------------


class Reply:
    """What `Reads` uses of an answer: its JSON and headers."""

    def __init__(self, body: Any) -> None:
        self.body = body
        self.headers: dict[str, str] = {}

    def json(self) -> Any:
        return self.body


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _seconds(interval: str) -> float:
    unit = {"s": 1.0, "m": 60.0, "h": 3600.0}[interval[-1]]
    return float(interval[:-1]) * unit


class SimSentry:
    """Answers `Reads`' GETs from the world, as Sentry would at the simulated `now`."""

    def __init__(self, world: World, clock: Any, projects: int, users: bool = False) -> None:
        self.world = world
        self.clock = clock
        self.projects = PROJECTS[:projects]
        self.users = users  # whether the SDK set a user (else every user count is 0)
        self.request_count = 0
        self.rate_limit: dict[str, str] = {}

    def request(self, method: str, path: str, *, params: Any = ()) -> Reply:
        self.request_count += 1
        args: dict[str, list[str]] = {}
        for key, value in params:
            args.setdefault(key, []).append(str(value))
        path = unquote(path)
        now = self.clock()
        if path.endswith("/deploys/"):
            release = path.split("/releases/", 1)[1].split("/", 1)[0]
            when = self.world.deploy if release == NEW else self.world.deploy - 86400
            moment = _iso(when)
            return Reply(
                [
                    {
                        "id": "1",
                        "environment": "production",
                        "dateStarted": moment,
                        "dateFinished": moment,
                    }
                ]
            )
        if "/releases/" in path:
            return Reply({"version": NEW, "projects": list(self.projects)})
        if path.endswith("/sessions/"):
            return Reply(self.sessions(args, now))
        if path.endswith("/issues/"):
            return Reply(self.issues(args, now))
        if path.endswith("/events-stats/"):
            return Reply(self.events_stats(args, now))
        if path.endswith("/stats_v2/"):
            return Reply({"groups": []})
        if path.endswith("/events/"):
            return Reply({"data": []})
        return Reply({})

    def _range(self, args: dict[str, list[str]], now: float) -> tuple[float, float, float]:
        step = _seconds(args.get("interval", ["1h"])[0])
        start, end = _epoch(args["start"][0]), min(_epoch(args["end"][0]), now)
        return start - start % step, end, step

    def sessions(self, args: dict[str, list[str]], now: float) -> dict[str, Any]:
        start, end, step = self._range(args, now)
        project = args["project"][0]
        count = max(1, int(-(-(end - start) // step)))
        intervals = [_iso(start + i * step) for i in range(count)]
        if args.get("groupBy") == ["release"]:
            groups = []
            for (release, pid), rows in self.world.minutes.items():
                if pid != project:
                    continue
                total = sum(r.sessions for r in rows if start <= r.start < end and r.arrives <= now)
                if total:
                    groups.append({"by": {"release": release}, "totals": {"sum(session)": total}})
            return {"intervals": intervals, "groups": groups}
        release = args["query"][0].split('"')[1]
        healthy, errored = [0] * count, [0] * count
        healthy_users, errored_users = [0] * count, [0] * count
        for row in self.world.minutes.get((release, project), ()):
            if not start <= row.start < end or row.arrives > now:
                continue
            i = int((row.start - start) // step)
            if i >= count:
                continue
            bad = sum(1 for a in row.errored if a <= now)
            errored[i] += bad
            healthy[i] += row.sessions - bad
            if self.users:
                # Sentry's UsersField: errored = users_errored, healthy = users - users_errored
                bad_users = sum(1 for a in row.errored_users if a <= now)
                errored_users[i] += bad_users
                healthy_users[i] += row.users - bad_users
        fields = args.get("field", [])
        by_status = (("healthy", healthy, healthy_users), ("errored", errored, errored_users))
        return {
            "intervals": intervals,
            "groups": [
                {
                    "by": {"session.status": status},
                    "series": {
                        name: values
                        for name, values in (
                            ("sum(session)", sessions),
                            ("count_unique(user)", users),
                        )
                        if name in fields
                    },
                }
                for status, sessions, users in by_status
            ],
        }

    def issues(self, args: dict[str, list[str]], now: float) -> list[dict[str, Any]]:
        query = args["query"][0]
        if not query.startswith("firstRelease:") or args["project"][0] != "11":
            return []
        start, end = _epoch(args["start"][0]), min(_epoch(args["end"][0]), now)
        seen = [e for e in self.world.issue if e[1] <= now and start <= e[0] <= end]
        if not seen:
            return []
        return [
            {
                "id": "1",
                "shortId": "WEB-1",
                "title": "SegFault",
                "level": "fatal",
                "status": "unresolved",
                "isUnhandled": True,
                "count": str(len(seen)),
                "userCount": len(seen),
                "firstSeen": _iso(seen[0][0]),
                "lastSeen": _iso(seen[-1][0]),
                "project": {"id": "11", "slug": "web"},
            }
        ]

    def events_stats(self, args: dict[str, list[str]], now: float) -> dict[str, Any]:
        start, end, step = self._range(args, now)
        release = args["query"][0].split('"')[1]
        count = max(1, int(-(-(end - start) // step)))
        values = [0] * count
        if "transaction" not in args["query"][0]:
            for occurred, arrives in self.world.events.get((release, args["project"][0]), ()):
                if arrives <= now and start <= occurred < end:
                    values[int((occurred - start) // step)] += 1
        return {"data": [[int(start + i * step), [{"count": v}]] for i, v in enumerate(values)]}


class SimClock:
    """The simulated clock: only the gate's sleeps move it."""

    def __init__(self, start: float) -> None:
        self.now = start

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


POLICY = GatePolicy(enabled=True)


@dataclass(frozen=True)
class Outcome:
    verdict: str
    at: float  # seconds after the deploy (after the first issue event for a fatal issue)
    reason: str


def watcher(world: World, cell: Cell, sim: SimClock, policy: GatePolicy = POLICY) -> _Watcher:
    """The real gate's watcher for `world`, reading the simulated Sentry on `sim`'s clock."""
    sentry = SimSentry(world, sim.clock, cell.projects, cell.users)
    settings = Settings(
        url="http://127.0.0.1:1/",
        auth_token="sim",
        org="acme",
        deploy=DeployOptions(environment="production"),
        gate=policy,
    )
    out = Output(stdout=io.StringIO(), stderr=io.StringIO(), is_tty=False)
    return _Watcher(settings, sentry, NEW, None, out, sim.clock, sim.sleep, policy.poll)  # type: ignore[arg-type]


def run_once(cell: Cell, rng: random.Random, policy: GatePolicy = POLICY) -> Outcome:
    """One gate run on one world, from the deploy second on."""
    world = build(cell, rng)
    sim = SimClock(world.deploy + rng.uniform(0, 5))
    report, _ = watcher(world, cell, sim, policy).run(lambda status: True, requests.Session())
    verdict = report.observed_verdict or report.verdict
    origin = world.deploy
    if cell.fatal and world.first_issue_event is not None:
        origin = world.first_issue_event
    return Outcome(verdict, sim.now - origin, report.reason)


def run_cell(cell: Cell, runs: int, seed: int) -> dict[str, Any]:
    rng = random.Random(f"{seed}-{cell.name}")
    outcomes = [run_once(cell, rng) for _ in range(runs)]
    fails = [o.at for o in outcomes if o.verdict == FAIL]
    return {
        "cell": cell.name,
        "runs": runs,
        "fail": len(fails) / runs,
        "pass": sum(o.verdict == PASS for o in outcomes) / runs,
        "inconclusive": sum(o.verdict not in (FAIL, PASS) for o in outcomes) / runs,
        "fail_5min": sum(t <= 300 for t in fails) / runs,
        "fail_60s": sum(t <= 60 for t in fails) / runs,
        "median_fail": statistics.median(fails) if fails else None,
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| Cell | Runs | FAIL | PASS | INCONCLUSIVE | FAIL within 5 min | FAIL within 60 s "
        "| Median time to FAIL |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        median = f"{r['median_fail']:.0f} s" if r["median_fail"] is not None else "-"
        lines.append(
            f"| {r['cell']} | {r['runs']} | {r['fail']:.2%} | {r['pass']:.2%} "
            f"| {r['inconclusive']:.2%} | {r['fail_5min']:.2%} | {r['fail_60s']:.2%} | {median} |"
        )
    return "\n".join(lines)


def targets(rows: list[dict[str, Any]]) -> list[str]:
    """Issue #22's "Done when", met or not, from the rows that were run."""
    by = {r["cell"]: r for r in rows}

    def met(ok: bool) -> str:
        return "met" if ok else "**not met**"

    lines = []
    for cell in (
        "boundary 1.5x, CV 0.5",
        "null 1x, crash loops, 1000/min",
        "null 1x, crash loops, 20/min",
        "null 1x, crash loops, 1000/min, users",
        "null 1x, crash loops, 20/min, users",
    ):
        if cell in by:
            r = by[cell]
            lines.append(
                f"- False FAIL <= 1%, {cell}: {r['fail']:.2%} of {r['runs']}: "
                f"{met(r['fail'] <= 0.01)}"
            )
    if (r := by.get("3x, mild noise")) is not None:
        lines.append(
            f"- 3x at 1,000 sessions/min (mild noise, random deploy second) FAILs within 5 min "
            f">= 95%: {r['fail_5min']:.2%} of {r['runs']}: {met(r['fail_5min'] >= 0.95)}"
        )
    if (r := by.get("5x, 20/min")) is not None:
        lines.append(
            f"- 5x at 20 sessions/min FAILs within the default window >= 90%: "
            f"{r['fail']:.2%} of {r['runs']}: {met(r['fail'] >= 0.90)}"
        )
    passes = [(r["cell"], r["pass"], r["runs"]) for r in rows if r["cell"].startswith("3x")]
    if passes:
        worst = max(passes, key=lambda x: x[1])
        lines.append(
            f"- A 3x regression ends PASS <= 0.5% in every cell: worst {worst[1]:.2%} "
            f"({worst[0]}, {worst[2]} runs): {met(worst[1] <= 0.005)}"
        )
    if (r := by.get("fatal new issue")) is not None:
        lines.append(
            f"- A fatal new issue FAILs within 60 s of its first event >= 99%: "
            f"{r['fail_60s']:.2%} of {r['runs']}: {met(r['fail_60s'] >= 0.99)}"
        )
    return lines


MARK_START = "<!-- gate-sim:start -->"
MARK_END = "<!-- gate-sim:end -->"


def section(rows: list[dict[str, Any]], runs: int, seed: int, seconds: float) -> str:
    return "\n".join(
        [
            MARK_START,
            "## Deploy gate: simulation of the real gate code (`bench/gate_sim.py`)",
            "",
            f"_Generated by `nice -n 10 python bench/gate_sim.py --runs N --seed {seed} --cells "
            "... --json part.json` per group of cells (runs per cell in the table; the machine "
            "was shared), then `--rows part*.json --write bench/README.md` (no server; this "
            "section only)._",
            "",
            (__doc__ or "").split("\n\n", 2)[2].strip(),
            "",
            "### Targets (issue #22)",
            "",
            *targets(rows),
            "",
            table(rows),
            MARK_END,
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=22)
    parser.add_argument("--cells", help="cell names separated by ; (default: all)")
    parser.add_argument("--write", help="replace the gate section of this Markdown file")
    parser.add_argument("--json", help="write the rows as JSON here")
    parser.add_argument(
        "--rows", nargs="+", help="no runs: the section from rows saved by --json (in order)"
    )
    args = parser.parse_args()
    cells = [CELLS[n] for n in args.cells.split(";")] if args.cells else list(CELLS.values())
    began = time.monotonic()
    rows: list[dict[str, Any]] = []
    if args.rows:
        for name in args.rows:
            rows += json.loads(Path(name).read_text())
        order = list(CELLS)
        rows.sort(key=lambda r: order.index(r["cell"]))
        cells = []
    for cell in cells:
        rows.append(run_cell(cell, args.runs, args.seed))
        print(table(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    text = section(rows, args.runs, args.seed, time.monotonic() - began)
    if not args.write:
        print(text)
        return
    path = Path(args.write)
    current = path.read_text()
    if MARK_START in current:
        before, rest = current.split(MARK_START, 1)
        current = before + text + rest.split(MARK_END, 1)[1]
    else:
        current = current.rstrip("\n") + "\n\n" + text + "\n"
    path.write_text(current)


if __name__ == "__main__":
    main()
