"""Step 6: the deploy gate. Pure decisions (`evaluate`, the rate test) live here;
`watch.py` polls Sentry and feeds them.

Two rules and the health probes decide:
- Rule A (new issues): issues first seen in this release after the deploy, counted when they
  pass the floors (events, and users or unhandled); more than `max_new_issues` fails.
- Rule B (error-rate regression): an exact conditional binomial test. Given n = new + base
  errors over exposures E_new and E_base, under H0 (rate_new <= r0 * rate_base) the new count
  is at most Binomial(n, p0) with p0 = r0*E_new / (r0*E_new + E_base); p = P(X >= new).
  Failing needs p < alpha AND new >= min_errors AND an excess over r0 times the baseline of
  at least min_excess events, so low traffic never cries wolf.
Everything here is a function of its inputs (including `now`), so it is tested exhaustively.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from sentry_release.config.settings import GatePolicy
from sentry_release.dates import parse_rfc3339

PASS = "PASS"
FAIL = "FAIL"
INCONCLUSIVE = "INCONCLUSIVE"
WATCHING = "WATCHING"  # only between polls: no verdict yet, keep observing
FAIL_LEVELS = ("fatal",)


@dataclass(frozen=True)
class GateReport:
    """The verdict and everything that led to it."""

    verdict: str
    reason: str
    new_issues: tuple[dict[str, Any], ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the `--json` output and the action's outputs)."""
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "new_issues": [dict(i) for i in self.new_issues],
            **self.details,
        }


# --- Rule B: the exact conditional binomial test -------------------------------------------


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed exactly term by term in log space.

    Terms are summed away from the mode, where they only shrink, and the sum stops once they
    no longer change it; above-the-mode tails are summed directly (no cancellation), others
    as 1 - P(X <= k-1).
    """
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)

    def log_pmf(i: int) -> float:
        return (
            math.lgamma(n + 1)
            - math.lgamma(i + 1)
            - math.lgamma(n - i + 1)
            + i * log_p
            + (n - i) * log_q
        )

    odds = p / (1.0 - p)
    mode = math.floor((n + 1) * p)
    if k > mode:
        term = math.exp(log_pmf(k))
        total = 0.0
        i = k
        while i <= n and term > 0.0:
            total += term
            if term < total * 1e-17:
                break
            term *= (n - i) / (i + 1) * odds
            i += 1
        return min(1.0, total)
    # lower tail P(X <= k-1), summed downward from k-1 (below the mode terms shrink downward)
    term = math.exp(log_pmf(k - 1))
    total = 0.0
    i = k - 1
    while i >= 0 and term > 0.0:
        total += term
        if term < total * 1e-17:
            break
        term *= i / (n - i + 1) / odds
        i -= 1
    return max(0.0, 1.0 - total)


@dataclass(frozen=True)
class RateResult:
    """Rule B's numbers and its verdict (PASS, FAIL or INCONCLUSIVE)."""

    verdict: str
    reason: str
    new_errors: int
    base_errors: int
    new_exposure: float
    base_exposure: float
    exposure_unit: str
    p0: float | None = None
    p_value: float | None = None
    expected: float | None = None  # r0 * base * E_new / E_base: the most H0 allows on average
    excess: float | None = None
    ratio: float | None = None  # observed rate ratio (None when the baseline rate is 0)


def rate_test(
    new: int,
    base: int,
    new_exposure: float,
    base_exposure: float,
    *,
    max_ratio: float,
    alpha: float,
    min_errors: int,
    min_excess: float,
    unit: str = "seconds",
) -> RateResult:
    """Test H0 rate_new <= max_ratio * rate_base; INCONCLUSIVE when the data cannot tell.

    The data can tell when the most extreme outcome (all n errors in the new window) would
    fail; otherwise no count could ever have failed, so a "pass" would mean nothing.
    """
    base_result = RateResult(INCONCLUSIVE, "", new, base, new_exposure, base_exposure, unit)
    if base_exposure <= 0:
        return replace(base_result, reason="no baseline to compare with")
    if new_exposure <= 0:
        what = "no sessions" if unit == "sessions" else "no observation time"
        return replace(base_result, reason=f"{what} for the new release yet")
    n = new + base
    p0 = max_ratio * new_exposure / (max_ratio * new_exposure + base_exposure)
    expected = max_ratio * base * new_exposure / base_exposure
    excess = new - expected
    p_value = binomial_sf(new, n, p0)
    ratio = (new / new_exposure) / (base / base_exposure) if base else None
    result = replace(
        base_result, p0=p0, p_value=p_value, expected=expected, excess=excess, ratio=ratio
    )
    shown = _ratio_text(ratio)
    if p_value < alpha and new >= min_errors and excess >= min_excess:
        return replace(
            result,
            verdict=FAIL,
            reason=f"error rate regressed: {new} errors vs {base} in the baseline "
            f"(ratio {shown} > {max_ratio:g}, p = {p_value:.3g} < {alpha:g})",
        )
    extreme = binomial_sf(n, n, p0) if n else 1.0
    if n == 0 or extreme >= alpha or n < min_errors or n < min_excess:
        return replace(
            result, reason=f"too few errors to test the rate ({new} new, {base} baseline)"
        )
    return replace(
        result,
        verdict=PASS,
        reason=f"error rate within bounds: {new} errors vs {base} in the baseline "
        f"(ratio {shown}, p = {p_value:.3g})",
    )


def _ratio_text(ratio: float | None) -> str:
    return "n/a (no baseline errors)" if ratio is None else f"{ratio:.2f}"


# --- Rule A: new issues --------------------------------------------------------------------


def parse_when(value: Any) -> datetime | None:
    """Sentry's dates (RFC 3339 with Z and any fraction) as aware datetimes."""
    if not value or not isinstance(value, str):
        return None
    try:
        return parse_rfc3339(value)
    except ValueError:
        return None


def classify_issue(issue: Mapping[str, Any], policy: GatePolicy) -> dict[str, Any]:
    """The report row of one new issue, with whether it counts and why."""
    try:
        events = int(issue.get("count") or 0)
    except (TypeError, ValueError):
        events = 0
    users = int(issue.get("userCount") or 0)
    unhandled = bool(issue.get("isUnhandled"))
    level = str(issue.get("level") or "error")
    counted = events >= policy.min_events and (users >= policy.min_users or unhandled)
    if counted:
        why = f"{events} events, " + (
            f"{users} users" if users >= policy.min_users else "unhandled"
        )
    elif events < policy.min_events:
        why = f"below the floor: {events} < {policy.min_events} events"
    else:
        why = f"below the floor: {users} < {policy.min_users} users and handled"
    return {
        "id": str(issue.get("id", "")),
        "shortId": str(issue.get("shortId") or issue.get("id") or ""),
        "title": str(issue.get("title") or ""),
        "level": level,
        "events": events,
        "users": users,
        "unhandled": unhandled,
        "status": str(issue.get("status") or "unresolved"),
        "firstSeen": issue.get("firstSeen"),
        "permalink": issue.get("permalink"),
        "counted": counted,
        "why": why,
    }


def new_issue_rows(
    issues: Iterable[Mapping[str, Any]], policy: GatePolicy, since: datetime
) -> list[dict[str, Any]]:
    """Issues first seen at or after `since` (the deploy), unresolved, classified."""
    rows = []
    for issue in issues:
        first = parse_when(issue.get("firstSeen"))
        if first is not None and first < since:
            continue
        if str(issue.get("status") or "unresolved") != "unresolved":
            continue
        rows.append(classify_issue(issue, policy))
    rows.sort(key=lambda r: (not r["counted"], -r["events"], r["shortId"]))
    return rows


# --- health probes (results come from watch/health; the decision is here) ------------------


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


def health_verdict(probes: Sequence[ProbeStatus], needed: int, final: bool) -> tuple[str, str]:
    """FAIL on `needed` failures in a row; at the end, every URL must have been healthy."""
    for probe in probes:
        if probe.failures >= needed:
            return (
                FAIL,
                f"health check failed: {probe.url} ({probe.last}, {probe.failures} in a row)",
            )
    if final:
        for probe in probes:
            if not probe.healthy:
                return FAIL, (
                    f"health check never passed {needed} times in a row: {probe.url} ({probe.last})"
                )
    return (PASS, "health checks passed") if final or not probes else (WATCHING, "")


# --- the verdict ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Observations:
    """What the gate has seen so far; `watch.py` fills it from Sentry and the probes."""

    version: str
    environment: str
    deploy_start: datetime
    window_start: datetime
    window_end: datetime
    issues: tuple[Mapping[str, Any], ...] = ()
    new_errors: int = 0
    base_errors: int = 0
    new_exposure: float = 0.0
    base_exposure: float = 0.0
    exposure_unit: str = "seconds"
    baseline_release: str | None = None
    probes: tuple[ProbeStatus, ...] = ()
    context: Mapping[str, Any] = field(default_factory=dict)


def evaluate(observations: Observations, policy: GatePolicy, now: datetime) -> GateReport:
    """The verdict now: early FAIL on a clear breach, PASS only after window + settle.

    Returns WATCHING while the window is open and nothing failed yet.
    """
    obs = observations
    final = now.timestamp() >= obs.window_end.timestamp() + policy.settle
    rows = new_issue_rows(obs.issues, policy, obs.deploy_start)
    counted = [r for r in rows if r["counted"]]
    severe = [r for r in counted if r["level"] in FAIL_LEVELS or r["unhandled"]]
    rate = rate_test(
        obs.new_errors,
        obs.base_errors,
        obs.new_exposure,
        obs.base_exposure,
        max_ratio=policy.max_ratio,
        alpha=policy.alpha,
        min_errors=policy.min_errors,
        min_excess=policy.min_excess,
        unit=obs.exposure_unit,
    )
    health, health_reason = health_verdict(obs.probes, policy.health_successes, final)

    failures: list[str] = []
    if len(counted) > policy.max_new_issues and (final or (policy.fail_fast and severe)):
        names = ", ".join(f"{r['shortId']} {r['title']}" for r in counted[:5])
        failures.append(
            f"{len(counted)} new issue(s) above the floors (max {policy.max_new_issues}): {names}"
        )
    if rate.verdict == FAIL:
        failures.append(rate.reason)
    if health == FAIL:
        failures.append(health_reason)

    if failures:
        verdict, reason = FAIL, "; ".join(failures)
    elif not final:
        verdict, reason = WATCHING, "watching"
    elif rate.verdict == INCONCLUSIVE:
        verdict = INCONCLUSIVE
        reason = f"no new issues above the floors, but {rate.reason}"
    else:
        verdict = PASS
        ignored = len(rows) - len(counted)
        below = f" ({ignored} below the floors)" if ignored else ""
        reason = f"no new issues above the floors{below}; {rate.reason}"
    details = {
        "version": obs.version,
        "environment": obs.environment,
        "final": final,
        "window": {
            "deploy": _iso(obs.deploy_start),
            "start": _iso(obs.window_start),
            "end": _iso(obs.window_end),
            "settle": policy.settle,
        },
        "baseline_release": obs.baseline_release,
        "rate": asdict(rate),
        "health": [asdict(p) for p in obs.probes],
        "policy": {
            "min_events": policy.min_events,
            "min_users": policy.min_users,
            "max_new_issues": policy.max_new_issues,
            "max_ratio": policy.max_ratio,
            "alpha": policy.alpha,
            "min_errors": policy.min_errors,
            "min_excess": policy.min_excess,
        },
        **dict(obs.context),
    }
    return GateReport(verdict, reason, tuple(rows), details)


def apply_policy(report: GateReport, policy: GatePolicy) -> tuple[GateReport, str | None]:
    """Map INCONCLUSIVE through `on_inconclusive`; returns the report and a warning, if any."""
    if report.verdict != INCONCLUSIVE:
        return report, None
    details = {**report.details, "observed_verdict": INCONCLUSIVE}
    if policy.on_inconclusive == "fail":
        reason = f"inconclusive ({report.reason}) and --on-inconclusive is fail"
        return replace(report, verdict=FAIL, reason=reason, details=details), None
    warning = f"deploy gate inconclusive: {report.reason}; passing (--on-inconclusive pass)"
    return replace(report, details=details), warning


def api_error_report(
    error: str, policy: GatePolicy, details: Mapping[str, Any] | None = None
) -> tuple[GateReport, str | None]:
    """The verdict when Sentry could not be read, per `on_api_error` (default: fail)."""
    info = {**(details or {}), "api_error": error, "observed_verdict": "API_ERROR"}
    if policy.on_api_error == "pass":
        reason = f"Sentry could not be read ({error}); passing because --on-api-error is pass"
        return GateReport(PASS, reason, (), info), f"deploy gate could not see: {reason}"
    reason = f"Sentry could not be read ({error}) and --on-api-error is fail"
    return GateReport(FAIL, reason, (), info), None


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
