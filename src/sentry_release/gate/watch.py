"""The gate's observation loop: plan once, then read Sentry every poll and decide.

Timeline, on Sentry's clock: the deploy starts (`dateStarted`; else this release's first
traffic in the environment within the hour before `dateFinished`; else `dateFinished`).
Issue rules watch from that moment (no blind grace: a fatal or unhandled new issue fails at
the first poll that sees it). The rate rule watches the window [start + grace, + window],
using only buckets old enough for their source to have settled (`settle` for events,
`settle_sessions` for session aggregates). The final verdict comes after the window and the
settle period, once two reads agree. `--gate-timeout` caps the wall time; when the window
ends INCONCLUSIVE and the timeout allows, the window is extended (the sequential test stays
valid however long it runs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from sentry_release.config.connection import is_loopback
from sentry_release.config.gate import MAX_SPAN
from sentry_release.config.settings import GatePolicy, Settings
from sentry_release.errors import ConfigError, NotFoundError, SentryAPIError
from sentry_release.gate.health import check_urls, parse_expected_status, probe
from sentry_release.gate.models import (
    Deploy,
    Issue,
    Project,
    Series,
    Suspect,
    Traffic,
    at,
    iso,
)
from sentry_release.gate.policy import (
    FAIL,
    INCONCLUSIVE,
    PASS,
    SEVERE_LEVELS,
    WATCH_SHARE,
    WATCHING,
    GateReport,
    Observations,
    ProbeStatus,
    RateInput,
    api_error_report,
    apply_policy,
    evaluate,
    watch_share,
)
from sentry_release.gate.reads import Reads, first_activity
from sentry_release.gate.render import print_report
from sentry_release.gate.sequential import Bucket, dispersion_at_level
from sentry_release.gate.stats import robust_dispersion
from sentry_release.output import Output
from sentry_release.redact import register_secret
from sentry_release.sentry.api import SentryApi

# Sentry's API allows 40 requests a second per caller and endpoint unless an endpoint sets
# its own (its rate-limit docs; `src/sentry/ratelimits/config.py`; the issues index and
# sessions endpoints use the defaults): a poll every 10 s is a few requests in 10 s. Faster
# than that only when the rate-limit headers leave room (`poll_interval`).
MIN_REMOTE_POLL = 10.0
RATE_LIMIT_PAUSE = 60.0  # the longest a nearly spent quota slows the polls
HEALTH_INTERVAL = 5.0  # probes may run more often than Sentry polls
CATCH_UP_PROBE = 1.0  # after the window, probes that still need samples run this often
ROLLOUT_LOOKBACK = 3600.0  # how far before dateFinished a missing dateStarted is looked for
BASELINE_MULTIPLE = 12  # the release that served is looked for this many windows back
# The baseline's buckets go back as far as one sessions read may (MAX_SPAN, 5 hours: 30
# default windows): each minute of the new release is then compared with 30 minutes of the
# old one, not 12, which sharpens the test at every traffic level (bench/gate_sim.py: a 3x
# regression at 1,000 sessions a minute caught within 5 minutes in ~95.5% of runs against
# ~94.5% with 12 windows; at 20 a minute, the baseline rate is no longer itself a guess).
LATE_REVISIONS = 300.0  # errored-session updates arrive up to 5 min after the aggregate
CONCURRENT_SHARE = 0.05  # the baseline still serves when it has this share of the traffic
MAX_SUSPECTS = 5
MAX_REREADS = 3  # final reads that may disagree before the gate decides anyway
MIN_SLEEP = 0.05
EVENTS_STORY = 2.0  # events per session this many times the tolerated ratio: said on a PASS
FAST_REREAD = 5.0  # a fatal/unhandled issue below the floors is re-read this soon
CEILING_SLACK = 600.0  # without --gate-timeout: wall time allowed past the final read's time


@dataclass(frozen=True)
class Plan:
    """Where and when to look, fixed before the first poll."""

    deploy: Deploy
    deploy_start: datetime
    start_source: str  # dateStarted, first-traffic or dateFinished
    window_start: datetime
    window_end: datetime
    baseline_release: str | None
    baseline: Mapping[str, Traffic]  # per project id: the baseline's buckets before the deploy
    unit: str | None
    phi: Mapping[str, float]  # per project id: the baseline series' dispersion
    settle: float  # a bucket is used by this age at the latest (the slower source's lag)
    revisions: float = 0.0  # errored-session updates may still arrive this long after
    # per project id: the share of alpha spent on watching, planned from the baseline
    shares: Mapping[str, float] = field(default_factory=dict)
    # looks at a window's end: 2 when the gate's deadline leaves room to extend the window
    # (the end's alpha split between both ends, planned before the window)
    end_looks: int = 1

    @property
    def final_at(self) -> datetime:
        """When the last read may happen: the window's end plus the slower source's lag and
        the time late errored updates may take (a PASS never rests on data that can change)."""
        return self.window_end + timedelta(seconds=self.settle + self.revisions)


@dataclass(frozen=True)
class Poll:
    """One poll's reads: issues, and per project both sides' buckets in the window so far."""

    issues: tuple[Issue, ...]
    final: bool
    new: Mapping[str, Traffic]  # project id -> this release's traffic
    base_now: Mapping[str, Traffic]  # project id -> the baseline's traffic at the same time
    settled: int  # leading buckets the rate test may use
    others: tuple[str, ...] = ()  # releases seen in the environment while this was silent
    same_commit: str | None = None  # one of `others` is this commit: its name and the fix

    @property
    def has_traffic(self) -> bool:
        """This release had issues, errors or traffic since the deploy (or it is too early
        to say)."""
        if self.issues or not self.new:
            return True
        return any(
            (t.exposure.total() if t.exposure is not None else 0.0) > 0 or t.errored.total() > 0
            for t in self.new.values()
        )

    @property
    def totals(self) -> tuple[float, ...]:
        """What two final reads must agree on."""
        numbers = [float(sum(i.events for i in self.issues))]
        for traffic in self.new.values():
            numbers.append(traffic.errored.total())
            numbers.append(traffic.exposure.total() if traffic.exposure is not None else 0.0)
        return tuple(numbers)


def run_gate(
    settings: Settings,
    client: SentryApi,
    version: str,
    deploy: Deploy | None,
    out: Output,
    *,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
    environ: Mapping[str, str] | None = None,
) -> GateReport:
    """Watch the release after its deploy and return the verdict (raises nothing on FAIL).
    `environ` is the front door's environment (the job's commit shas, for the release-name
    rule).

    INCONCLUSIVE and unreadable Sentry are mapped through `on_inconclusive` and
    `on_api_error`; the report is printed (table or JSON) before returning. Time is the
    client's (`clock`, `sleep`) unless given.
    """
    clock = clock or client.transport.clock
    sleep = sleep or client.transport.sleep
    policy = settings.gate
    expected = parse_expected_status(policy.health_status)
    check_urls(policy.health_urls)
    settings.require("org", "environment")
    if client.dry_run:
        report = GateReport(
            INCONCLUSIVE,
            f"dry run: would watch {version} in {settings.deploy.environment} for "
            f"{policy.grace:g}s grace + {policy.window:g}s window",
            version=version,
            environment=settings.deploy.environment or "",
        )
        out.result(f"[dry-run] deploy gate: {report.reason}")
        return report
    poll = effective_poll(policy.poll, settings.url, out)
    reader = gate_client(client, policy.auth_token, poll)
    session = requests.Session()
    try:
        watcher = _Watcher(settings, reader, version, deploy, out, clock, sleep, poll)
        watcher.environ = environ or {}
        report, warning = watcher.run(expected, session)
    finally:
        session.close()
    if warning:
        out.warn(warning)
    if not out.json_mode:  # with --json the front door prints the report as one object
        print_report(out, report)
    return report


def gate_client(client: SentryApi, token: str | None, poll: float) -> SentryApi:
    """The gate's own client: its token (else the main one) and a retry budget no longer
    than a poll (one slow read must not outlast it; the next poll retries anyway). The
    shared client is left as it is."""
    register_secret(token)
    sent = client.transport
    return SentryApi(
        sent.base_url,
        token or sent.token,
        timeout=sent.timeout,
        retry=replace(sent.retry, budget=min(sent.retry.budget, max(poll, 1.0))),
        ca_bundle=sent.verify if isinstance(sent.verify, str) else None,
        dry_run=sent.dry_run,
        echo=sent.echo,
        sleep=sent.sleep,
        clock=sent.clock,
        rng=sent.rng,
        session=sent.session,
        headers=sent.extra_headers,
    )


def is_local_sentry(url: str) -> bool:
    """Whether the Sentry URL is this machine (the stand-in), where rate limits do not apply."""
    return is_loopback(urlsplit(url).hostname)


def effective_poll(poll: float, url: str, out: Output) -> float:
    """The first poll interval: at least 30 s against a non-loopback Sentry (rate limits)."""
    if is_local_sentry(url):
        return max(poll, MIN_SLEEP)
    if poll < MIN_REMOTE_POLL:
        out.warn(
            f"poll {poll:g}s is faster than Sentry's rate limits allow by default; polling "
            "every 30s unless its rate-limit headers leave room for more"
        )
        return MIN_REMOTE_POLL
    return poll


def poll_interval(
    requested: float, rate_limit: Mapping[str, str], now: float, calls_per_poll: int
) -> float:
    """Against a remote Sentry, from the last rate-limit headers: the requested interval when
    the quota left lasts until the reset at that pace (then even faster than 10 s), else
    slowed so it does (the polls left spread evenly until the reset, at most RATE_LIMIT_PAUSE
    apart: a header cannot blind the gate); without headers, never under 10 s."""
    try:
        remaining = float(rate_limit["x-sentry-rate-limit-remaining"])
        reset = float(rate_limit["x-sentry-rate-limit-reset"])
    except (KeyError, ValueError):
        return max(requested, MIN_REMOTE_POLL)
    until_reset = max(reset - now, 0.0)
    polls_left = max(remaining, 0.0) / max(calls_per_poll, 1)
    if polls_left >= until_reset / requested + 1:
        return requested
    paced = until_reset / max(polls_left, 1.0)
    return max(requested, MIN_REMOTE_POLL, min(paced, RATE_LIMIT_PAUSE))


def paired_buckets(
    new: Traffic, base: Traffic, count: int, *, concurrent: bool, per: int = 0
) -> tuple[Bucket, ...]:
    """The first `count` buckets of the new release, each beside its baseline: the same
    minute when both serve; else the baseline's minutes j, j+per, j+2*per... before the
    deploy (`per` = buckets in the window), so each new bucket has its own, disjoint share
    of a baseline BASELINE_MULTIPLE times as long as the window (sharper, still valid)."""
    if new.exposure is None or base.exposure is None:
        return ()
    size = len(base.errored.values)
    per = per or size
    out = []
    for j in range(min(count, len(new.errored.values))):
        group = [j] if concurrent else list(range(j % per, size, per))
        if not group or group[0] >= size:
            break
        out.append(
            Bucket(
                new.errored.values[j],
                new.exposure.values[j],
                sum(base.errored.values[k] for k in group),
                sum(base.exposure.values[k] for k in group),
            )
        )
    return tuple(out)


def counts_users(new: Traffic, base: Traffic) -> bool:
    """Whether the rate rule counts users: both sides' sessions carry users. One user's
    crash loop is then one errored user a bucket, not dozens of errored sessions."""
    return new.unit == "sessions" and base.unit == "sessions" and new.has_users and base.has_users


def still_serving(base: Traffic, new: Traffic, upto: int) -> bool:
    """Whether the baseline still takes a share of the traffic in the last settled bucket."""
    if upto <= 0:
        return False
    i = upto - 1
    if base.exposure is not None and new.exposure is not None:
        b, n = base.exposure.values[i], new.exposure.values[i]
    else:
        b, n = base.errored.values[i], new.errored.values[i]
    return b > 0 and b >= CONCURRENT_SHARE * (b + n)


class _Watcher:
    """One gate run: the plan, the polling loop and its state."""

    def __init__(
        self,
        settings: Settings,
        client: SentryApi,
        version: str,
        deploy: Deploy | None,
        out: Output,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        poll: float,
    ) -> None:
        self.settings = settings
        self.policy: GatePolicy = settings.gate
        self.client = client
        self.version = version
        self.given = deploy
        self.out = out
        self.environ: Mapping[str, str] = {}  # the front door's, for the release-name rule
        self.clock = clock
        self.sleep = sleep
        self.poll = poll
        self.environment = settings.deploy.environment or ""
        self.reads = Reads(client, settings.org or "", self.environment, clock=clock)
        self.probes = tuple(ProbeStatus(url) for url in self.policy.health_urls)
        self.polls = 0
        self.chart: dict[str, Any] = {}
        self._last: dict[tuple[str, str], tuple[float, ...]] = {}  # the last read's buckets
        self._pending = False  # an arrived bucket awaits its confirming read
        self._window_traffic: tuple[Traffic, ...] = ()  # the last poll's new-release traffic

    # --- the loop ----------------------------------------------------------------------

    def run(
        self, expected: Callable[[int], bool], session: requests.Session
    ) -> tuple[GateReport, str | None]:
        """Poll until a verdict; returns it with the warning to print, if any."""
        policy = self.policy
        started = self.clock()
        deadline = started + policy.timeout if policy.timeout else None
        context: dict[str, Any] = {}
        try:
            plan = self.plan()
        except (ConfigError, NotFoundError):
            raise
        except SentryAPIError as exc:
            return api_error_report(str(exc), policy, {"version": self.version})
        if deadline is not None and self.extension_end(plan, deadline) is not None:
            plan = replace(plan, end_looks=2)
        context = self.context(plan)
        # without --gate-timeout the wall time is still capped: the window's end on the
        # gate's clock plus room for re-reads and probes, whatever a server does
        left = (plan.final_at - self.reads.now()).total_seconds()
        ceiling = deadline or self.clock() + max(left, 0.0) + CEILING_SLACK
        if note := self.reads.skew_note():
            self.out.info(f"Deploy gate: {note}")
        if plan.unit is None and "rate" not in policy.report_only:
            # known at the start: say so now, not after the window
            self.out.warn(
                "deploy gate: no traffic denominator (the release's projects send no sessions "
                "or transactions), so the error-rate rule cannot judge and ends INCONCLUSIVE; "
                "watching the issue and health rules (enable release health in the SDK)"
            )
        self.out.info(
            f"Deploy gate: watching {self.version} in {self.environment} from "
            f"{iso(plan.deploy_start)} ({plan.start_source}); rate window "
            f"{iso(plan.window_start)} to {iso(plan.window_end)} (+{plan.settle:g}s settle); "
            f"baseline {plan.baseline_release or 'none found'} "
            f"({plan.unit or 'no traffic denominator'})"
        )
        data: Poll | None = None
        last_error: str | None = None
        next_read = next_probe = float("-inf")
        previous_totals: tuple[float, ...] | None = None
        rereads = 0
        extended = False  # the window was extended once (its second end look, planned)
        while True:
            now_local = self.clock()
            now = self.reads.now()
            final = now >= plan.final_at
            if self.probes and now_local >= next_probe:
                self.run_probes(expected, session, ceiling)
                catching_up = final and not all(p.healthy for p in self.probes)
                gap = CATCH_UP_PROBE if catching_up else HEALTH_INTERVAL
                next_probe = now_local + min(self.poll, gap)
            if now_local >= next_read:
                calls = self.client.request_count
                try:
                    data = self.read(plan, now)
                    last_error = None
                    if not is_local_sentry(self.settings.url):
                        self.poll = poll_interval(
                            policy.poll,
                            self.client.rate_limit,
                            self.clock(),
                            self.client.request_count - calls,
                        )
                except (ConfigError, NotFoundError):
                    raise
                except SentryAPIError as exc:
                    last_error = str(exc)
                    self.out.warn(f"could not read Sentry: {exc}")
                next_read = now_local + self.poll
            timed_out = now_local >= ceiling
            if last_error is not None and (final or timed_out):
                return api_error_report(last_error, policy, context)
            if data is not None:
                seen = self.observations(plan, data, now, final and data.final)
                report = evaluate(seen, policy)
                # extended once, and only as planned (end_looks 2 needs a deadline)
                if report.verdict == INCONCLUSIVE and plan.end_looks == 2 and not extended:
                    end = self.extension_end(plan, deadline) if deadline is not None else None
                    if end is not None:
                        plan, extended = self.extend(plan, end), True
                        context = self.context(plan)
                        self.out.info("Deploy gate: too little data; watching until the timeout")
                        continue
                if report.verdict not in (WATCHING, FAIL) and data.final:
                    totals = data.totals
                    if totals != previous_totals and rereads < MAX_REREADS:
                        previous_totals, rereads = totals, rereads + 1
                        next_read = min(next_read, now_local + min(self.poll, 2.0))
                        report = replace(report, verdict=WATCHING)
                if report.verdict != WATCHING:
                    return apply_policy(self.finish(plan, report, data, now, context), policy)
                self._narrate(report, plan, now)
                if (
                    any(
                        r.severe or r.issue.unhandled or r.issue.level in SEVERE_LEVELS
                        for r in report.issues
                        if not r.counted
                    )
                    and policy.fail_fast
                ):
                    # a fatal or unhandled issue below the floors: its next events decide
                    next_read = min(next_read, now_local + min(self.poll, FAST_REREAD))
                if self._pending:
                    next_read = min(next_read, now_local + min(self.poll, FAST_REREAD))
            if timed_out:
                return apply_policy(self._timed_out(plan, data, now, started, context), policy)
            wake = next_read
            if self.probes:
                wake = min(wake, next_probe)
            wake = min(wake, ceiling)
            self.sleep(max(MIN_SLEEP, wake - self.clock()))

    def finish(
        self,
        plan: Plan,
        report: GateReport,
        data: Poll,
        now: datetime,
        context: Mapping[str, Any],
    ) -> GateReport:
        """Add what only the final report needs: outcomes, suspects, links, the chart."""
        outcomes = report.outcomes
        try:
            outcomes = self.reads.outcomes(plan.deploy_start, now)
        except (ConfigError, NotFoundError):
            raise
        except SentryAPIError as exc:
            self.out.warn(f"could not read what Sentry dropped (stats_v2): {exc}")
        suspects: dict[str, Suspect] = {}
        if report.verdict == FAIL:
            for row in [r for r in report.issues if r.counted][:MAX_SUSPECTS]:
                try:
                    found = self.reads.suspect(row.issue)
                except (ConfigError, SentryAPIError):
                    found = None
                if found is not None:
                    suspects[row.issue.id] = found
        final = evaluate(
            self.observations(plan, data, now, data.final, outcomes, suspects),
            self.policy,
        )
        if final.verdict == WATCHING:
            final = report
        note = self.events_story(plan) if final.verdict == PASS else None
        if note:
            final = replace(final, reason=f"{final.reason}; {note}")
        return replace(final, context={**context, **self.run_context(plan, now)})

    def events_story(self, plan: Plan) -> str | None:
        """A PASS on errored sessions, checked against error events: when events per session
        rose well beyond the tolerated ratio while errored sessions did not, the PASS says
        so (a few users' loops, or errors outside sessions), instead of hiding it."""
        if plan.unit != "sessions" or plan.baseline_release in (None, self.version):
            return None
        assert plan.baseline_release is not None
        bucket = self.policy.bucket
        end = align(plan.deploy_start, bucket, up=False)
        length = min(BASELINE_MULTIPLE * self.policy.window, MAX_SPAN)
        try:
            new = self.reads.error_series(self.version, plan.window_start, plan.window_end, bucket)
            old = self.reads.error_series(
                plan.baseline_release, end - timedelta(seconds=length), end, bucket
            )
        except SentryAPIError:
            return None
        sessions_new = sum(t.exposure.total() for t in self._window_traffic if t.exposure)
        sessions_old = sum(t.exposure.total() for t in plan.baseline.values() if t.exposure)
        if not (sessions_new and sessions_old and old.total()):
            return None
        ratio = (new.total() / sessions_new) / (old.total() / sessions_old)
        if ratio <= EVENTS_STORY * self.policy.max_ratio:
            return None
        return (
            f"but error events per session rose {ratio:.1f}x ({new.total():g} in "
            f"{sessions_new:g} sessions vs {old.total():g} in {sessions_old:g}) while errored "
            "sessions did not: a few users' loops, or errors outside sessions; look at the "
            "issues"
        )

    def _timed_out(
        self,
        plan: Plan,
        data: Poll | None,
        now: datetime,
        started: float,
        context: Mapping[str, Any],
    ) -> GateReport:
        when = "before the observation window closed" if now < plan.final_at else "still unsure"
        reason = f"timed out after {self.clock() - started:.0f}s {when}"
        if data is None:
            return GateReport(
                INCONCLUSIVE, reason, self.version, self.environment, context=dict(context)
            )
        # judge what was seen as if the window had closed: a failed rule fails now, but a
        # rate or probe that had no chance to prove itself is only inconclusive
        seen = self.observations(plan, data, now, True)
        seen = replace(seen, probes=tuple(p for p in seen.probes if p.attempts), probe_extra=0)
        report = evaluate(seen, self.policy)
        context = {**context, **self.run_context(plan, now)}
        if report.verdict == FAIL:
            return replace(report, reason=f"{reason}; {report.reason}", context=context)
        return replace(report, verdict=INCONCLUSIVE, reason=reason, context=context)

    def _narrate(self, report: GateReport, plan: Plan, now: datetime) -> None:
        counted = len(report.new_issues)
        rate = report.rate.reason if report.rate is not None else ""
        left = (plan.final_at - now).total_seconds()
        self.out.info(
            f"Deploy gate: {len(report.issues)} issue(s), {counted} above the floors; "
            f"{rate}; {max(left, 0):.0f}s left"
        )

    # --- planning ----------------------------------------------------------------------

    def plan(self) -> Plan:
        """The deploy, when it started, the baseline release and its traffic."""
        policy = self.policy
        self.reads.bind_projects(self.version, self.settings.projects)
        deploy = self.given or self.find_deploy()
        finished = deploy.finished or self.reads.now()
        start, source = deploy.started, "dateStarted"
        if start is None:
            start, source = self.first_traffic(finished), "first traffic"
            if start is None:
                start, source = finished, "dateFinished"
        # buckets on Sentry's interval boundaries, as it rounds ranges to whole intervals;
        # the partial first one is used (its exposure weighs it), not skipped
        window_start = align(start + timedelta(seconds=policy.grace), policy.bucket, up=False)
        window_end = align(
            start + timedelta(seconds=policy.grace + policy.window), policy.bucket, up=True
        )
        length = min(BASELINE_MULTIPLE * max(policy.window, policy.bucket), MAX_SPAN)
        before = align(start, policy.bucket, up=False)
        serving = self.reads.serving(before - timedelta(seconds=length), before, policy.bucket)
        baseline_release = serving[0][0] if serving else None
        if baseline_release is None:
            baseline_release = self.reads.previous_deploy(self.version, start, deploy.id)
        plan = Plan(
            deploy=deploy,
            deploy_start=start,
            start_source=source,
            window_start=window_start,
            window_end=window_end,
            baseline_release=baseline_release,
            baseline={},
            unit=None,
            phi={},
            settle=policy.settle,
        )
        return self.with_baseline(plan)

    def with_baseline(self, plan: Plan) -> Plan:
        """Read the baseline's buckets over the MAX_SPAN before the deploy (as far back as one
        read may go), per project; the unit is the gate's (sessions when any project has
        them), each project's series gives its prior dispersion and, with the window's
        length, its split of alpha."""
        if plan.baseline_release is None:
            return plan
        bucket = self.policy.bucket
        count = max(1, int(MAX_SPAN // bucket))
        end = align(plan.deploy_start, bucket, up=False)
        start = end - timedelta(seconds=count * bucket)
        found = {
            str(p.id): self.reads.traffic(plan.baseline_release, start, end, bucket, p)
            for p in self.reads.projects
        }
        units = [t.unit for t in found.values()]
        unit = next((u for u in ("sessions", "transactions") if u in units), None)
        baseline = {pid: t for pid, t in found.items() if t.unit == unit}
        # the new release's traffic a window holds: from the deploy (or the window's start)
        traffic = plan.window_end - max(plan.window_start, plan.deploy_start)
        per = max(1.0, traffic.total_seconds() / bucket)
        shares = {
            pid: watch_share(t.errored.total() * per / max(len(t.errored.values), 1))
            for pid, t in baseline.items()
        }
        phi = {
            pid: robust_dispersion(t.errored.values, t.exposure.values) if t.exposure else 1.0
            for pid, t in baseline.items()
        }
        settle = self.policy.settle
        revisions = 0.0
        if unit == "sessions":
            settle = max(settle, self.policy.settle_sessions)
            # `--settle-sessions 0` declares session data final on arrival (a replay, the
            # stand-in): no wait for late errored updates either
            if self.policy.settle_sessions > 0:
                revisions = min(LATE_REVISIONS, self.policy.window)
        return replace(
            plan,
            baseline=baseline,
            unit=unit,
            phi=phi,
            settle=settle,
            revisions=revisions,
            shares=shares,
        )

    def extension_end(self, plan: Plan, deadline: float) -> datetime | None:
        """Where an INCONCLUSIVE window may be extended to before the deadline (room for the
        settle period and two final reads; one sessions read's span at most), if anywhere."""
        end = at(deadline) - timedelta(seconds=plan.settle + plan.revisions + 2 * self.poll)
        end = min(end, plan.window_start + timedelta(seconds=MAX_SPAN))
        return end if end > plan.window_end + timedelta(seconds=self.poll) else None

    def extend(self, plan: Plan, window_end: datetime) -> Plan:
        """A longer window when the timeout leaves room; the baseline is read again (late
        updates of its last minutes included). The split of alpha stays as planned before
        the window: the watching share is kept (raising it now would spend more than was
        left) and the extended end's look has the half the plan kept for it."""
        longer = self.with_baseline(replace(plan, window_end=window_end))
        return replace(longer, shares=plan.shares, end_looks=plan.end_looks)

    def find_deploy(self) -> Deploy:
        """The latest deploy of this release to the environment."""
        deploys = self.reads.deploys(self.version)
        if not deploys:
            raise ConfigError(
                f"no deploy of {self.version} to {self.environment} is recorded: run "
                f"`sentry-release deploy {self.version} --env {self.environment}` first"
            )
        return deploys[0]

    def first_traffic(self, finished: datetime) -> datetime | None:
        """Without `dateStarted`: this release's first errors or sessions in the environment
        in the hour before the deploy finished (a release already serving an hour before is
        a re-deploy, which starts at `dateFinished`)."""
        bucket = self.policy.bucket
        start = finished - timedelta(seconds=ROLLOUT_LOOKBACK)
        errors = self.reads.error_series(self.version, start, finished, bucket)
        series = [errors]
        try:
            sessions = self.reads.session_series(self.version, start, finished, bucket)
        except SentryAPIError:
            sessions = None
        if sessions is not None:
            series.append(sessions[1])
        first = first_activity(*series)
        if first is None or first <= start:
            return None
        return first

    # --- reading -----------------------------------------------------------------------

    def read(self, plan: Plan, now: datetime) -> Poll:
        """One poll: issues since the deploy, then both sides' buckets in the window, per
        project."""
        self.polls += 1
        end = max(now, plan.deploy_start + timedelta(seconds=1))
        query = self.policy.query
        issues = self.reads.issues(
            f'firstRelease:"{self.version}" {query}'.strip(), plan.deploy_start, end, "new"
        )
        new_ids = {i.id for i in issues}
        for issue in self.reads.issues(
            f'release:"{self.version}" {query}'.strip(), plan.deploy_start, end, "regressed"
        ):
            if issue.id not in new_ids and issue.substatus in ("regressed", "escalating"):
                issues.append(replace(issue, kind=issue.substatus))
        final = now >= plan.final_at
        new: dict[str, Traffic] = {}
        base_now: dict[str, Traffic] = {}
        settled = 0
        if now > plan.window_start:
            upto = min(now, plan.window_end)
            judged = [p for p in self.reads.projects if str(p.id) in plan.baseline] or list(
                self.reads.projects[:1]
            )
            for project in judged:
                new[str(project.id)] = self.forced(
                    self.version, plan.unit, plan.window_start, upto, project
                )
                if plan.baseline_release and plan.baseline_release != self.version:
                    base_now[str(project.id)] = self.forced(
                        plan.baseline_release, plan.unit, plan.window_start, upto, project
                    )
            settled = self.settled(plan, now, new, base_now)
        others: tuple[str, ...] = ()
        self._window_traffic = tuple(new.values())
        poll = Poll(tuple(issues), final, new, base_now, settled)
        if final and not poll.has_traffic:
            others = tuple(
                name
                for name, _ in self.reads.serving(plan.deploy_start, now, self.policy.bucket)
                if name != self.version
            )
            from sentry_release.gate import release_match  # the same commit, another name

            shas = release_match.build_shas(self.environ)
            same = release_match.hint(self.version, others, shas)
            poll = replace(poll, others=others, same_commit=same)
        return poll

    def settled(
        self,
        plan: Plan,
        now: datetime,
        new: Mapping[str, Traffic],
        base_now: Mapping[str, Traffic],
    ) -> int:
        """Buckets the rate test may use, settled on evidence: a bucket that has ended and
        whose traffic two reads in a row agree on (and is not empty), or at the latest one
        `settle` old. Late errored updates can only add errors to a bucket the test used:
        they may delay a FAIL, never make one; a PASS waits for them (`Plan.final_at`)."""
        bucket = self.policy.bucket
        by_age = min(now - timedelta(seconds=plan.settle), plan.window_end)
        full = (by_age - plan.window_start).total_seconds() / bucket
        aged = int(full) if by_age < plan.window_end else int(-(-full // 1))
        ended = int((min(now, plan.window_end) - plan.window_start).total_seconds() // bucket)
        if min(now, plan.window_end) >= plan.window_end:
            ended = int(-(-(plan.window_end - plan.window_start).total_seconds() // bucket))
        current = {
            (side, pid): t.exposure.values if t.exposure is not None else t.errored.values
            for side, sides in (("new", new), ("base", base_now))
            for pid, t in sides.items()
        }
        agreed = ended
        for key, values in current.items():
            before = self._last.get(key, ())
            same = 0
            while (
                same < min(ended, len(values), len(before))
                and values[same] == before[same]
                and (values[same] > 0 or key[0] == "base")
            ):
                same += 1
            agreed = min(agreed, same)
        self._last = dict(current)
        settled = max(0, aged, agreed if current else 0)
        # a bucket arrived but is not confirmed yet: confirm it sooner than a poll
        self._pending = any(
            len(values) > settled and values[settled] > 0 and settled < ended
            for (side, _), values in current.items()
            if side == "new"
        )
        return settled

    def forced(
        self,
        release: str,
        unit: str | None,
        start: datetime,
        end: datetime,
        project: Project | None = None,
    ) -> Traffic:
        """A release's traffic in the unit the baseline chose (new and base must match)."""
        bucket = self.policy.bucket
        if unit == "sessions":
            sessions = self.reads.session_traffic(release, start, end, bucket, project)
            if sessions is not None:
                return sessions  # with its users, for the rate rule's unit
            empty = Series(
                start, bucket, (0.0,) * max(1, int(-(-(end - start).total_seconds() // bucket)))
            )
            return Traffic("sessions", empty, empty)
        errors = self.reads.error_series(release, start, end, bucket, only=project)
        if unit == "transactions":
            exposure = self.reads.error_series(
                release, start, end, bucket, "transactions", only=project
            )
            return Traffic("transactions", errors, exposure)
        return Traffic(None, errors, None)

    def rate_inputs(self, plan: Plan, data: Poll) -> tuple[RateInput, ...]:
        """The rate rule's buckets, one input per project: concurrent while the baseline
        still serves, else the baseline's minutes before the deploy."""
        if plan.baseline_release is None or not data.new:
            notes = tuple(n for t in plan.baseline.values() if (n := t.note))
            return (RateInput(plan.unit, "previous", (), 1.0, plan.baseline_release, notes),)
        per = round((plan.window_end - plan.window_start).total_seconds() / self.policy.bucket)
        slugs = {str(p.id): p.slug for p in self.reads.projects}
        several = len(data.new) > 1
        inputs = []
        for pid, new in data.new.items():
            before = plan.baseline.get(pid)
            notes = tuple(n for n in (before.note if before else None,) if n)
            if before is None:
                inputs.append(
                    RateInput(plan.unit, "previous", (), 1.0, plan.baseline_release, notes)
                )
                continue
            now_side = data.base_now.get(pid)
            concurrent = now_side is not None and still_serving(now_side, new, data.settled)
            base = now_side if concurrent and now_side is not None else before
            unit = plan.unit
            if counts_users(new, base):
                new, base, unit = new.by_users(), base.by_users(), "users"
            buckets = paired_buckets(new, base, data.settled, concurrent=concurrent, per=per)
            phi = 1.0 if concurrent else plan.phi.get(pid, 1.0)
            if unit == "users" and not concurrent and base.exposure is not None:
                # the prior dispersion of the unit compared: the baseline's users series
                phi = robust_dispersion(base.errored.values, base.exposure.values)
            if not concurrent:
                # the baseline's minute-to-minute noise at the level the null puts the new
                # release's counts (max_ratio times the baseline's, on the same traffic)
                phi = dispersion_at_level(phi, self.policy.max_ratio)
            if not self.chart or not self.chart.get("new"):
                self.chart = {
                    "bucket": self.policy.bucket,
                    "new": [_per(b.new, b.new_exposure) for b in buckets],
                    "base": [_per(b.base, b.base_exposure) for b in buckets],
                }
            inputs.append(
                RateInput(
                    unit,
                    "concurrent" if concurrent else "previous",
                    buckets,
                    # in the same minutes, variation common to both releases cancels
                    phi,
                    plan.baseline_release,
                    notes,
                    slugs.get(pid, pid) if several else "",
                    plan.shares.get(pid, WATCH_SHARE),
                    plan.end_looks,
                )
            )
        return tuple(inputs)

    def observations(
        self,
        plan: Plan,
        data: Poll,
        now: datetime,
        final: bool,
        outcomes: Any = None,
        suspects: Mapping[str, Suspect] | None = None,
    ) -> Observations:
        """Everything `evaluate` needs, from the plan, the last read and the probes."""
        self.chart = {}
        return Observations(
            version=self.version,
            environment=self.environment,
            deploy_start=plan.deploy_start,
            window_start=plan.window_start,
            window_end=plan.window_end,
            final=final,
            issues=data.issues,
            rates=self.rate_inputs(plan, data),
            probes=self.probes,
            probe_extra=self.policy.health_successes,
            other_releases=data.others,
            same_commit=data.same_commit,
            new_traffic=data.has_traffic,
            outcomes=outcomes,
            suspects=suspects or {},
        )

    def context(self, plan: Plan) -> dict[str, Any]:
        """Report fields that describe the plan."""
        base = self.settings.url.rstrip("/")
        org = quote(self.settings.org or "", safe="")
        projects = "&".join(f"project={p.id}" for p in self.reads.projects)
        env = quote(self.environment, safe="")
        return {
            "version": self.version,
            "environment": self.environment,
            "baseline_release": plan.baseline_release
            if plan.baseline_release != self.version
            else None,
            "deploy": {
                "id": plan.deploy.id,
                "start": iso(plan.deploy_start),
                "start_source": plan.start_source,
            },
            "window": {
                "start": iso(plan.window_start),
                "end": iso(plan.window_end),
                "settle": plan.settle,
                "revisions": plan.revisions,
            },
            "baseline": {
                "release": plan.baseline_release,
                "unit": plan.unit,
                "dispersion": round(max(plan.phi.values(), default=1.0), 3),
            },
            "links": {
                "release": f"{base}/organizations/{org}/releases/"
                f"{quote(self.version, safe='')}/?environment={env}&{projects}",
                "issues": f"{base}/organizations/{org}/issues/?environment={env}&{projects}"
                f"&query={quote(f'release:{self.version}', safe='')}",
            },
        }

    def run_context(self, plan: Plan, now: datetime) -> dict[str, Any]:
        """Counters and the chart, as of the end."""
        return {
            "polls": self.polls,
            "poll": self.poll,
            "decided_at": iso(now),
            "chart": {**self.chart, "deploy": iso(plan.deploy_start)},
        }

    def run_probes(
        self, expected: Callable[[int], bool], session: requests.Session, deadline: float
    ) -> None:
        """Probe every health URL once and record the outcome; no probe outlasts the gate's
        own deadline (`--gate-timeout` caps the wall time whatever the app does)."""
        updated = []
        for status in self.probes:
            limit = max(MIN_SLEEP, min(self.policy.health_timeout, deadline - self.clock()))
            ok, detail = probe(
                session,
                status.url,
                timeout=limit,
                expected=expected,
                body=self.policy.health_body,
                any_redirect=self.policy.health_any_redirect,
            )
            updated.append(status.record(ok, detail, self.policy.health_successes))
        self.probes = tuple(updated)


def align(moment: datetime, bucket: float, *, up: bool) -> datetime:
    """`moment` on a bucket boundary (epoch multiples), rounded up or down."""
    epoch = moment.timestamp()
    steps = epoch / bucket
    whole = -(-steps // 1) if up else steps // 1
    return at(whole * bucket)


def _per(count: float, exposure: float) -> float | None:
    return round(100.0 * count / exposure, 3) if exposure > 0 else None
