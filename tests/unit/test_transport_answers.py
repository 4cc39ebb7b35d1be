"""What an answer from Sentry becomes: the error text a user reads (`error_detail`: Sentry's
`detail`, field errors, raw text, an HTML page), a body that is not JSON (`Reply.json`), a body
of the wrong shape (`Reply.parse`), and the size cap."""

from __future__ import annotations

import random
from typing import Any

import pytest
import responses

from sentry_release.errors import SentryAPIError
from sentry_release.sentry.models import ShapeError
from sentry_release.sentry.transport import Reply, RetryPolicy, Transport, error_detail
from tests.helpers import FakeTime

BASE = "https://sentry.example.com/"
API = BASE + "api/0"


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b'{"detail": "Release not found"}', "Release not found"),
        (b'{"detail": {"message": "Slow down", "code": "x"}}', "Slow down"),
        (b'{"detail": {"code": "x"}}', "detail: {'code': 'x'}"),
        (b'{"version": ["Enter a valid value."]}', "version: Enter a valid value."),
        (
            b'{"version": ["too long", "bad char"], "ref": "no such ref"}',
            "version: too long bad char; ref: no such ref",
        ),
        (b"{}", "{}"),
        (b'["a", "b"]', '["a", "b"]'),
        (b"42", "42"),
        (b"Internal   Server\n Error ", "Internal Server Error"),
        (b"x" * 400, "x" * 300),
        (b"", "Bad Gateway"),
        (b"   ", "Bad Gateway"),
        (b"<!DOCTYPE html><html><body>oops</body></html>", "Bad Gateway (an HTML page)"),
        (b"  <HTML><body>oops</body></HTML>", "Bad Gateway (an HTML page)"),
        (b"\xff\xfe broken", "\ufffd\ufffd broken"),
    ],
)
def test_error_detail_is_sentrys_own_words(body: bytes, said: str) -> None:
    assert error_detail(body, "Bad Gateway", 502) == said


def test_error_detail_without_a_reason_names_the_status() -> None:
    assert error_detail(b"", "", 502) == "HTTP 502"
    assert error_detail(b"<html>x</html>", "", 502) == "HTTP 502 (an HTML page)"


def test_a_long_json_error_is_cut_at_300_characters() -> None:
    said = error_detail(b"[" + b'"a",' * 200 + b'"a"]', "", 500)
    assert said == ('["a", ' + '"a", ' * 100)[:300] and len(said) == 300


def reply(content: bytes, headers: dict[str, str] | None = None) -> Reply:
    return Reply("GET", "/organizations/acme/", 200, headers or {}, content)


def test_a_body_that_is_not_json_names_the_endpoint_type_and_start() -> None:
    with pytest.raises(ShapeError) as raised:
        reply(b"<html>  login\n page</html>", {"Content-Type": "text/html; charset=utf-8"}).json()
    assert str(raised.value) == (
        "GET /organizations/acme/: expected JSON, got text/html ('<html> login page</html>')"
    )
    assert raised.value.status == 200
    assert raised.value.method == "GET" and raised.value.endpoint == "/organizations/acme/"


def test_an_empty_body_without_a_content_type_says_so() -> None:
    with pytest.raises(ShapeError) as raised:
        reply(b"").json()
    assert str(raised.value) == (
        "GET /organizations/acme/: expected JSON, got no content type (an empty body)"
    )


def test_only_the_first_80_bytes_of_a_bad_body_are_shown() -> None:
    with pytest.raises(ShapeError) as raised:
        reply(b"y" * 200, {"Content-Type": "text/plain"}).json()
    assert str(raised.value).endswith(f"got text/plain ({'y' * 80!r})")


def test_a_wrong_shape_names_the_endpoint_once() -> None:
    def parser(data: Any) -> Any:
        raise ShapeError("expected a release (a JSON object), got a list")

    with pytest.raises(ShapeError) as raised:
        reply(b"[]").parse(parser)
    assert str(raised.value) == (
        "GET /organizations/acme/: expected a release (a JSON object), got a list"
    )
    assert raised.value.endpoint == "/organizations/acme/" and raised.value.method == "GET"
    assert raised.value.status == 200


def test_a_shape_error_that_already_names_its_endpoint_is_kept() -> None:
    inner = ShapeError("GET /elsewhere/: bad", method="GET", endpoint="/elsewhere/")

    def parser(data: Any) -> Any:
        raise inner

    with pytest.raises(ShapeError) as raised:
        reply(b"{}").parse(parser)
    assert raised.value is inner


def test_parse_hands_the_decoded_body_to_the_parser() -> None:
    assert reply(b'{"a": [1, 2]}').parse(lambda data: data["a"]) == [1, 2]


@responses.activate
def test_an_answer_over_the_size_cap_is_an_error_naming_the_cap() -> None:
    fake = FakeTime()
    responses.add(responses.GET, f"{API}/big/", body=b"z" * (3 * 1024 * 1024))
    t = Transport(
        BASE,
        "tok",
        sleep=fake.sleep,
        clock=fake.clock,
        rng=random.Random(1),
        retry=RetryPolicy(attempts=4),
        max_body=2 * 1024 * 1024,
    )
    with pytest.raises(SentryAPIError) as raised:
        t.request("GET", "/big/")
    assert str(raised.value).startswith("GET /big/: answer larger than 2 MiB (gave up after 4 ")
    assert len(responses.calls) == 4


@responses.activate
def test_an_answer_at_the_size_cap_is_read_whole() -> None:
    responses.add(responses.GET, f"{API}/big/", body=b"z" * (2 * 1024 * 1024))
    t = Transport(BASE, "tok", max_body=2 * 1024 * 1024)
    assert len(t.request("GET", "/big/").content) == 2 * 1024 * 1024


@responses.activate
def test_the_rate_limit_headers_and_bytes_sent_are_counted() -> None:
    responses.add(
        responses.POST,
        f"{API}/x/",
        json={},
        headers={"X-Sentry-Rate-Limit-Remaining": "7", "X-Other": "1"},
    )
    responses.add(responses.GET, f"{API}/y/", json={})
    t = Transport(BASE, "tok")
    t.request("POST", "/x/", json_body={"a": 1})
    assert t.stats.requests == 1
    assert t.stats.bytes_sent == len(b'{"a": 1}')
    assert t.stats.rate_limit == {"x-sentry-rate-limit-remaining": "7"}
    t.request("GET", "/y/")  # no rate-limit headers: the last ones are kept
    assert t.stats.rate_limit == {"x-sentry-rate-limit-remaining": "7"}
    assert t.stats.requests == 2 and t.stats.bytes_sent == len(b'{"a": 1}')
