"""Sentry's `Date` against the runner's clock: agreeing clocks, a skew the gate waits
through (a moment passes when both clocks say so), and an absurd skew refused (exit 2)."""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import format_datetime

import pytest
import responses

from sentry_release.errors import ConfigError
from sentry_release.gate.reads import Reads
from sentry_release.sentry.api import SentryApi

BASE = "https://sentry.example.com/"
API = BASE + "api/0/organizations/acme"
LOCAL = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc).timestamp()


def bound(server_offset: float | None) -> Reads:
    headers = {}
    if server_offset is not None:
        moment = datetime.fromtimestamp(LOCAL + server_offset, tz=timezone.utc)
        headers["Date"] = format_datetime(moment, usegmt=True)
    responses.get(
        f"{API}/releases/1.1/",
        json={"version": "1.1", "projects": [{"id": 11, "slug": "web"}]},
        headers=headers,
    )
    reads = Reads(SentryApi(BASE, "tok"), "acme", "production", clock=lambda: LOCAL)
    reads.bind_projects("1.1", ())
    return reads


@responses.activate
@pytest.mark.parametrize(
    ("offset", "now", "noted"),
    [
        (None, 0.0, False),  # no Date: our clock
        (1.0, 0.0, False),  # whole seconds: not a skew
        (120.0, 0.0, True),  # Sentry ahead: our clock is the later one
        (-120.0, -120.0, True),  # Sentry behind: its clock is the later one
    ],
)
def test_a_moment_passes_when_both_clocks_say_so(
    offset: float | None, now: float, noted: bool
) -> None:
    reads = bound(offset)
    assert reads.now().timestamp() == LOCAL + now
    assert (reads.skew_note() is not None) == noted


@responses.activate
@pytest.mark.parametrize("offset", [600.0, -600.0, 946684800.0 - LOCAL])
def test_an_absurd_skew_is_a_config_error_naming_it(offset: float) -> None:
    with pytest.raises(ConfigError, match="clock skew: Sentry's Date header .* this runner's"):
        bound(offset)
