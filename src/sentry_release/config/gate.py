"""The deploy gate's rule names and the checks of a gate policy that need no Sentry: refused
before any request (exit 2), so they live with the settings they check."""

from __future__ import annotations

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


def validate_policy(policy: GatePolicy, explicit: Mapping[str, Any]) -> None:
    """Refuse contradictory or impossible gate settings (exit 2 before any request).

    `explicit` holds the values the user gave (None for defaults), to tell a contradiction
    from a default.
    """
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
