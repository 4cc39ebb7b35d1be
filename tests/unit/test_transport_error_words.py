"""The words of a failure a user reads: 401/403/404/other with and without the scopes the
endpoint needs, why a call gave up (budget, attempts, a 429 asking too long), and the waits
Sentry's rate-limit headers ask for, counted on Sentry's clock."""

from __future__ import annotations

import email.utils
import random

import pytest

from sentry_release.errors import AuthError, NetworkError, NotFoundError, SentryAPIError
from sentry_release.sentry.transport import (
    Outcome,
    Reply,
    RetryPolicy,
    Transport,
    rate_limit_wait,
    sentry_now,
)

NOW = 1_800_000_000.0
HINT = "(SENTRY_AUTH_TOKEN / auth_token) and that it belongs to this Sentry"


def transport() -> Transport:
    return Transport(
        "https://sentry.example.com/",
        "sntryu_words_token",
        clock=lambda: NOW,
        rng=random.Random(2),
        retry=RetryPolicy(attempts=4, budget=10.0),
    )


def failure(status: int, body: bytes = b'{"detail": "words"}', **kwargs: str) -> SentryAPIError:
    reply = Reply("GET", "/x/", status, {}, body)
    return transport().judge(reply, 1, True, **kwargs).failure  # type: ignore[arg-type]


def test_a_401_says_check_the_token_and_names_the_scopes() -> None:
    error = failure(401, scopes="project:releases")
    assert isinstance(error, AuthError) and error.status == 401
    assert str(error) == (
        "Sentry rejected the auth token (words); GET /x/ needs project:releases: check the "
        f"token {HINT}"
    )
    assert str(failure(401)) == f"Sentry rejected the auth token (words): check the token {HINT}"


def test_a_403_says_give_the_token_that_scope() -> None:
    error = failure(403, scopes="org:read")
    assert isinstance(error, AuthError) and error.detail == "words"
    assert str(error) == (
        "the auth token may not do this (words); GET /x/ needs org:read: give the token that "
        "scope (see the README's token scopes table)"
    )


def test_a_404_without_the_callers_words_names_the_endpoint() -> None:
    error = failure(404)
    assert isinstance(error, NotFoundError)
    assert str(error) == "GET /x/: not found (words)"
    assert error.status == 404 and error.method == "GET" and error.endpoint == "/x/"


def test_an_error_without_a_body_names_its_status() -> None:
    error = failure(400, b"")
    assert str(error) == "GET /x/ failed with HTTP 400: HTTP 400"
    assert error.detail == "HTTP 400"


def test_a_final_answer_gets_no_note() -> None:
    t = transport()
    error = failure(400)
    assert t._final(Outcome(error, False, 0.0), "GET", 1, 0.0) is error
    assert str(error) == "GET /x/ failed with HTTP 400: words"


def test_a_lost_write_says_it_was_not_retried() -> None:
    error = NetworkError("POST /x/ connection failed: reset")
    out = transport()._final(Outcome(error, False, 0.0), "POST", 1, 0.0)
    assert str(out).endswith(
        " (not retried: the POST may have reached Sentry and is not safe to repeat)"
    )


def test_a_final_network_failure_gets_no_note() -> None:
    error = NetworkError("GET /x/: TLS")
    error.final = True
    assert str(transport()._final(Outcome(error, False, 0.0), "GET", 1, 0.0)) == "GET /x/: TLS"


@pytest.mark.parametrize(
    ("status", "delay", "spent", "why"),
    [
        (429, 6.0, 5.0, "Sentry asked to wait 6s more, beyond"),
        (429, 5.0, 5.0, "out of"),  # exactly the budget: not beyond it
        (429, 1.0, 1.0, "out of"),  # attempts used up, not the budget
        (503, 6.0, 5.0, "out of"),  # a 5xx never "asked" to wait
    ],
)
def test_giving_up_says_why(status: int, delay: float, spent: float, why: str) -> None:
    error = failure(status)
    out = transport()._final(Outcome(error, True, delay), "GET", 4, spent)
    assert str(out).endswith(
        f" (gave up after 4 attempts in {spent:.1f}s: {why} the retry budget of 10s and 4 "
        "attempts; raise it with --retry-budget)"
    )


def date(stamp: float) -> str:
    return email.utils.formatdate(stamp, usegmt=True)


def test_a_reset_in_the_past_waits_nothing() -> None:
    assert rate_limit_wait({"X-Sentry-Rate-Limit-Reset": str(NOW - 5)}, NOW) == 0.0
    assert rate_limit_wait({"Retry-After": "0"}, NOW) == 0.0
    assert rate_limit_wait({"Retry-After": "-3"}, NOW) == 0.0
    assert rate_limit_wait({"Retry-After": date(NOW - 60)}, NOW) == 0.0


def test_a_garbled_reset_falls_back_to_retry_after() -> None:
    assert rate_limit_wait({"X-Sentry-Rate-Limit-Reset": "soon", "Retry-After": "3"}, NOW) == 3.0


def test_a_retry_after_date_without_a_zone_is_not_used() -> None:
    naive = "Fri, 15 Jan 2027 08:00:30 -0000"
    assert rate_limit_wait({"Retry-After": naive}, NOW) is None


def test_a_date_without_a_zone_is_not_sentrys_clock() -> None:
    naive = email.utils.formatdate(NOW + 100)  # "-0000": no zone
    assert naive.endswith("-0000")
    assert sentry_now({"Date": naive}, NOW) == NOW


def test_a_date_exactly_at_the_skew_limit_is_believed() -> None:
    assert sentry_now({"Date": date(NOW + 900)}, NOW) == NOW + 900
    assert sentry_now({"Date": date(NOW - 900)}, NOW) == NOW - 900
    assert sentry_now({"Date": date(NOW + 901)}, NOW) == NOW
