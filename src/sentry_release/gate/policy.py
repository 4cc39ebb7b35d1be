"""The deploy gate's decisions, as pure functions of what was observed and of `now`.

Rules (each can be made report-only with `--report-only`):
- `new-issues`: issues first seen in this release (in the environment) after the deploy began.
- `regressed-issues`: issues of this release that Sentry marks regressed (resolved, seen again).
- `escalating-issues`: archived issues of this release that Sentry marks escalating.
- `rate`: errored units per unit of traffic against the baseline, by the always-valid
  sequential test (`sequential.py`): FAIL when the lower confidence bound of the rate ratio
  exceeds `max_ratio`, PASS only when the upper bound is under it, else INCONCLUSIVE.
- `health`: the probes of `--health-url`.
- `release-name`: the environment has traffic since the deploy, but none carries this
  release name (the SDK reports another one).
An issue counts when it has `min_events` events and is unhandled, has no user context, or
reached `min_users` users. A counted fatal or unhandled issue fails at once (`fail_fast`),
during the grace period too; handled ones fail when the window closes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sentry_release.config.gate import ISSUE_RULES, RULES, validate_policy
from sentry_release.config.settings import GatePolicy
from sentry_release.gate.models import Issue, Outcomes, Suspect
from sentry_release.gate.sequential import (
    BUCKET_CAP,
    PASS_ALPHA,
    Bucket,
    SequentialResult,
    log_e_value,
    paired_dispersion,
    sequential_test,
)
from sentry_release.gate.stats import conditional_p_value, ratio_upper_bound

PASS = "PASS"
FAIL = "FAIL"
INCONCLUSIVE = "INCONCLUSIVE"
WATCHING = "WATCHING"  # only between polls: no verdict yet, keep observing
SEVERE_LEVELS = ("fatal",)
# --- issues ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssueRow:
    """One issue in the report: whether it counts, why, and its suspect commit."""

    issue: Issue
    counted: bool
    severe: bool
    why: str
    suspect: Suspect | None = None

    @property
    def rule(self) -> str:
        """The rule this issue belongs to."""
        return ISSUE_RULES[self.issue.kind]


def classify(issue: Issue, policy: GatePolicy) -> IssueRow:
    """Counted when it has the events, and is unhandled, has no user data, or enough users.

    Users count only where the SDK sends them: a handled error with 150 events and no user
    context is as real as one with users (one retry loop is caught by the rate rule's units).
    """
    events, users = issue.events, issue.users
    if events < policy.min_events:
        return IssueRow(
            issue, False, False, f"below the floor: {events} < {policy.min_events} events"
        )
    if not issue.unhandled and 0 < users < policy.min_users:
        return IssueRow(
            issue, False, False, f"below the floor: {users} < {policy.min_users} users and handled"
        )
    severe = issue.level in SEVERE_LEVELS or issue.unhandled
    detail = "unhandled" if issue.unhandled else (f"{users} users" if users else "no user data")
    return IssueRow(issue, True, severe, f"{events} events, {detail}")


def issue_rows(
    issues: Sequence[Issue], policy: GatePolicy, since: datetime
) -> tuple[IssueRow, ...]:
    """The report rows: new issues first seen at or after `since`, regressed and escalating
    issues seen since then; resolved and ignored ones never count."""
    rows = []
    seen: set[str] = set()
    for issue in issues:
        if issue.id in seen or issue.status != "unresolved":
            continue
        if issue.kind == "new" and issue.first_seen is not None and issue.first_seen < since:
            continue
        if issue.kind != "new" and issue.last_seen is not None and issue.last_seen < since:
            continue
        seen.add(issue.id)
        rows.append(classify(issue, policy))
    rows.sort(key=lambda r: (not r.counted, not r.severe, -r.issue.events, r.issue.short_id))
    return tuple(rows)


# --- the rate rule -------------------------------------------------------------------------


# The error level is spent in two parts (Bonferroni, so the whole stays under alpha): on
# watching (the e-process, valid at every poll) and on one planned look at the window's end
# (the exact conditional test on the totals; a single look needs no correction). The split
# is planned before the window from the baseline alone (so it stays valid): with traffic,
# nearly all on watching (a regression is caught minutes before the end); when the
# baseline's rate gives fewer than LOW_TRAFFIC_ERRORED errored units a window, the e-process
# can rarely decide before the end, and most goes to the end's exact look (bench/gate_sim.py,
# 20 sessions a minute, 5x: ~83% of windows FAIL with 0.2 on watching, ~78% with 0.8, when
# the window was shorter; docs/gate.md). With a --gate-timeout that leaves room to extend an
# INCONCLUSIVE window, the end's part is split between both ends (RateInput.end_looks).
WATCH_SHARE = 0.95
BURST_FACTOR, BURST_SLACK = 2.0, 3.0  # a minute this far ahead of the second busiest: a burst
LOW_TRAFFIC_WATCH_SHARE = 0.1
LOW_TRAFFIC_ERRORED = 20.0


@dataclass(frozen=True)
class RateInput:
    """What the rate rule compares: bucketed errored units and exposures of both sides."""

    unit: str | None  # sessions, transactions; None: Sentry has no traffic denominator
    mode: str  # concurrent (both serve now) or previous (the baseline served before)
    buckets: tuple[Bucket, ...]
    phi: float = 1.0  # prior dispersion (the baseline's own series) until the pairs tell
    baseline_release: str | None = None
    notes: tuple[str, ...] = ()
    project: str = ""  # the project's slug when each project is judged on its own
    watch_share: float = WATCH_SHARE  # of alpha, on watching (the rest on the end's look)
    end_looks: int = 1  # 2 when a --gate-timeout leaves room to extend: the rest split in two


@dataclass(frozen=True)
class RateResult:
    """The rate rule's verdict with its numbers."""

    verdict: str
    reason: str
    unit: str | None
    mode: str
    test: SequentialResult | None = None
    excess: float | None = None
    project: str = ""
    projects: tuple[RateResult, ...] = ()  # each project's own result, when several
    more_minutes: float | None = None  # INCONCLUSIVE: minutes at this traffic likely to decide


def rate_rule(
    inp: RateInput | None, policy: GatePolicy, final: bool, alpha: float | None = None
) -> RateResult:
    """FAIL on strong evidence (e-value >= 1/alpha) above the floors; PASS only when the
    upper confidence bound of the ratio is under `max_ratio` at the end; never on time."""
    result = _rate_rule(inp, policy, final, policy.alpha if alpha is None else alpha)
    if inp is not None and inp.project:
        result = replace(result, project=inp.project, reason=f"{inp.project}: {result.reason}")
    if inp is not None and inp.notes:  # e.g. why sessions were not used: said, not hidden
        result = replace(result, reason=f"{result.reason} (note: {'; '.join(inp.notes)})")
    return result


def project_rates(inputs: Sequence[RateInput], policy: GatePolicy, final: bool) -> RateResult:
    """Each project judged on its own, the error level split across them (Bonferroni:
    alpha/k each, so a release's false FAIL stays under alpha whichever project cries). FAIL
    names the failing project(s); PASS needs every project's; else the first unsure one."""
    if len(inputs) <= 1:
        return rate_rule(inputs[0] if inputs else None, policy, final)
    alpha = policy.alpha / len(inputs)
    results = tuple(rate_rule(inp, policy, final, alpha) for inp in inputs)
    failed = [r for r in results if r.verdict == FAIL]
    if failed:
        return replace(failed[0], reason="; ".join(r.reason for r in failed), projects=results)
    if all(r.verdict == PASS for r in results):
        return replace(results[0], reason="; ".join(r.reason for r in results), projects=results)
    unsure = [r for r in results if r.verdict != PASS]
    return replace(unsure[0], reason="; ".join(r.reason for r in unsure), projects=results)


def _rate_rule(inp: RateInput | None, policy: GatePolicy, final: bool, alpha: float) -> RateResult:
    pending = WATCHING if not final else INCONCLUSIVE
    if inp is None or inp.baseline_release is None:
        return RateResult(pending, "no baseline release to compare with", None, "none")
    if inp.unit is None:
        return RateResult(
            pending,
            "no traffic denominator: the project sends no sessions or transactions, so "
            "errors cannot be normalised (the rate is never judged on time alone)",
            None,
            inp.mode,
        )
    phi = paired_dispersion(inp.buckets, inp.phi)
    # the lower confidence bound is a search: computed for what is shown (the end, a FAIL)
    pass_alpha = end_pass_alpha(inp.end_looks)
    test = sequential_test(
        inp.buckets,
        max_ratio=policy.max_ratio,
        alpha=alpha,
        phi=phi,
        bounds=final,
        pass_alpha=pass_alpha,
    )
    watch_fail = test.e_value >= 1.0 / (alpha * inp.watch_share)
    if watch_fail and not final:
        test = sequential_test(
            inp.buckets, max_ratio=policy.max_ratio, alpha=alpha, phi=phi, pass_alpha=pass_alpha
        )
    result = RateResult(pending, "", inp.unit, inp.mode, test)
    if test.buckets == 0:
        traffic = test.new_exposure > 0 and test.base_exposure > 0
        if final and traffic:
            return replace(
                result,
                verdict=PASS,
                reason=f"no errored {inp.unit} on either side ({test.new_exposure:g} vs "
                f"{test.base_exposure:g} {inp.unit})",
            )
        return replace(result, reason=f"no errored {inp.unit} on either side yet")
    excess = test.new - policy.max_ratio * test.base * test.new_exposure / max(
        test.base_exposure, 1e-9
    )
    result = replace(result, excess=excess)
    shown = f"{test.ratio:.2f}" if test.ratio is not None else "n/a"
    bounds = f"ratio {shown}, bounds {test.lower:.2f}-{_num(test.upper)}"
    if not (final or watch_fail):
        bounds = f"ratio {shown}, upper bound {_num(test.upper)}"
    counts = (
        f"{test.new:g} errored {inp.unit} in {test.new_exposure:g} vs {test.base:g} in "
        f"{test.base_exposure:g}"
    )
    floors = test.new >= policy.min_errors and excess >= policy.min_excess
    if watch_fail and floors:
        return replace(
            result,
            verdict=FAIL,
            reason=f"error rate regressed: {counts} ({bounds} > {policy.max_ratio:g})",
        )
    last_look = final_p_value(inp.buckets, policy.max_ratio, phi) if final else 1.0
    if last_look < end_alpha(alpha, inp.watch_share, inp.end_looks) and floors:
        return replace(
            result,
            verdict=FAIL,
            reason=f"error rate regressed: {counts} (ratio {shown}; one-look exact p = "
            f"{last_look:.2g} at the window's end > {policy.max_ratio:g})",
        )
    if final and test.upper < policy.max_ratio:
        return replace(
            result, verdict=PASS, reason=f"error rate within bounds: {counts} ({bounds})"
        )
    why = f"the upper bound {_num(test.upper)} is not under {policy.max_ratio:g}"
    reason = f"cannot tell{'' if final else ' yet'}: {counts} ({bounds}); {why}"
    more = (
        more_minutes(inp.buckets, policy, alpha, phi, inp.watch_share, inp.end_looks)
        if final
        else None
    )
    if more is not None:
        reason += f"; about {more:.0f} more minute(s) of traffic at this rate would decide"
    elif final:
        reason += "; more traffic at this rate would not decide (the ratio sits at the limit)"
    return replace(result, reason=reason, more_minutes=more)


def end_alpha(alpha: float, share: float, looks: int = 1) -> float:
    """The error level of one planned look at a window's end: what watching leaves, split
    over the looks planned before the window (the end and, with room, the extended end)."""
    return alpha * (1.0 - share) / max(looks, 1)


def end_pass_alpha(looks: int = 1) -> float:
    """The false-PASS level of the upper bound at one end: PASS is one look at the window's
    end, or one at each end an extension was planned for."""
    return PASS_ALPHA / max(looks, 1)


def watch_share(expected_errored: float) -> float:
    """The share of alpha spent on watching, given the errored units a window is expected to
    hold at the baseline's rate."""
    return WATCH_SHARE if expected_errored >= LOW_TRAFFIC_ERRORED else LOW_TRAFFIC_WATCH_SHARE


def final_p_value(buckets: Sequence[Bucket], max_ratio: float, phi: float) -> float:
    """The one-look exact conditional p-value of ratio <= max ratio on the totals, the counts
    divided by the dispersion (quasi-likelihood) and rounded. A burst is cut (from 3 buckets
    on): the bucket with the most new errored units, when it holds more than twice the second
    most plus 3, counts only as many as the second (one user's crash loop cannot make the
    look at the end fail a release; the busiest of ten Poisson minutes is never that far
    ahead). Lowering a new-side count only shrinks the rejection region (the p-value falls as
    the new count rises), so this stays conservative. Cutting every window's busiest minute,
    or leaving it out as before, cost a 5x regression at 20 sessions a minute ~5 points of
    power (bench/gate_sim.py worlds: 86% -> 91% at the end's look alone)."""
    usable = [b for b in buckets if b.new_exposure > 0 and b.base_exposure > 0]
    if len(usable) >= 3:
        top = max(range(len(usable)), key=lambda i: usable[i].new)
        second = max(b.new for i, b in enumerate(usable) if i != top)
        if usable[top].new > BURST_FACTOR * second + BURST_SLACK:
            usable[top] = replace(usable[top], new=second)
    if not usable:
        return 1.0
    return conditional_p_value(
        round(sum(b.new for b in usable) / phi),
        round(sum(b.base for b in usable) / phi),
        sum(b.new_exposure for b in usable),
        sum(b.base_exposure for b in usable),
        max_ratio,
    )


MAX_MORE = 24 * 60.0  # minutes: beyond a day of traffic, "more traffic would not decide"


def more_minutes(
    buckets: Sequence[Bucket],
    policy: GatePolicy,
    alpha: float,
    phi: float,
    share: float = WATCH_SHARE,
    end_looks: int = 1,
) -> float | None:
    """How many more minutes of traffic like the window's would decide: the counts and
    exposures scaled by f (the same rates, f times the time) until the FAIL evidence or the
    PASS bound is reached; None when no scale up to a day does (the ratio at the limit)."""
    usable = [b for b in buckets if b.new_exposure > 0 and b.base_exposure > 0]
    if not usable:
        return None
    minutes = len(usable) * policy.bucket / 60.0

    new, base = sum(b.new for b in usable), sum(b.base for b in usable)
    e_new = sum(b.new_exposure for b in usable)
    e_base = sum(b.base_exposure for b in usable)

    def decides(f: float) -> bool:
        scaled = [
            Bucket(b.new * f, b.new_exposure * f, b.base * f, b.base_exposure * f) for b in usable
        ]
        log_e = log_e_value(scaled, policy.max_ratio, side="greater", phi=phi, cap=BUCKET_CAP)
        if log_e >= math.log(1.0 / (alpha * share)):
            return True
        if final_p_value(scaled, policy.max_ratio, phi) < end_alpha(alpha, share, end_looks):
            return True
        x, y = round(new * f / phi), round(base * f / phi)
        return ratio_upper_bound(x, y, e_new, e_base, end_pass_alpha(end_looks)) < policy.max_ratio

    high = 1.0 + MAX_MORE / max(minutes, 1e-9)
    if not decides(high):
        return None
    low = 1.0
    for _ in range(12):
        mid = (low + high) / 2
        if decides(mid):
            high = mid
        else:
            low = mid
    return max(1.0, (high - 1.0) * minutes)


def _num(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.2f}"


# --- health probes -------------------------------------------------------------------------


@dataclass(frozen=True)
class ProbeStatus:
    """One health URL's record so far."""

    url: str
    attempts: int = 0
    successes: int = 0  # current streak
    failures: int = 0  # current streak
    healthy: bool = False  # reached the required streak of successes at some point
    last: str = "not probed"

    def record(self, ok: bool, detail: str, needed: int) -> ProbeStatus:
        """The status after one more probe."""
        successes = self.successes + 1 if ok else 0
        return replace(
            self,
            attempts=self.attempts + 1,
            successes=successes,
            failures=0 if ok else self.failures + 1,
            healthy=self.healthy or successes >= needed,
            last=detail,
        )


def health_verdict(
    probes: Sequence[ProbeStatus], needed: int, final: bool, *, extra: int = 0
) -> tuple[str, str]:
    """FAIL on `needed` failures in a row. At the end every URL must have been healthy; one
    that has not had its `needed` samples yet is still WATCHING (probing goes on after the
    window, up to `extra` more attempts), so a gate run late still decides on samples."""
    for probe in probes:
        if probe.failures >= needed:
            return (
                FAIL,
                f"health check failed: {probe.url} ({probe.last}, {probe.failures} in a row)",
            )
    if not probes:
        return PASS, "no health URL"
    if not final:
        return WATCHING, "probing"
    for probe in probes:
        if not probe.healthy:
            if probe.attempts < needed + extra:
                return WATCHING, "probing until enough samples"
            return (
                FAIL,
                f"health check never passed {needed} times in a row: {probe.url} ({probe.last})",
            )
    return PASS, "health checks passed"


# --- the verdict ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Observations:
    """What the gate has seen so far; `watch.py` fills it from Sentry and the probes."""

    version: str
    environment: str
    deploy_start: datetime
    window_start: datetime
    window_end: datetime
    final: bool
    issues: tuple[Issue, ...] = ()
    rate: RateInput | None = None
    rates: tuple[RateInput, ...] = ()  # one per project, judged each on its own (else `rate`)
    probes: tuple[ProbeStatus, ...] = ()
    probe_extra: int = 0
    other_releases: tuple[str, ...] = ()  # names seen in the environment while this was silent
    same_commit: str | None = None  # release_match.hint: one of them is this commit, and the fix
    new_traffic: bool = True  # this release had events or sessions since the deploy
    outcomes: Outcomes | None = None
    suspects: Mapping[str, Suspect] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleResult:
    """One rule's verdict; report-only rules are shown but never decide."""

    name: str
    verdict: str
    reason: str
    report_only: bool = False


@dataclass(frozen=True)
class GateReport:
    """The verdict and everything that led to it (rendered by `render.py`)."""

    verdict: str
    reason: str
    version: str = ""
    environment: str = ""
    rules: tuple[RuleResult, ...] = ()
    issues: tuple[IssueRow, ...] = ()
    rate: RateResult | None = None
    probes: tuple[ProbeStatus, ...] = ()
    outcomes: Outcomes | None = None
    observed_verdict: str | None = None  # before on_inconclusive / on_api_error mapped it
    api_error: str | None = None
    context: Mapping[str, Any] = field(default_factory=dict)  # plan, links, chart series

    @property
    def new_issues(self) -> tuple[IssueRow, ...]:
        """The issues that counted (the action's `new_issues` output is their number)."""
        return tuple(r for r in self.issues if r.counted)

    @property
    def rollback_hint(self) -> str:
        """The release to roll back to: the baseline (the release that served before)."""
        return str(self.context.get("baseline_release") or "")


def _issue_rule(kind: str, rows: Sequence[IssueRow], policy: GatePolicy, final: bool) -> RuleResult:
    name = ISSUE_RULES[kind]
    mine = [r for r in rows if r.issue.kind == kind]
    counted = [r for r in mine if r.counted]
    allowed = policy.max_new_issues if kind == "new" else 0
    label = {"new": "new", "regressed": "regressed", "escalating": "escalating"}[kind]
    if len(counted) > allowed and (final or (policy.fail_fast and any(r.severe for r in counted))):
        names = ", ".join(f"{r.issue.short_id} {r.issue.title}" for r in counted[:5])
        return RuleResult(
            name, FAIL, f"{len(counted)} {label} issue(s) above the floors (max {allowed}): {names}"
        )
    if not final:
        return RuleResult(name, WATCHING, f"{len(counted)} {label} issue(s) so far")
    below = len(mine) - len(counted)
    extra = f" ({below} below the floors)" if below else ""
    return RuleResult(name, PASS, f"no {label} issues above the floors{extra}")


def evaluate(obs: Observations, policy: GatePolicy) -> GateReport:
    """The verdict now: FAIL as soon as a deciding rule fails; PASS only at the end when
    every deciding rule passed; INCONCLUSIVE when one could not tell; else WATCHING."""
    final = obs.final
    rows = issue_rows(obs.issues, policy, obs.deploy_start)
    rows = tuple(replace(r, suspect=obs.suspects.get(r.issue.id)) for r in rows)
    rules = [_issue_rule(kind, rows, policy, final) for kind in ISSUE_RULES]
    rate = project_rates(obs.rates or ((obs.rate,) if obs.rate else ()), policy, final)
    rules.append(RuleResult("rate", rate.verdict, rate.reason))
    health, health_reason = health_verdict(
        obs.probes, policy.health_successes, final, extra=obs.probe_extra
    )
    rules.append(RuleResult("health", health, health_reason))
    if final and not obs.new_traffic and obs.other_releases:
        names = ", ".join(obs.other_releases[:5])
        rules.append(
            RuleResult(
                "release-name",
                INCONCLUSIVE,
                f"no event or session of {obs.version} reached {obs.environment} since the "
                f"deploy, but these releases did: {names}; the SDK reports another release "
                f"name: set the SDK's release to {obs.version!r}, or give the gate the name "
                "the SDK sends (--release / the release input)"
                + (f"; {obs.same_commit}" if obs.same_commit else ""),
            )
        )
    else:
        rules.append(RuleResult("release-name", PASS if final else WATCHING, "release name seen"))
    rules = [replace(r, report_only=r.name in policy.report_only) for r in rules]
    deciding = [r for r in rules if not r.report_only]
    failed = [r for r in deciding if r.verdict == FAIL]
    if failed:
        verdict, reason = FAIL, "; ".join(r.reason for r in failed)
    elif any(r.verdict == WATCHING for r in deciding):
        verdict, reason = WATCHING, "watching"
    elif unsure := [r for r in deciding if r.verdict == INCONCLUSIVE]:
        verdict, reason = INCONCLUSIVE, "; ".join(r.reason for r in unsure)
    else:
        verdict = PASS
        reason = "; ".join(r.reason for r in deciding if r.name != "release-name")
    if obs.outcomes is not None and obs.outcomes.dropped and verdict != WATCHING:
        reason += (
            f"; Sentry dropped {obs.outcomes.dropped} error event(s) in the window "
            f"({obs.outcomes.rate_limited} rate-limited): the gate could not see them"
        )
    return GateReport(
        verdict=verdict,
        reason=reason,
        version=obs.version,
        environment=obs.environment,
        rules=tuple(rules),
        issues=rows,
        rate=rate,
        probes=obs.probes,
        outcomes=obs.outcomes,
    )


def apply_policy(report: GateReport, policy: GatePolicy) -> tuple[GateReport, str | None]:
    """Map INCONCLUSIVE through `on_inconclusive`; returns the report and a warning, if any."""
    if report.verdict != INCONCLUSIVE:
        return report, None
    if policy.on_inconclusive == "fail":
        reason = f"inconclusive ({report.reason}) and --on-inconclusive is fail"
        return replace(report, verdict=FAIL, reason=reason, observed_verdict=INCONCLUSIVE), None
    warning = f"deploy gate inconclusive: {report.reason}; passing (--on-inconclusive pass)"
    return replace(report, observed_verdict=INCONCLUSIVE), warning


def api_error_report(
    error: str, policy: GatePolicy, context: Mapping[str, Any] | None = None
) -> tuple[GateReport, str | None]:
    """The verdict when Sentry could not be read, per `on_api_error` (default: fail)."""
    info = dict(context or {})
    if policy.on_api_error == "pass":
        reason = f"Sentry could not be read ({error}); passing because --on-api-error is pass"
        report = GateReport(
            PASS, reason, observed_verdict="API_ERROR", api_error=error, context=info
        )
        return report, f"deploy gate could not see: {reason}"
    reason = f"Sentry could not be read ({error}) and --on-api-error is fail"
    return GateReport(
        FAIL, reason, observed_verdict="API_ERROR", api_error=error, context=info
    ), None


__all__ = ["ISSUE_RULES", "RULES", "validate_policy"]  # rule names live in config.gate
