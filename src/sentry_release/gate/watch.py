"""The gate's observation loop: wait out the grace period, poll Sentry, decide.

Timeline (all from the deploy's `dateFinished`): grace, then the observation window, then
`settle` for ingestion lag; the final read happens after that. Clear breaches fail early;
a pass needs the whole window. `--timeout` caps the wall time from the gate's start: it ends
a window early (INCONCLUSIVE unless something already failed) or, when the window closes
INCONCLUSIVE, keeps watching until the timeout in the hope of enough data.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import requests

from sentry_release.config.settings import GatePolicy, Settings, is_loopback
from sentry_release.errors import AuthError, ConfigError, NotFoundError, SentryAPIError
from sentry_release.gate.health import parse_expected_status, probe
from sentry_release.gate.policy import (
    FAIL,
    INCONCLUSIVE,
    PASS,
    WATCHING,
    GateReport,
    Observations,
    ProbeStatus,
    api_error_report,
    apply_policy,
    evaluate,
    parse_when,
)
from sentry_release.output import Output, md_cell
from sentry_release.sentry.client import SentryClient
from sentry_release.sentry.models import Deploy
from sentry_release.steps.deploy import DeployResult

MIN_REMOTE_POLL = 30.0  # Sentry rate-limits org queries; faster polling invites 429s
HEALTH_INTERVAL = 5.0  # probes may run more often than Sentry polls
MAX_RELEASES_SCANNED = 50  # newest releases searched for the previous deploy
MAX_ISSUES = 500
MIN_SLEEP = 0.05


@dataclass(frozen=True)
class Plan:
    """Where and when to look, fixed before the first poll."""

    deploy: Deploy
    deploy_start: datetime
    window_start: datetime
    window_end: datetime
    project_ids: tuple[str, ...]
    baseline_release: str | None
    baseline_floor: datetime | None  # when the previous release was deployed
    baseline_start: datetime | None
    baseline_end: datetime | None
    base_errors: int
    base_exposure: float
    exposure_unit: str

    def context(self) -> dict[str, Any]:
        """Report fields that describe the plan."""
        return {
            "deploy": {
                "id": self.deploy.id,
                "dateStarted": self.deploy.date_started,
                "dateFinished": self.deploy.date_finished,
            },
            "baseline_window": {
                "start": _iso(self.baseline_start) if self.baseline_start else None,
                "end": _iso(self.baseline_end) if self.baseline_end else None,
            },
        }


def run_gate(
    settings: Settings,
    client: SentryClient,
    version: str,
    deploy: DeployResult | None,
    out: Output,
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> GateReport:
    """Watch the release after its deploy and return the verdict (raises nothing on FAIL).

    INCONCLUSIVE and unreadable Sentry are mapped through `on_inconclusive` and
    `on_api_error`; the report is printed (table or JSON) before returning.
    """
    policy = settings.gate
    expected = parse_expected_status(policy.health_status)
    settings.require("org", "environment")
    if client.dry_run:
        report = GateReport(
            INCONCLUSIVE,
            f"dry run: would watch {version} in {settings.deploy.environment} for "
            f"{policy.grace:g}s grace + {policy.window:g}s window",
        )
        out.result(f"[dry-run] deploy gate: {report.reason}")
        return report
    poll = effective_poll(policy.poll, settings.url, out)
    saved = client.retry
    # one slow read must not outlast a poll: a later poll retries anyway
    client.retry = replace(saved, budget=min(saved.budget, max(poll, 1.0)))
    session = requests.Session()
    try:
        watcher = _Watcher(settings, client, version, deploy, out, clock, sleep, poll)
        report, warning = watcher.run(expected, session)
    finally:
        client.retry = saved
        session.close()
    if warning:
        out.warn(warning)
    print_report(out, report)
    return report


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


class _Watcher:
    """One gate run: the plan, the polling loop and its state."""

    def __init__(
        self,
        settings: Settings,
        client: SentryClient,
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
        self.given_deploy = deploy.deploy if deploy is not None else None
        self.out = out
        self.clock = clock
        self.sleep = sleep
        self.poll = poll
        self.org = settings.org or ""
        self.environment = settings.deploy.environment or ""
        self.probes = tuple(ProbeStatus(url) for url in self.policy.health_urls)
        self.reads = 0

    # --- the loop ----------------------------------------------------------------------

    def run(
        self, expected: Callable[[int], bool], session: requests.Session
    ) -> tuple[GateReport, str | None]:
        """Poll until a verdict; returns it with the warning to print, if any."""
        policy = self.policy
        started = self.clock()
        deadline = started + policy.timeout if policy.timeout else None
        base_details = {"version": self.version, "environment": self.environment}
        try:
            plan = self.plan(_at(started))
        except (AuthError, NotFoundError):
            raise
        except SentryAPIError as exc:
            return api_error_report(str(exc), policy, base_details)
        window_end = plan.window_end
        baseline = (
            f"{plan.baseline_release}: {plan.base_errors} errors in "
            f"{plan.base_exposure:g} {plan.exposure_unit}"
            if plan.baseline_release
            else "none found"
        )
        self.out.info(
            f"Deploy gate: watching {self.version} in {self.environment} from "
            f"{_iso(plan.window_start)} to {_iso(window_end)} (+{policy.settle:g}s settle); "
            f"baseline {baseline}"
        )
        data: dict[str, Any] | None = None
        last_error: str | None = None
        last_read = float("-inf")
        next_read = next_probe = float("-inf")
        told_grace = False
        while True:
            now = self.clock()
            final_at = window_end.timestamp() + policy.settle
            if now < plan.window_start.timestamp():
                wait = plan.window_start.timestamp() - now
                if not told_grace:
                    self.out.info(f"Deploy gate: waiting {wait:.0f}s of grace after the deploy")
                    told_grace = True
                if deadline is not None and now >= deadline:
                    report = self._timed_out(plan, window_end, data, started, now)
                    return apply_policy(report, policy)
                self.sleep(max(MIN_SLEEP, min(wait, (deadline or now + wait) - now)))
                continue
            if self.probes and now >= next_probe:
                self.run_probes(expected, session)
                next_probe = now + min(self.poll, HEALTH_INTERVAL)
            if now >= next_read or (now >= final_at and last_read < final_at):
                calls = self.client.request_count
                try:
                    data = self.read(plan, _at(now), window_end)
                    last_error = None
                    if not is_local_sentry(self.settings.url):
                        self.poll = poll_interval(
                            policy.poll,
                            self.client.rate_limit,
                            self.clock(),
                            self.client.request_count - calls,
                        )
                except (AuthError, NotFoundError):
                    raise
                except SentryAPIError as exc:
                    last_error = str(exc)
                    self.out.warn(f"could not read Sentry: {exc}")
                last_read = now
                next_read = now + self.poll
            final = now >= final_at
            timed_out = deadline is not None and now >= deadline
            if last_error is not None and (final or (data is None and timed_out)):
                return api_error_report(last_error, policy, {**base_details, **plan.context()})
            if data is not None:
                report = evaluate(self.observations(plan, window_end, data), policy, _at(now))
                if (
                    report.verdict == INCONCLUSIVE
                    and deadline is not None
                    and deadline - policy.settle > now + self.poll
                ):
                    # not enough data at the window's end: keep watching until the timeout,
                    # against a baseline window as long as the extended one
                    extended = _at(deadline - policy.settle)
                    try:
                        plan = self.with_baseline(
                            plan, (extended - plan.window_start).total_seconds()
                        )
                    except (AuthError, NotFoundError):
                        raise
                    except SentryAPIError as exc:
                        return api_error_report(str(exc), policy, {**base_details})
                    window_end = extended
                    self.out.info("Deploy gate: too little data; watching until the timeout")
                    continue
                if report.verdict != WATCHING:
                    return apply_policy(report, policy)
                self._narrate(report, final_at - now)
            if deadline is not None and now >= deadline:
                return apply_policy(self._timed_out(plan, window_end, data, started, now), policy)
            wake = min(next_read, final_at, *([next_probe] if self.probes else []))
            if deadline is not None:
                wake = min(wake, deadline)
            self.sleep(max(MIN_SLEEP, wake - self.clock()))

    def _timed_out(
        self,
        plan: Plan,
        window_end: datetime,
        data: dict[str, Any] | None,
        started: float,
        now: float,
    ) -> GateReport:
        if window_end > plan.window_end:
            reason = f"timed out after {now - started:.0f}s, still without enough data"
        else:
            reason = f"timed out after {now - started:.0f}s before the observation window closed"
        if data is None:
            context = {"version": self.version, "environment": self.environment}
            return GateReport(INCONCLUSIVE, reason, (), {**context, **plan.context()})
        # judge what was seen as if the window had closed: counted issues fail now, but a
        # rate or probe that had no chance to prove itself is only inconclusive
        observed = self.observations(plan, window_end, data)
        observed = replace(observed, probes=tuple(p for p in observed.probes if p.attempts))
        final_at = _at(window_end.timestamp() + self.policy.settle)
        report = evaluate(observed, self.policy, final_at)
        if report.verdict == FAIL:
            return replace(report, reason=f"{reason}; {report.reason}")
        return replace(report, verdict=INCONCLUSIVE, reason=reason)

    def _narrate(self, report: GateReport, left: float) -> None:
        rate = report.details.get("rate", {})
        counted = sum(1 for i in report.new_issues if i["counted"])
        self.out.info(
            f"Deploy gate: {len(report.new_issues)} new issue(s), {counted} above the floors; "
            f"{rate.get('new_errors', 0)} errors vs {rate.get('base_errors', 0)} baseline; "
            f"{max(left, 0):.0f}s left"
        )

    # --- planning ----------------------------------------------------------------------

    def plan(self, now: datetime) -> Plan:
        """Find the deploy, the previous release's deploy and the baseline counts."""
        policy = self.policy
        deploy = self.given_deploy or self.find_deploy()
        finished = parse_when(deploy.date_finished) or now
        deploy_start = parse_when(deploy.date_started) or finished
        window_start = finished + timedelta(seconds=policy.grace)
        window_end = window_start + timedelta(seconds=policy.window)
        project_ids = self.project_ids()
        previous = self.previous_deploy(deploy_start, project_ids)
        plan = Plan(
            deploy=deploy,
            deploy_start=deploy_start,
            window_start=window_start,
            window_end=window_end,
            project_ids=project_ids,
            baseline_release=previous[0] if previous else None,
            baseline_floor=previous[1] if previous else None,
            baseline_start=None,
            baseline_end=None,
            base_errors=0,
            base_exposure=0.0,
            exposure_unit="seconds",
        )
        return self.with_baseline(plan, policy.window)

    def with_baseline(self, plan: Plan, length: float) -> Plan:
        """Count the previous release's errors (and sessions) over `length` seconds before
        the deploy, no earlier than that release's own deploy."""
        if plan.baseline_release is None or plan.baseline_floor is None:
            return plan
        end = plan.deploy_start
        start = max(end - timedelta(seconds=length), plan.baseline_floor)
        if end <= start:
            return replace(plan, baseline_start=start, baseline_end=end)
        errors = self.count_errors(plan.baseline_release, start, end, plan.project_ids)
        sessions = self.count_sessions(plan.baseline_release, start, end, plan.project_ids)
        exposure, unit = (
            (float(sessions), "sessions")
            if sessions
            else ((end - start).total_seconds(), "seconds")
        )
        return replace(
            plan,
            baseline_start=start,
            baseline_end=end,
            base_errors=errors,
            base_exposure=exposure,
            exposure_unit=unit,
        )

    def find_deploy(self) -> Deploy:
        """The latest deploy of this release to the environment."""
        deploys = [
            d
            for d in self.client.list_deploys(self.org, self.version)
            if d.environment == self.environment
        ]
        if not deploys:
            raise ConfigError(
                f"no deploy of {self.version} to {self.environment} is recorded: run "
                f"`sentry-release deploy {self.version} --env {self.environment}` first"
            )
        return max(deploys, key=lambda d: parse_when(d.date_finished) or _at(0))

    def project_ids(self) -> tuple[str, ...]:
        """Numeric ids of the configured projects (org-level queries take ids)."""
        slugs = self.settings.projects
        if not slugs:
            return ()
        known = {p.slug: str(p.id) for p in self.client.list_projects(self.org)}
        missing = [s for s in slugs if s not in known and s not in known.values()]
        if missing:
            raise ConfigError(
                f"project {missing[0]!r} not found in organization {self.org!r}: "
                "check SENTRY_PROJECT"
            )
        return tuple(known.get(s, s) for s in slugs)

    def previous_deploy(
        self, before: datetime, project_ids: tuple[str, ...] = ()
    ) -> tuple[str, datetime] | None:
        """The release deployed to the same environment last before this deploy started."""
        best: tuple[str, datetime] | None = None
        # Numeric ids only: Sentry answers 400 to a slug in `project=` on org-level lists.
        ids = [int(p) for p in project_ids[:1] if str(p).isdigit()]
        releases = self.client.list_releases(self.org, project_ids=ids)
        for release in itertools.islice(releases, MAX_RELEASES_SCANNED):
            name = release.version
            if name == self.version or release.deploy_count == 0:
                continue  # never-deployed builds cost no request
            for deploy in self.client.list_deploys(self.org, name):
                when = parse_when(deploy.date_finished)
                if (
                    deploy.environment == self.environment
                    and when is not None
                    and when <= before
                    and (best is None or when > best[1])
                ):
                    best = (name, when)
        return best

    # --- reading -----------------------------------------------------------------------

    def count_errors(
        self, version: str, start: datetime, end: datetime, projects: tuple[str, ...]
    ) -> int:
        """Error events of one release in [start, end] in the environment."""
        rows = self.client.query_events(
            self.org,
            fields=["count()"],
            query=f'event.type:error release:"{version}"',
            start=start,
            end=end,
            environment=self.environment,
            projects=projects,
        )
        return int(rows[0].get("count()") or 0) if rows else 0

    def count_sessions(
        self, version: str, start: datetime, end: datetime, projects: tuple[str, ...]
    ) -> int:
        """Sessions of one release (0 when the project sends none or Sentry has no data)."""
        try:
            body = self.client.query_sessions(
                self.org,
                query=f'release:"{version}"',
                start=start,
                end=end,
                environment=self.environment,
                projects=projects,
                # Sentry widens the range to whole intervals: minutes for gate-sized windows
                interval="1m" if end - start <= timedelta(hours=6) else "1h",
            )
        except (AuthError, NotFoundError):
            return 0
        except SentryAPIError as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                return 0  # no session data for this project or Sentry version
            raise
        total = 0
        for group in body.get("groups") or []:
            total += int((group.get("totals") or {}).get("sum(session)") or 0)
        return total

    def read(self, plan: Plan, now: datetime, window_end: datetime) -> dict[str, Any]:
        """One poll: new issues since the deploy and the release's errors in the window."""
        self.reads += 1
        query = f'firstRelease:"{self.version}" {self.policy.query}'.strip()
        issues = list(
            itertools.islice(
                self.client.list_issues(
                    self.org,
                    query=query,
                    environment=self.environment,
                    projects=plan.project_ids,
                    start=plan.deploy_start,
                    end=max(now, plan.deploy_start + timedelta(seconds=1)),
                ),
                MAX_ISSUES,
            )
        )
        end = min(now, window_end)
        new_errors, exposure = 0, 0.0
        if end > plan.window_start:
            new_errors = self.count_errors(self.version, plan.window_start, end, plan.project_ids)
            if plan.exposure_unit == "sessions":
                exposure = float(
                    self.count_sessions(self.version, plan.window_start, end, plan.project_ids)
                )
            else:
                exposure = (end - plan.window_start).total_seconds()
        return {"issues": tuple(issues), "new_errors": new_errors, "new_exposure": exposure}

    def observations(self, plan: Plan, window_end: datetime, data: dict[str, Any]) -> Observations:
        """Everything `evaluate` needs, from the plan, the last read and the probes."""
        return Observations(
            version=self.version,
            environment=self.environment,
            deploy_start=plan.deploy_start,
            window_start=plan.window_start,
            window_end=window_end,
            issues=data["issues"],
            new_errors=data["new_errors"],
            base_errors=plan.base_errors,
            new_exposure=data["new_exposure"],
            base_exposure=plan.base_exposure,
            exposure_unit=plan.exposure_unit,
            baseline_release=plan.baseline_release,
            probes=self.probes,
            context={**plan.context(), "reads": self.reads, "poll": self.poll},
        )

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


# --- the report ----------------------------------------------------------------------------

ICONS = {PASS: "✅", FAIL: "❌", INCONCLUSIVE: "⚠️"}


def print_report(out: Output, report: GateReport, *, json_output: bool = False) -> None:
    """The report on stdout: JSON with `--json`, else a few lines and tables."""
    if json_output:
        out.result(json.dumps(report.to_dict(), indent=2, default=str))
        return
    details = report.details
    out.result(f"Deploy gate: {report.verdict}")
    out.result(f"Reason: {report.reason}")
    if details.get("version"):
        base = details.get("baseline_release") or "none found"
        out.result(
            f"Release {details['version']} in {details.get('environment')}; "
            f"baseline release: {base}"
        )
    if report.new_issues:
        out.result("New issues:")
        out.table(
            ["issue", "level", "events", "users", "first seen", "counted", "title", "link"],
            [
                [
                    i["shortId"],
                    i["level"] + (" unhandled" if i["unhandled"] else ""),
                    str(i["events"]),
                    str(i["users"]),
                    str(i["firstSeen"] or ""),
                    "yes" if i["counted"] else "no",
                    i["title"][:60],
                    str(i["permalink"] or ""),
                ]
                for i in report.new_issues
            ],
        )
    rate = details.get("rate")
    if rate:
        out.result("Error rate:")
        out.table(["", "errors", "exposure"], _rate_rows(rate))
        out.result(
            f"ratio {_num(rate.get('ratio'))} (max {details['policy']['max_ratio']:g}), "
            f"p-value {_num(rate.get('p_value'))} (alpha {details['policy']['alpha']:g}): "
            f"{rate.get('verdict')}"
        )
    if details.get("health"):
        out.result("Health probes:")
        out.table(
            ["url", "attempts", "healthy", "last"],
            [
                [p["url"], str(p["attempts"]), "yes" if p["healthy"] else "no", p["last"]]
                for p in details["health"]
            ],
        )


def _rate_rows(rate: dict[str, Any]) -> list[list[str]]:
    unit = rate.get("exposure_unit", "seconds")
    return [
        ["new", str(rate.get("new_errors")), f"{rate.get('new_exposure', 0):g} {unit}"],
        ["baseline", str(rate.get("base_errors")), f"{rate.get('base_exposure', 0):g} {unit}"],
    ]


def _num(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def render_markdown(report: GateReport) -> str:
    """The report as Markdown for the GitHub job summary."""
    details = report.details
    lines = [
        f"### {ICONS.get(report.verdict, '')} Deploy gate: {report.verdict}".replace("  ", " "),
        "",
        f"**Reason:** {md_cell(report.reason)}",
        "",
    ]
    if details.get("version"):
        lines += [
            f"Release `{details['version']}` in `{details.get('environment')}`; baseline "
            f"release: `{details.get('baseline_release') or 'none found'}`",
            "",
        ]
    if details.get("api_error"):
        lines += [f"Sentry could not be read: `{md_cell(details['api_error'])}`", ""]
    if report.new_issues:
        lines += [
            "| Issue | Level | Events | Users | First seen | Counted | Title |",
            "|---|---|---:|---:|---|---|---|",
        ]
        for i in report.new_issues:
            label = str(i.get("shortId") or i.get("id") or "?")
            link = f"[{label}]({i['permalink']})" if i.get("permalink") else label
            level = str(i.get("level") or "") + (" (unhandled)" if i.get("unhandled") else "")
            counted = "yes" if i.get("counted") else "no: " + md_cell(str(i.get("why") or ""))
            lines.append(
                f"| {link} | {level} | {i.get('events', '')} | {i.get('users', '')} "
                f"| {md_cell(str(i.get('firstSeen') or ''))} | {counted} "
                f"| {md_cell(str(i.get('title') or ''))} |"
            )
        lines.append("")
    else:
        lines += ["No new issues.", ""]
    rate = details.get("rate")
    if rate:
        policy = details.get("policy", {})
        lines += ["| | Errors | Exposure |", "|---|---:|---:|"]
        lines += [f"| {a} | {b} | {c} |" for a, b, c in _rate_rows(rate)]
        lines += [
            "",
            f"Rate ratio {_num(rate.get('ratio'))} (max {policy.get('max_ratio')}), "
            f"p-value {_num(rate.get('p_value'))} (alpha {policy.get('alpha')}): "
            f"**{rate.get('verdict')}** — {md_cell(rate.get('reason'))}",
            "",
        ]
    if details.get("health"):
        lines += ["| Health URL | Attempts | Healthy | Last |", "|---|---:|---|---|"]
        lines += [
            f"| {md_cell(p['url'])} | {p['attempts']} | {'yes' if p['healthy'] else 'no'} "
            f"| {md_cell(p['last'])} |"
            for p in details["health"]
        ]
        lines.append("")
    return "\n".join(lines)


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
