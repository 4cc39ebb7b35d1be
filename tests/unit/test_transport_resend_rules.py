"""Which failed attempts are sent again, counted on the wire with `responses`: a refused
connection is resent even for a POST (nothing reached Sentry) but only REFUSED_ATTEMPTS times;
a POST that may have arrived is not; an idempotent chunk upload is resent with the same body."""

from __future__ import annotations

import random

import pytest
import requests
import responses

from sentry_release.errors import NetworkError, SentryAPIError
from sentry_release.sentry.api import SentryApi
from sentry_release.sentry.transport import REFUSED_ATTEMPTS, RetryPolicy, Transport
from tests.helpers import FakeTime

BASE = "https://sentry.example.com/"
API = BASE + "api/0"
DEPLOYS = f"{API}/organizations/acme/releases/1.0/deploys/"
REFUSED = requests.ConnectionError(
    "HTTPSConnectionPool(host='sentry.example.com', port=443): Max retries exceeded "
    "(Caused by NewConnectionError('<conn>: Failed to establish a new connection: "
    "[Errno 111] Connection refused'))"
)


def transport(fake_time: FakeTime, attempts: int = 6) -> Transport:
    return Transport(
        BASE,
        "sntryu_resend_token",
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        rng=random.Random(3),
        retry=RetryPolicy(attempts=attempts, base=0.5, cap=4, budget=60),
    )


@responses.activate
def test_a_refused_post_is_resent_and_succeeds_once_sentry_listens() -> None:
    fake = FakeTime()
    responses.add(responses.POST, DEPLOYS, body=REFUSED)
    responses.add(responses.POST, DEPLOYS, json={"id": "1"}, status=201)
    reply = transport(fake).request(
        "POST", "/organizations/acme/releases/1.0/deploys/", json_body={"environment": "prod"}
    )
    assert reply.status == 201
    assert len(responses.calls) == 2
    assert [c.request.body for c in responses.calls] == [b'{"environment": "prod"}'] * 2
    assert len(fake.sleeps) == 1


@responses.activate
def test_a_refused_address_is_tried_refused_attempts_times_then_named() -> None:
    fake = FakeTime()
    responses.add(responses.POST, DEPLOYS, body=REFUSED)
    with pytest.raises(NetworkError) as raised:
        transport(fake).request("POST", "/organizations/acme/releases/1.0/deploys/", json_body={})
    assert len(responses.calls) == REFUSED_ATTEMPTS == 3
    message = str(raised.value)
    assert message.startswith(
        "POST /organizations/acme/releases/1.0/deploys/: connection refused by "
        "sentry.example.com:443: nothing is listening there; check SENTRY_URL "
        "(https://sentry.example.com/) and that Sentry is up (refused 3 times in "
    )
    assert raised.value.refused and raised.value.unsent
    assert "retry budget" not in message


@responses.activate
def test_a_refused_address_on_a_short_policy_says_the_attempt_count() -> None:
    fake = FakeTime()
    responses.add(responses.GET, f"{API}/x/", body=REFUSED)
    with pytest.raises(NetworkError, match=r"\(refused 2 times in \d+\.\ds\)$"):
        transport(fake, attempts=2).request("GET", "/x/")
    assert len(responses.calls) == 2


@responses.activate
def test_a_refused_address_tried_once_says_time_not_times() -> None:
    fake = FakeTime()
    responses.add(responses.GET, f"{API}/x/", body=REFUSED)
    with pytest.raises(NetworkError, match=r"\(refused 1 time in \d+\.\ds\)$"):
        transport(fake, attempts=1).request("GET", "/x/")
    assert len(responses.calls) == 1


@responses.activate
def test_a_refused_http_url_names_port_80() -> None:
    fake = FakeTime()
    url = "http://sentry.internal/api/0/x/"
    responses.add(responses.GET, url, body=REFUSED)
    t = Transport(
        "http://sentry.internal",
        "tok",
        sleep=fake.sleep,
        clock=fake.clock,
        retry=RetryPolicy(attempts=1),
    )
    with pytest.raises(NetworkError, match="connection refused by sentry.internal:80: "):
        t.request("GET", "/x/")


@responses.activate
def test_a_refused_explicit_port_is_named() -> None:
    fake = FakeTime()
    url = "https://sentry.internal:8443/api/0/x/"
    responses.add(responses.GET, url, body=REFUSED)
    t = Transport(
        "https://sentry.internal:8443",
        "tok",
        sleep=fake.sleep,
        clock=fake.clock,
        retry=RetryPolicy(attempts=1),
    )
    with pytest.raises(NetworkError, match="connection refused by sentry.internal:8443: "):
        t.request("GET", "/x/")


@responses.activate
def test_a_lost_connection_on_a_post_is_not_resent() -> None:
    fake = FakeTime()
    responses.add(
        responses.POST,
        DEPLOYS,
        body=requests.ConnectionError("('Connection aborted.', RemoteDisconnected())"),
    )
    with pytest.raises(NetworkError) as raised:
        transport(fake).request("POST", "/organizations/acme/releases/1.0/deploys/", json_body={})
    assert len(responses.calls) == 1
    assert fake.sleeps == []
    assert str(raised.value).endswith(
        " (not retried: the POST may have reached Sentry and is not safe to repeat)"
    )
    assert "connection failed" in str(raised.value)
    assert not raised.value.unsent and not raised.value.refused


@responses.activate
def test_a_read_timeout_on_a_post_is_not_resent() -> None:
    fake = FakeTime()
    responses.add(responses.POST, DEPLOYS, body=requests.ReadTimeout("Read timed out."))
    with pytest.raises(NetworkError) as raised:
        transport(fake).request("POST", "/organizations/acme/releases/1.0/deploys/", json_body={})
    assert len(responses.calls) == 1
    assert "POST /organizations/acme/releases/1.0/deploys/ timed out: Read timed out" in str(
        raised.value
    )


@responses.activate
def test_a_connect_timeout_on_a_post_is_resent_since_nothing_was_sent() -> None:
    fake = FakeTime()
    responses.add(responses.POST, DEPLOYS, body=requests.ConnectTimeout("connect timed out"))
    responses.add(responses.POST, DEPLOYS, json={"id": "1"}, status=201)
    reply = transport(fake).request(
        "POST", "/organizations/acme/releases/1.0/deploys/", json_body={}
    )
    assert reply.status == 201 and len(responses.calls) == 2


@responses.activate
def test_a_lost_connection_on_a_get_is_retried_to_the_attempt_limit() -> None:
    fake = FakeTime()
    responses.add(
        responses.GET,
        f"{API}/x/",
        body=requests.ConnectionError("('Connection aborted.', RemoteDisconnected())"),
    )
    with pytest.raises(NetworkError) as raised:
        transport(fake, attempts=4).request("GET", "/x/")
    assert len(responses.calls) == 4
    assert len(fake.sleeps) == 3
    assert "(gave up after 4 attempts in " in str(raised.value)
    assert "out of the retry budget of 60s and 4 attempts; raise it with --retry-budget)" in str(
        raised.value
    )


@responses.activate
def test_a_chunk_upload_is_resent_with_the_same_parts_after_a_503() -> None:
    fake = FakeTime()
    url = f"{API}/organizations/acme/chunk-upload/"
    responses.add(responses.POST, url, json={"detail": "busy"}, status=503)
    responses.add(responses.POST, url, status=200)
    api = SentryApi(
        BASE,
        "sntryu_resend_token",
        sleep=fake.sleep,
        clock=fake.clock,
        retry=RetryPolicy(attempts=4, base=0.5, cap=4, budget=60),
    )
    api.upload_chunks(url, [("a" * 40, b"chunk-bytes")])
    assert len(responses.calls) == 2
    first, second = (c.request for c in responses.calls)
    for request in (first, second):  # the same part each time (the boundary is random)
        assert b'name="file_gzip"; filename="' + b"a" * 40 + b'"' in request.body
        assert b"\r\n\r\nchunk-bytes\r\n" in request.body
    assert len(fake.sleeps) == 1 and 0.25 <= fake.sleeps[0] <= 0.5


@responses.activate
def test_a_chunk_upload_stops_after_the_attempt_limit() -> None:
    fake = FakeTime()
    url = f"{API}/organizations/acme/chunk-upload/"
    responses.add(responses.POST, url, json={"detail": "busy"}, status=503)
    api = SentryApi(
        BASE,
        "sntryu_resend_token",
        sleep=fake.sleep,
        clock=fake.clock,
        retry=RetryPolicy(attempts=3, base=0.5, cap=4, budget=60),
    )
    with pytest.raises(SentryAPIError, match=r"HTTP 503: busy \(gave up after 3 attempts in "):
        api.upload_chunks(url, [("a" * 40, b"chunk-bytes")])
    assert len(responses.calls) == 3
