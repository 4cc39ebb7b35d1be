"""The deploy gate's rule names and the checks of a gate policy that need no Sentry: refused
before any request (exit 2), so they live with the settings they check."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sentry_release.errors import ConfigError

if TYPE_CHECKING:
    from sentry_release.config.settings import GatePolicy

ISSUE_RULES = {
    "new": "new-issues",
    "regressed": "regressed-issues",
    "escalating": "escalating-issues",
}
RULES = (*ISSUE_RULES.values(), "rate", "health", "release-name")

# Bounds of the gate's durations, refused at once (exit 2). Sentry's sessions endpoint
# (`src/sentry/snuba/sessions_v2.py` `get_constrained_date_range`) allows one-minute intervals
# over at most 6 hours (the range plus one second, rounded up to whole hours) and 1,000
# points: the baseline (3 windows, capped at MAX_SPAN) and an extended window stay inside.
MAX_WINDOW = 2 * 3600.0
MAX_SPAN = 5 * 3600.0  # longest range one sessions read covers (under 6 h after rounding)
MAX_SETTLE = 1800.0
MIN_POLL = 0.1
MAX_POLL = 600.0
MAX_TIMEOUT = 6 * 3600.0
MAX_BUCKET = 3600.0
MAX_POINTS = 1000  # sessions_v2.MAX_POINTS
DAY = 86400.0


def check_bounds(policy: GatePolicy) -> None:
    """Durations inside what the gate can watch and Sentry can answer (exit 2 at once)."""

    def refuse(flag: str, value: float, rule: str) -> None:
        raise ConfigError(f"{flag} {value:g}s is out of range: {rule}")

    if not 0 < policy.window <= MAX_WINDOW:
        refuse("--window", policy.window, f"give more than 0 and at most {MAX_WINDOW:g}s (2h)")
    if not MIN_POLL <= policy.poll <= MAX_POLL:
        refuse("--poll", policy.poll, f"give {MIN_POLL:g}s to {MAX_POLL:g}s")
    for flag, value in (("--settle", policy.settle), ("--settle-sessions", policy.settle_sessions)):
        if value > MAX_SETTLE:
            refuse(flag, value, f"give at most {MAX_SETTLE:g}s (30m)")
    if policy.grace > MAX_WINDOW:
        refuse("--grace", policy.grace, f"give at most {MAX_WINDOW:g}s (2h)")
    if policy.timeout is not None and not 0 < policy.timeout <= MAX_TIMEOUT:
        refuse("--gate-timeout", policy.timeout, f"give more than 0 and at most {MAX_TIMEOUT:g}s")
    if not 0 < policy.bucket <= MAX_BUCKET or DAY % policy.bucket:
        refuse(
            "--bucket",
            policy.bucket,
            "give at most 1h, dividing a day (Sentry's intervals divide a day: 1m, 5m, 1h)",
        )
    if policy.health_timeout <= 0 or policy.health_timeout > MAX_POLL:
        refuse(
            "--health-timeout", policy.health_timeout, f"give more than 0 and at most {MAX_POLL:g}s"
        )
    if window_buckets(policy.window, policy.bucket) > MAX_POINTS:
        raise ConfigError(
            f"--window {policy.window:g}s in --bucket {policy.bucket:g}s buckets is more than "
            f"Sentry's {MAX_POINTS} points a query: raise --bucket or shorten --window"
        )


def window_buckets(window: float, bucket: float) -> int:
    """The buckets a window's read may span: the window starts on the deploy's bucket (its
    partial first one) and ends on the first boundary at least `window` after the deploy."""
    return math.ceil(window / bucket) + 1


def validate_policy(policy: GatePolicy, explicit: Mapping[str, Any]) -> None:
    """Refuse contradictory or impossible gate settings (exit 2 before any request).

    `explicit` holds the values the user gave (None for defaults), to tell a contradiction
    from a default.
    """
    check_bounds(policy)
    unknown = [r for r in policy.report_only if r not in RULES]
    if unknown:
        raise ConfigError(
            f"unknown rule {unknown[0]!r} in report_only: use any of {', '.join(RULES)}"
        )
    longest = max(policy.settle, policy.settle_sessions)
    if policy.window < longest:
        raise ConfigError(
            f"the gate window ({policy.window:g}s) is shorter than the settle period "
            f"({longest:g}s): lengthen --window or shorten --settle / --settle-sessions"
        )
    if policy.bucket <= 0 or policy.bucket > policy.window:
        raise ConfigError(
            f"the bucket ({policy.bucket:g}s) must be positive and no longer than the window"
        )
    if explicit.get("fail_fast") and "new-issues" in policy.report_only:
        raise ConfigError("--fail-fast contradicts --report-only new-issues: drop one of them")
    if not policy.health_urls and (explicit.get("health_status") or explicit.get("health_body")):
        raise ConfigError("health_status/health_body given without health_url: add --health-url")
    if "health" in policy.report_only and not policy.health_urls:
        raise ConfigError("--report-only health without any --health-url: add one or drop it")
    if set(RULES) <= set(policy.report_only) and policy.on_inconclusive == "fail":
        raise ConfigError(
            "every rule is report-only, so --on-inconclusive fail can never apply: drop one"
        )
