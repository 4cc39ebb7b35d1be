"""The gate's observation loop: wait out the grace period, poll Sentry, decide."""

from __future__ import annotations

from sentry_release.deploy import DeployResult
from sentry_release.gate import GateReport
from sentry_release.output import Output
from sentry_release.sentry.client import SentryClient
from sentry_release.settings import Settings


def run_gate(
    settings: Settings,
    client: SentryClient,
    version: str,
    deploy: DeployResult | None,
    out: Output,
) -> GateReport:
    """Watch the release after its deploy and return the verdict (raises nothing on FAIL)."""
    raise NotImplementedError("the gate is built by issue 5")
