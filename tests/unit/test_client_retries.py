"""Client retries with `responses`: what is retried, how long it waits, how it gives up."""

from __future__ import annotations

import email.utils
import json
from datetime import datetime, timezone

import pytest
import requests
import responses

from sentry_release.errors import NetworkError, SentryAPIError
from sentry_release.sentry.api import SentryApi
from sentry_release.sentry.transport import RetryPolicy, rate_limit_wait
from tests.helpers import FakeTime

BASE = "https://sentry.example.com/"
API = BASE + "api/0"
TOKEN = "sntryu_unit_test_token_value"
NOW = 1_800_000_000.0


def client(fake: FakeTime, **kwargs: object) -> SentryApi:
    import random

    return SentryApi(
        BASE,
        TOKEN,
        sleep=fake.sleep,
        clock=fake.clock,
        rng=random.Random(1),
        **kwargs,  # type: ignore[arg-type]
    )


RELEASES = f"{API}/organizations/acme/releases/"
DEPLOYS = f"{API}/organizations/acme/releases/1.0/deploys/"


@responses.activate
def test_429_waits_for_sentry_reset_then_succeeds() -> None:
    fake = FakeTime(NOW)
    responses.post(
        RELEASES,
        status=429,
        json={"detail": "slow down"},
        headers={"X-Sentry-Rate-Limit-Reset": str(int(NOW) + 3)},
    )
    responses.post(RELEASES, status=201, json={"version": "1.0"})
    body, created = client(fake).create_release("acme", "1.0", ["web"])
    assert created and body.version == "1.0"
    assert len(responses.calls) == 2
    assert len(fake.sleeps) == 1 and 3.0 <= fake.sleeps[0] <= 3.5
    resent = json.loads(responses.calls[1].request.body)
    assert resent["version"] == "1.0" and resent["projects"] == ["web"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("4", 4.0),
        (email.utils.formatdate(NOW + 7, usegmt=True), 7.0),
    ],
)
@responses.activate
def test_429_honours_retry_after_seconds_and_http_date(header: str, expected: float) -> None:
    fake = FakeTime(NOW)
    responses.get(
        DEPLOYS, status=429, json={"detail": "slow down"}, headers={"Retry-After": header}
    )
    responses.get(DEPLOYS, status=200, json=[])
    assert client(fake).list_deploys("acme", "1.0") == []
    assert expected <= fake.sleeps[0] <= expected + 0.5
    assert rate_limit_wait({"Retry-After": header}, NOW) == pytest.approx(expected)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
@responses.activate
def test_5xx_on_idempotent_call_is_retried(status: int) -> None:
    fake = FakeTime(NOW)
    url = f"{API}/organizations/acme/releases/1.0/"
    responses.put(url, status=status, json={"detail": "boom"})
    responses.put(url, status=200, json={"version": "1.0", "dateReleased": "x"})
    result = client(fake).finalize_release("acme", "1.0", when=datetime.now(timezone.utc))
    assert result.date_released == "x"
    assert [c.request.method for c in responses.calls] == ["PUT", "PUT"]
    assert len(fake.sleeps) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404])
@responses.activate
def test_client_errors_are_not_retried(status: int) -> None:
    fake = FakeTime(NOW)
    responses.get(DEPLOYS, status=status, json={"detail": f"nope {status}"})
    with pytest.raises(SentryAPIError) as info:
        client(fake).list_deploys("acme", "1.0")
    assert len(responses.calls) == 1 and fake.sleeps == []
    assert f"nope {status}" in str(info.value)


@responses.activate
def test_post_deploy_503_is_verified_not_resent_when_it_landed() -> None:
    fake = FakeTime(NOW)
    finished = datetime(2026, 11, 26, 9, 30, tzinfo=timezone.utc)
    landed = {"id": "42", "environment": "prod", "dateFinished": "2026-11-26T09:30:00Z"}
    responses.post(DEPLOYS, status=503, json={"detail": "unavailable"})
    responses.get(DEPLOYS, json=[landed])  # the lost attempt did land
    result = client(fake).create_deploy("acme", "1.0", environment="prod", date_finished=finished)
    assert result.id == "42"
    posts = [c for c in responses.calls if c.request.method == "POST"]
    assert len(posts) == 1


@responses.activate
def test_post_deploy_reset_is_resent_only_after_checking() -> None:
    fake = FakeTime(NOW)
    responses.post(DEPLOYS, body=requests.ConnectionError("Connection reset by peer"))
    responses.get(DEPLOYS, json=[])  # nothing landed: safe to send again
    responses.post(DEPLOYS, status=201, json={"id": "7", "environment": "prod", "name": None})
    result = client(fake).create_deploy("acme", "1.0", environment="prod")
    assert result.id == "7"
    assert [c.request.method for c in responses.calls] == ["POST", "GET", "POST"]


@responses.activate
def test_non_idempotent_post_without_recover_is_not_retried() -> None:
    fake = FakeTime(NOW)
    url = f"{API}/organizations/acme/something/"
    responses.post(url, status=503, json={"detail": "unavailable"})
    with pytest.raises(SentryAPIError):
        client(fake).request(
            "POST", "/organizations/acme/something/", json_body={}, idempotent=False
        )
    assert len(responses.calls) == 1


@responses.activate
def test_timeout_becomes_network_error_naming_the_endpoint() -> None:
    fake = FakeTime(NOW)
    responses.get(DEPLOYS, body=requests.ReadTimeout("Read timed out. (read timeout=30)"))
    with pytest.raises(NetworkError) as info:
        client(fake, retry=RetryPolicy(attempts=3, budget=10)).list_deploys("acme", "1.0")
    message = str(info.value)
    assert message.startswith(
        "GET /organizations/acme/releases/1.0/deploys/ timed out: Read timed out"
    )
    assert "gave up after 3 attempts" in message
    assert len(responses.calls) == 3


@responses.activate
def test_budget_exhausted_message_names_endpoint_status_and_detail() -> None:
    fake = FakeTime(NOW)
    responses.post(RELEASES, status=503, json={"detail": "Sentry is down for maintenance"})
    with pytest.raises(SentryAPIError) as info:
        client(fake, retry=RetryPolicy(budget=2.0)).create_release("acme", "1.0", ["web"])
    message = str(info.value)
    assert "POST /organizations/acme/releases/ failed with HTTP 503" in message
    assert "Sentry is down for maintenance" in message
    assert "retry budget of 2s" in message
    assert sum(fake.sleeps) <= 2.0
    assert info.value.exit_code == 1 and info.value.status == 503


@responses.activate
def test_rate_limit_beyond_budget_fails_at_once_saying_so() -> None:
    fake = FakeTime(NOW)
    responses.get(
        DEPLOYS,
        status=429,
        json={"detail": "slow down"},
        headers={"X-Sentry-Rate-Limit-Reset": str(int(NOW) + 600)},
    )
    with pytest.raises(SentryAPIError) as info:
        client(fake, retry=RetryPolicy(budget=5.0)).list_deploys("acme", "1.0")
    assert fake.sleeps == [] and len(responses.calls) == 1
    assert "Sentry asked to wait 600s more, beyond the retry budget of 5s" in str(info.value)


@responses.activate
def test_redirect_to_another_host_drops_the_token() -> None:
    fake = FakeTime(NOW)
    responses.get(DEPLOYS, status=302, headers={"Location": "https://evil.example.net/x"})
    responses.get("https://evil.example.net/x", json=[])
    client(fake).list_deploys("acme", "1.0")
    assert responses.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "Authorization" not in responses.calls[1].request.headers


@responses.activate
def test_redirect_on_the_same_host_keeps_the_token() -> None:
    fake = FakeTime(NOW)
    responses.get(DEPLOYS, status=302, headers={"Location": f"{API}/moved/"})
    responses.get(f"{API}/moved/", json=[])
    client(fake).list_deploys("acme", "1.0")
    assert responses.calls[1].request.headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("url", "trusted"),
    [
        (f"{API}/organizations/acme/chunk-upload/", True),
        ("https://us.sentry.example.com/api/0/chunk-upload/", True),  # region subdomain
        ("https://sentry.example.com:443/api/0/x/", True),  # the default port, spelled out
        ("https://uploads.other.example/api/0/chunk-upload/", False),
        ("https://sentry.example.com.evil.net/chunk-upload/", False),
        ("http://sentry.example.com/api/0/chunk-upload/", False),  # https downgraded
        ("https://sentry.example.com:8443/api/0/x/", False),  # another port, same host
    ],
)
def test_token_only_goes_to_the_sentry_host(url: str, trusted: bool) -> None:
    fake = FakeTime(NOW)
    c = client(fake)
    assert c.transport.is_trusted(url) is trusted
    assert ("Authorization" in c.transport._headers(url)) is trusted


@responses.activate
def test_chunk_upload_to_a_foreign_host_fails_loudly_and_sends_nothing() -> None:
    fake = FakeTime(NOW)
    with pytest.raises(SentryAPIError) as info:
        client(fake).upload_chunks("https://uploads.other.example/chunk-upload/", [("ab", b"x")])
    assert "refusing to send the auth token there" in str(info.value)
    assert len(responses.calls) == 0


@responses.activate
def test_reset_on_a_non_idempotent_post_says_why_it_was_not_retried() -> None:
    fake = FakeTime(NOW)
    url = f"{API}/organizations/acme/something/"
    responses.post(
        url,
        body=requests.ConnectionError(
            "('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))"
        ),
    )
    with pytest.raises(NetworkError) as info:
        client(fake).request("POST", "/organizations/acme/something/", idempotent=False)
    assert str(info.value) == (
        "POST /organizations/acme/something/ connection failed: Connection reset by peer "
        "(not retried: the POST may have reached Sentry and is not safe to repeat)"
    )
    assert len(responses.calls) == 1
