"""How a failed attempt is judged, each rule alone: the backoff between ceiling/2 and the
ceiling, a redirect refused with where it pointed, a 429 without hints backing off, and a
final failure that waits for nothing."""

from __future__ import annotations

import random

import pytest

from sentry_release.errors import SentryAPIError
from sentry_release.sentry.transport import Outcome, Reply, RetryPolicy, Transport


class Edge(random.Random):
    """A random source that always draws the lowest (or highest) value it may."""

    def __init__(self, high: bool) -> None:
        super().__init__(0)
        self.high = high

    def uniform(self, a: float, b: float) -> float:
        return b if self.high else a


@pytest.mark.parametrize(
    ("attempt", "ceiling"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 5.0), (9, 5.0)]
)
def test_backoff_is_full_jitter_between_half_the_ceiling_and_the_ceiling(
    attempt: int, ceiling: float
) -> None:
    policy = RetryPolicy(base=0.5, factor=2.0, cap=5.0)
    assert policy.backoff(attempt, Edge(high=False)) == ceiling / 2
    assert policy.backoff(attempt, Edge(high=True)) == ceiling


def transport(rng: random.Random | None = None) -> Transport:
    return Transport(
        "https://sentry.example.com/",
        "sntryu_judge_token",
        clock=lambda: 1_800_000_000.0,
        rng=rng or random.Random(1),
        retry=RetryPolicy(base=0.5, factor=2.0, cap=5.0),
    )


def reply(status: int, headers: dict[str, str] | None = None) -> Reply:
    return Reply("POST", "/organizations/acme/releases/", status, headers or {}, b"{}")


@pytest.mark.parametrize("status", [300, 301, 308, 399])
def test_any_3xx_is_refused(status: int) -> None:
    with pytest.raises(SentryAPIError) as raised:
        transport().judge(reply(status, {"Location": "https://x.example/a"}), 1, True)
    assert raised.value.status == status
    assert raised.value.method == "POST"
    assert raised.value.endpoint == "/organizations/acme/releases/"


def test_a_redirect_without_location_says_so() -> None:
    error = Transport.redirect_refused(reply(302))
    assert str(error) == (
        "POST /organizations/acme/releases/ was answered with a redirect (302) to "
        "(no Location): writes are not redirected; set SENTRY_URL to the address Sentry "
        "really answers on"
    )


@pytest.mark.parametrize("status", [299, 400])
def test_the_edges_of_3xx_are_no_redirect(status: int) -> None:
    outcome = transport().judge(reply(status), 1, True)
    assert outcome.failure.status == status


def test_a_429_without_hints_backs_off_by_attempt() -> None:
    outcome = transport(Edge(high=True)).judge(reply(429), 3, False)
    assert outcome.retriable and outcome.delay == 2.0
    outcome = transport(Edge(high=False)).judge(reply(429), 3, False)
    assert outcome.delay == 1.0


def test_a_final_answer_waits_for_nothing() -> None:
    outcome = transport().judge(reply(400), 1, True)
    assert outcome.retriable is False and outcome.delay == 0.0


def test_a_final_network_failure_waits_for_nothing() -> None:
    error = SentryAPIError("GET /x/: redirect loop")
    error.final = True
    assert transport().judge_error(error, 1, True) == Outcome(error, False, 0.0)


def test_a_failure_that_knows_nothing_of_being_sent_is_retried_only_when_repeatable() -> None:
    error = SentryAPIError("GET /x/: answer larger than 32 MiB")
    assert transport().judge_error(error, 1, False).retriable is False
    assert transport().judge_error(error, 1, True).retriable is True


def test_a_wait_that_ends_exactly_at_the_budget_is_still_taken() -> None:
    t = Transport("https://sentry.example.com/", "tok", retry=RetryPolicy(attempts=6, budget=10.0))
    assert t.may_retry(Outcome(SentryAPIError("x"), True, 5.0), 1, 5.0)
    assert not t.may_retry(Outcome(SentryAPIError("x"), True, 5.0), 1, 5.5)
