"""`Transport.request`'s named steps, each alone: preview, attempt limit, judging a failed
attempt, the retry decision; and `SentryApi` holding its transport."""

from __future__ import annotations

import random

import pytest

from sentry_release.errors import NetworkError, NotFoundError, SentryAPIError
from sentry_release.sentry.api import SentryApi
from sentry_release.sentry.transport import Outcome, Reply, RetryPolicy, Transport

BASE = "https://sentry.example.com/"
NOW = 1_800_000_000.0


def transport(**kwargs: object) -> Transport:
    return Transport(
        BASE,
        "sntryu_steps_token",
        clock=lambda: NOW,
        rng=random.Random(7),
        **kwargs,  # type: ignore[arg-type]
    )


def reply(status: int, headers: dict[str, str] | None = None, method: str = "POST") -> Reply:
    return Reply(method, "/x/", status, headers or {}, b'{"detail": "words"}')


def test_the_api_holds_its_transport_and_forks_with_it() -> None:
    api = SentryApi(BASE, "sntryu_steps_token", timeout=7.0)
    assert isinstance(api.transport, Transport) and not isinstance(api, Transport)
    assert api.transport.timeout == 7.0
    twin = api.fork()
    assert twin.transport is not api.transport
    assert twin.transport.session is api.transport.session and twin.stats is api.stats


def test_preview_prints_writes_and_sends_reads_in_a_dry_run() -> None:
    lines: list[str] = []
    t = transport(dry_run=True, echo=lines.append)
    url = t.url("/organizations/acme/releases/")
    assert t.preview("GET", url, "/r/", None, None) is None  # reads go out
    shown = t.preview("POST", url, "/r/", {"version": "1.0"}, {"version": "1.0"})
    assert shown is not None and shown.dry_run and shown.json() == {"version": "1.0"}
    assert lines == [f'[dry-run] would POST {url} {{"version": "1.0"}}']
    assert transport().preview("POST", url, "/r/", {}, None) is None  # not a dry run


def test_attempt_limit_is_the_timeout_within_the_step_deadline() -> None:
    t = transport(timeout=30.0)
    assert t.attempt_limit("GET", "/x/", None) == 30.0
    assert t.attempt_limit("GET", "/x/", 5.0) == 5.0
    with t.step("Upload", seconds=2.0):
        assert 0 < t.attempt_limit("GET", "/x/", None) <= 2.0
    with t.step("Upload", seconds=-1.0), pytest.raises(NetworkError, match="deadline"):
        t.attempt_limit("GET", "/x/", None)


def test_judge_refuses_a_redirect() -> None:
    with pytest.raises(SentryAPIError, match="redirect \\(307\\) to https://elsewhere"):
        transport().judge(reply(307, {"Location": "https://elsewhere/"}), 1, True)


def test_judge_waits_for_sentry_reset_on_429() -> None:
    outcome = transport().judge(reply(429, {"X-Sentry-Rate-Limit-Reset": str(NOW + 4)}), 1, False)
    assert outcome.retriable and 4.0 <= outcome.delay <= 4.5  # retried even when not repeatable


@pytest.mark.parametrize(("repeatable", "retriable"), [(True, True), (False, False)])
def test_judge_retries_5xx_only_when_repeatable(repeatable: bool, retriable: bool) -> None:
    outcome = transport().judge(reply(503), 1, repeatable)
    assert outcome.retriable is retriable and outcome.failure.status == 503
    assert outcome.delay > 0


def test_judge_makes_a_404_final_with_the_callers_words() -> None:
    outcome = transport().judge(reply(404), 1, True, not_found="release 1.0 not found")
    assert not outcome.retriable and isinstance(outcome.failure, NotFoundError)
    assert str(outcome.failure) == "release 1.0 not found (words)"


def test_judge_error_retries_an_unsent_request_even_when_not_repeatable() -> None:
    t = transport()
    lost = NetworkError("POST /x/ connection failed: reset")
    assert not t.judge_error(lost, 1, False).retriable
    assert t.judge_error(lost, 1, True).retriable
    refused = NetworkError("POST /x/ connection failed: Connection refused")
    refused.unsent = True
    assert t.judge_error(refused, 1, False).retriable


@pytest.mark.parametrize(
    ("outcome", "attempt", "spent", "expected"),
    [
        (Outcome(SentryAPIError("x"), True, 1.0), 1, 0.0, True),
        (Outcome(SentryAPIError("x"), False, 1.0), 1, 0.0, False),  # not retriable
        (Outcome(SentryAPIError("x"), True, 1.0), 3, 0.0, False),  # attempts used up
        (Outcome(SentryAPIError("x"), True, 6.0), 1, 5.0, False),  # beyond the budget
        (Outcome(SentryAPIError("x"), True, 4.0), 1, 5.0, True),  # just within it
    ],
)
def test_may_retry_counts_attempts_and_budget(
    outcome: Outcome, attempt: int, spent: float, expected: bool
) -> None:
    t = transport(retry=RetryPolicy(attempts=3, budget=10.0))
    assert t.may_retry(outcome, attempt, spent) is expected


def test_may_retry_stops_when_the_wait_outlasts_the_step() -> None:
    t = transport(retry=RetryPolicy(attempts=6, budget=100.0))
    with t.step("Upload", seconds=3.0):
        assert not t.may_retry(Outcome(SentryAPIError("x"), True, 5.0), 1, 0.0)
        assert t.may_retry(Outcome(SentryAPIError("x"), True, 0.5), 1, 0.0)


def test_a_cancelled_transport_and_its_forks_send_nothing_more() -> None:
    api = SentryApi(BASE, "sntryu_steps_token")
    twin = api.fork()
    api.transport.cancel()
    for each in (api, twin):
        with pytest.raises(NetworkError, match="not sent, the run was cancelled"):
            each.request("GET", "/organizations/")
    assert api.stats.requests == 0
