"""Sentry's clock (its `Date` header) is used outside the gate only for rate-limit waits, and
only when it agrees with the runner's: a reset time is counted on Sentry's own clock when
that clock is plausible, and a `Date` of year 2000 or 2100 is ignored."""

from __future__ import annotations

import email.utils

import pytest

from sentry_release.sentry.transport import rate_limit_wait

NOW = 1_800_000_000.0


def date(at: float) -> str:
    return email.utils.formatdate(at, usegmt=True)


def test_a_reset_is_counted_on_sentrys_clock_when_it_is_plausible() -> None:
    behind = NOW - 120  # Sentry's clock two minutes behind the runner's
    wait = rate_limit_wait(
        {"Date": date(behind), "X-Sentry-Rate-Limit-Reset": str(behind + 3)}, NOW
    )
    assert wait == pytest.approx(3.0)


def test_a_retry_after_date_is_counted_on_sentrys_clock_too() -> None:
    ahead = NOW + 60
    wait = rate_limit_wait({"Date": date(ahead), "Retry-After": date(ahead + 5)}, NOW)
    assert wait == pytest.approx(5.0)


@pytest.mark.parametrize("year_off", [-(NOW - 946_684_800), 4_102_444_800 - NOW])  # 2000, 2100
def test_an_implausible_date_is_ignored(year_off: float) -> None:
    headers = {"Date": date(NOW + year_off), "X-Sentry-Rate-Limit-Reset": str(NOW + 4)}
    assert rate_limit_wait(headers, NOW) == pytest.approx(4.0)


def test_a_garbled_date_is_ignored() -> None:
    headers = {"Date": "not a date", "X-Sentry-Rate-Limit-Reset": str(NOW + 2)}
    assert rate_limit_wait(headers, NOW) == pytest.approx(2.0)
