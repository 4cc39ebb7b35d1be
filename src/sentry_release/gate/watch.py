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
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from sentry_release.config.connection import is_loopback
from sentry_release.config.settings import GatePolicy, Settings
from sentry_release.errors import ConfigError, NotFoundError, SentryAPIError
from sentry_release.gate.health import check_urls, parse_expected_status, probe
from sentry_release.gate.policy import (
    FAIL,
    INCONCLUSIVE,
    WATCHING,
    GateReport,
    Observations,
    ProbeStatus,
    RateInput,
    api_error_report,
    apply_policy,
    evaluate,
)
from sentry_release.gate.render import print_report
from sentry_release.gate.sequential import Bucket
from sentry_release.gate.stats import dispersion
from sentry_release.output import Output
from sentry_release.redact import register_secret
from sentry_release.sentry.api import SentryApi
from sentry_release.sentry.gate_models import Deploy, Issue, Series, Suspect, Traffic, at, iso
from sentry_release.sentry.gate_reads import Reads, first_activity
from sentry_release.steps.deploy import DeployResult

MIN_REMOTE_POLL = 30.0  # Sentry rate-limits org queries; faster polling invites 429s
HEALTH_INTERVAL = 5.0  # probes may run more often than Sentry polls
CATCH_UP_PROBE = 1.0  # after the window, probes that still need samples run this often
ROLLOUT_LOOKBACK = 3600.0  # how far before dateFinished a missing dateStarted is looked for
BASELINE_MULTIPLE = 3  # the baseline before the deploy is this many windows long
CONCURRENT_SHARE = 0.05  # the baseline still serves when it has this share of the traffic
MAX_SUSPECTS = 5
MAX_REREADS = 3  # final reads that may disagree before the gate decides anyway
MIN_SLEEP = 0.05


@dataclass(frozen=True)
class Plan:
    """Where and when to look, fixed before the first poll."""

    deploy: Deploy
    deploy_start: datetime
    start_source: str  # dateStarted, first-traffic or dateFinished
    window_start: datetime
    window_end: datetime
    baseline_release: str | None
    baseline: Traffic | None  # the baseline's buckets just before the deploy
    unit: str | None
    phi: float
    settle: float

    @property
    def final_at(self) -> datetime:
        """When the last read may happen: the window's end plus the slower source's lag."""
        return self.window_end + timedelta(seconds=self.settle)


def run_gate(
    settings: Settings,
    client: SentryApi,
    version: str,
    deploy: DeployResult | None,
    out: Output,
    *,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> GateReport:
    """Watch the release after its deploy and return the verdict (raises nothing on FAIL).

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
    """Against a remote Sentry: the requested interval when the last rate-limit headers leave
    enough quota to poll that fast until the reset, else 30 s."""
    if requested >= MIN_REMOTE_POLL:
        return requested
    try:
        remaining = float(rate_limit["x-sentry-rate-limit-remaining"])
        reset = float(rate_limit["x-sentry-rate-limit-reset"])
    except (KeyError, ValueError):
        return MIN_REMOTE_POLL
    polls_until_reset = max(reset - now, 0.0) / requested + 1
    if remaining >= polls_until_reset * max(calls_per_poll, 1):
        return requested
    return MIN_REMOTE_POLL


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
        deploy: DeployResult | None,
        out: Output,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        poll: float,
    ) -> None:
        self.settings = settings
        self.policy: GatePolicy = settings.gate
        self.client = client
        self.version = version
        self.given = Deploy.parse(deploy.deploy.to_json()) if deploy is not None else None
        self.out = out
        self.clock = clock
        self.sleep = sleep
        self.poll = poll
        self.environment = settings.deploy.environment or ""
        self.reads = Reads(client, settings.org or "", self.environment, clock=clock)
        self.probes = tuple(ProbeStatus(url) for url in self.policy.health_urls)
        self.polls = 0
        self.chart: dict[str, Any] = {}

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
        context = self.context(plan)
        self.out.info(
            f"Deploy gate: watching {self.version} in {self.environment} from "
            f"{iso(plan.deploy_start)} ({plan.start_source}); rate window "
            f"{iso(plan.window_start)} to {iso(plan.window_end)} (+{plan.settle:g}s settle); "
            f"baseline {plan.baseline_release or 'none found'} "
            f"({plan.unit or 'no traffic denominator'})"
        )
        data: dict[str, Any] | None = None
        last_error: str | None = None
        next_read = next_probe = float("-inf")
        previous_totals: tuple[float, ...] | None = None
        rereads = 0
        while True:
            now_local = self.clock()
            now = self.reads.now()
            final = now >= plan.final_at
            if self.probes and now_local >= next_probe:
                self.run_probes(expected, session)
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
            timed_out = deadline is not None and now_local >= deadline
            if last_error is not None and (final or timed_out):
                return api_error_report(last_error, policy, context)
            if data is not None:
                seen = self.observations(plan, data, now, final and bool(data.get("final")))
                report = evaluate(seen, policy)
                if report.verdict == INCONCLUSIVE and deadline is not None:
                    # room for the settle period and two final reads before the deadline
                    extended = at(deadline) - timedelta(seconds=plan.settle + 2 * self.poll)
                    if extended > plan.window_end + timedelta(seconds=self.poll):
                        plan = self.extend(plan, extended)
                        context = self.context(plan)
                        self.out.info("Deploy gate: too little data; watching until the timeout")
                        continue
                if report.verdict not in (WATCHING, FAIL) and data.get("final"):
                    totals = data["totals"]
                    if totals != previous_totals and rereads < MAX_REREADS:
                        previous_totals, rereads = totals, rereads + 1
                        next_read = min(next_read, now_local + min(self.poll, 2.0))
                        report = replace(report, verdict=WATCHING)
                if report.verdict != WATCHING:
                    return apply_policy(self.finish(plan, report, data, now, context), policy)
                self._narrate(report, plan, now)
            if timed_out:
                return apply_policy(self._timed_out(plan, data, now, started, context), policy)
            wake = next_read
            if self.probes:
                wake = min(wake, next_probe)
            if deadline is not None:
                wake = min(wake, deadline)
            self.sleep(max(MIN_SLEEP, wake - self.clock()))

    def finish(
        self,
        plan: Plan,
        report: GateReport,
        data: Mapping[str, Any],
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
            self.observations(plan, data, now, bool(data.get("final")), outcomes, suspects),
            self.policy,
        )
        if final.verdict == WATCHING:
            final = report
        return replace(final, context={**context, **self.run_context(plan, now)})

    def _timed_out(
        self,
        plan: Plan,
        data: Mapping[str, Any] | None,
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
        finished = deploy.date_finished or self.reads.now()
        start, source = deploy.date_started, "dateStarted"
        if start is None:
            start, source = self.first_traffic(finished), "first traffic"
            if start is None:
                start, source = finished, "dateFinished"
        # buckets on Sentry's interval boundaries, as it rounds ranges to whole intervals
        window_start = align(start + timedelta(seconds=policy.grace), policy.bucket, up=True)
        window_end = window_start + timedelta(seconds=policy.window)
        length = BASELINE_MULTIPLE * max(policy.window, policy.bucket)
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
            baseline=None,
            unit=None,
            phi=1.0,
            settle=policy.settle,
        )
        return self.with_baseline(plan, length)

    def with_baseline(self, plan: Plan, length: float) -> Plan:
        """Read the baseline's buckets over `length` seconds before the deploy; its unit is
        the gate's unit and its series gives the dispersion."""
        if plan.baseline_release is None:
            return plan
        bucket = self.policy.bucket
        count = max(1, int(length // bucket))
        end = align(plan.deploy_start, bucket, up=False)
        start = end - timedelta(seconds=count * bucket)
        base = self.reads.traffic(plan.baseline_release, start, end, bucket)
        exposure = base.exposure.values if base.exposure is not None else ()
        phi = dispersion(base.errored.values, exposure) if exposure else 1.0
        settle = self.policy.settle
        if base.unit == "sessions":
            settle = max(settle, self.policy.settle_sessions)
        return replace(plan, baseline=base, unit=base.unit, phi=phi, settle=settle)

    def extend(self, plan: Plan, window_end: datetime) -> Plan:
        """A longer window (and a baseline as long) when the timeout leaves room."""
        plan = replace(plan, window_end=window_end)
        length = (window_end - plan.window_start).total_seconds()
        return self.with_baseline(plan, BASELINE_MULTIPLE * length)

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

    def read(self, plan: Plan, now: datetime) -> dict[str, Any]:
        """One poll: issues since the deploy, then both sides' buckets in the window."""
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
        data: dict[str, Any] = {"issues": tuple(issues), "final": now >= plan.final_at}
        if now > plan.window_start:
            bucket = self.policy.bucket
            upto = min(now, plan.window_end)
            new = self.forced(self.version, plan.unit, plan.window_start, upto)
            data["new"] = new
            if plan.baseline_release and plan.baseline_release != self.version:
                data["base_now"] = self.forced(
                    plan.baseline_release, plan.unit, plan.window_start, upto
                )
            settled = min(now - timedelta(seconds=plan.settle), plan.window_end)
            full = (settled - plan.window_start).total_seconds() / bucket
            data["settled"] = int(full) if settled < plan.window_end else int(-(-full // 1))
        else:
            data["settled"] = 0
        if data["final"] and not self._has_traffic(data):
            data["others"] = tuple(
                name
                for name, _ in self.reads.serving(plan.deploy_start, now, self.policy.bucket)
                if name != self.version
            )
            import os  # the hook of gate/release_match.py: the same commit under another name

            from sentry_release.gate import release_match

            shas = release_match.build_shas(os.environ)
            data["same_commit"] = release_match.hint(self.version, data["others"], shas)
        data["totals"] = self._totals(data)
        return data

    def forced(self, release: str, unit: str | None, start: datetime, end: datetime) -> Traffic:
        """A release's traffic in the unit the baseline chose (new and base must match)."""
        bucket = self.policy.bucket
        if unit == "sessions":
            sessions = self.reads.session_series(release, start, end, bucket)
            if sessions is not None:
                return Traffic("sessions", sessions[0], sessions[1])
            empty = Series(
                start, bucket, (0.0,) * max(1, int(-(-(end - start).total_seconds() // bucket)))
            )
            return Traffic("sessions", empty, empty)
        errors = self.reads.error_series(release, start, end, bucket)
        if unit == "transactions":
            exposure = self.reads.error_series(release, start, end, bucket, "transactions")
            return Traffic("transactions", errors, exposure)
        return Traffic(None, errors, None)

    @staticmethod
    def _has_traffic(data: Mapping[str, Any]) -> bool:
        new = data.get("new")
        if data["issues"]:
            return True
        if not isinstance(new, Traffic):
            return True  # not judged before the window
        exposure = new.exposure.total() if new.exposure is not None else 0.0
        return exposure > 0 or new.errored.total() > 0

    @staticmethod
    def _totals(data: Mapping[str, Any]) -> tuple[float, ...]:
        new = data.get("new")
        numbers = [float(sum(i.events for i in data["issues"]))]
        if isinstance(new, Traffic):
            numbers.append(new.errored.total())
            numbers.append(new.exposure.total() if new.exposure is not None else 0.0)
        return tuple(numbers)

    def rate_input(self, plan: Plan, data: Mapping[str, Any]) -> RateInput:
        """The rate rule's buckets: concurrent while the baseline still serves, else the
        baseline's minutes before the deploy."""
        notes = tuple(n for n in (plan.baseline.note if plan.baseline else None,) if n)
        new = data.get("new")
        if plan.baseline_release is None or plan.baseline is None or not isinstance(new, Traffic):
            return RateInput(plan.unit, "previous", (), plan.phi, plan.baseline_release, notes)
        settled = int(data.get("settled", 0))
        base_now = data.get("base_now")
        concurrent = isinstance(base_now, Traffic) and still_serving(base_now, new, settled)
        base = base_now if concurrent and isinstance(base_now, Traffic) else plan.baseline
        per = round((plan.window_end - plan.window_start).total_seconds() / self.policy.bucket)
        buckets = paired_buckets(new, base, settled, concurrent=concurrent, per=per)
        self.chart = {
            "bucket": self.policy.bucket,
            "new": [_per(b.new, b.new_exposure) for b in buckets],
            "base": [_per(b.base, b.base_exposure) for b in buckets],
        }
        return RateInput(
            plan.unit,
            "concurrent" if concurrent else "previous",
            buckets,
            plan.phi,
            plan.baseline_release,
            notes,
        )

    def observations(
        self,
        plan: Plan,
        data: Mapping[str, Any],
        now: datetime,
        final: bool,
        outcomes: Any = None,
        suspects: Mapping[str, Suspect] | None = None,
    ) -> Observations:
        """Everything `evaluate` needs, from the plan, the last read and the probes."""
        issues: tuple[Issue, ...] = data["issues"]
        return Observations(
            version=self.version,
            environment=self.environment,
            deploy_start=plan.deploy_start,
            window_start=plan.window_start,
            window_end=plan.window_end,
            final=final,
            issues=issues,
            rate=self.rate_input(plan, data),
            probes=self.probes,
            probe_extra=self.policy.health_successes,
            other_releases=tuple(data.get("others") or ()),
            same_commit=data.get("same_commit"),
            new_traffic=self._has_traffic(data),
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
            },
            "baseline": {
                "release": plan.baseline_release,
                "unit": plan.unit,
                "dispersion": round(plan.phi, 3),
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

    def run_probes(self, expected: Callable[[int], bool], session: requests.Session) -> None:
        """Probe every health URL once and record the outcome."""
        updated = []
        for status in self.probes:
            ok, detail = probe(
                session,
                status.url,
                timeout=self.policy.health_timeout,
                expected=expected,
                body=self.policy.health_body,
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
