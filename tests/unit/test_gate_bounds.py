"""Bounds of the gate's durations: refused at once (exit 2) before any request, inside what
Sentry's sessions endpoint answers (sessions_v2.get_constrained_date_range)."""

from __future__ import annotations

import pytest

from sentry_release.config.gate import validate_policy
from sentry_release.config.settings import GatePolicy
from sentry_release.errors import ConfigError


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (GatePolicy(window=99999 * 86400.0), "--window"),
        (GatePolicy(window=100000000.0), "--window"),
        (GatePolicy(poll=0.0), "--poll"),
        (GatePolicy(poll=7200.0), "--poll"),
        (GatePolicy(timeout=0.0), "--gate-timeout"),
        (GatePolicy(timeout=30 * 86400.0), "--gate-timeout"),
        (GatePolicy(settle=86400.0, window=7200.0), "--settle"),
        (GatePolicy(settle_sessions=86400.0, window=7200.0), "--settle-sessions"),
        (GatePolicy(bucket=7.0), "--bucket"),
        (GatePolicy(health_timeout=0.0), "--health-timeout"),
        (GatePolicy(window=7200.0, bucket=1.0, settle=0, settle_sessions=0), "1000 points"),
        # 1,000 buckets of window span 1,001 when the deploy is inside a bucket
        (GatePolicy(window=1000.0, bucket=1.0, settle=0, settle_sessions=0), "1000 points"),
    ],
)
def test_out_of_range_durations_are_refused(policy: GatePolicy, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        validate_policy(policy, {})
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "policy",
    [
        GatePolicy(),
        GatePolicy(window=4.0, settle=1.0, settle_sessions=3.0, bucket=1.0, poll=0.3),
        GatePolicy(window=7200.0, timeout=6 * 3600.0, poll=600.0),
        GatePolicy(window=999.0, bucket=1.0, settle=0, settle_sessions=0),
    ],
)
def test_the_documented_ranges_are_accepted(policy: GatePolicy) -> None:
    validate_policy(policy, {})
