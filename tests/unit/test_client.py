"""Unit tests of the Sentry client with `responses`: URLs, bodies, auth, errors, retries."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
import requests
import responses

from sentry_release import __version__
from sentry_release.errors import (
    AuthError,
    NetworkError,
    NotFoundError,
    SentryAPIError,
)
from sentry_release.sentry.api import SentryApi
from sentry_release.sentry.transport import RetryPolicy, next_cursor
from tests.helpers import FakeTime

BASE = "https://sentry.example.com/"
API = BASE + "api/0"
TOKEN = "unit-token-abcdef"


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def client(fake_time: FakeTime) -> SentryApi:
    return SentryApi(
        BASE,
        TOKEN,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        retry=RetryPolicy(attempts=4, base=0.5, cap=4, budget=60),
    )


def link(next_cursor: str | None) -> str:
    prev = f'<{API}/x/?cursor=0:0:1>; rel="previous"; results="false"; cursor="0:0:1"'
    if next_cursor is None:
        return prev + f', <{API}/x/?cursor=0:9:0>; rel="next"; results="false"; cursor="0:9:0"'
    url = f"{API}/organizations/acme/repos/?cursor={next_cursor}"
    return prev + f', <{url}>; rel="next"; results="true"; cursor="{next_cursor}"'


@responses.activate
def test_create_release_sends_method_url_body_auth_and_user_agent(client: SentryApi) -> None:
    responses.post(
        f"{API}/organizations/acme/releases/", status=201, json={"version": "1.0", "projects": []}
    )
    started = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
    body, created = client.create_release("acme", "1.0", ["web", "api"], date_started=started)
    assert created is True and body.version == "1.0"
    call = responses.calls[0]
    assert call.request.method == "POST"
    assert call.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert call.request.headers["User-Agent"] == f"sentry-release/{__version__}"
    assert json.loads(call.request.body or b"") == {
        "version": "1.0",
        "projects": ["web", "api"],
        "dateStarted": "2024-05-01T12:00:00Z",
    }


@responses.activate
def test_208_already_exists_is_success(client: SentryApi) -> None:
    responses.post(f"{API}/organizations/acme/releases/", status=208, json={"version": "1.0"})
    _, created = client.create_release("acme", "1.0", ["web"])
    assert created is False
    assert len(responses.calls) == 1


@responses.activate
def test_path_segments_are_percent_encoded(client: SentryApi) -> None:
    responses.get(
        f"{API}/organizations/acme/releases/web%401.0%2Bbuild%205/", json={"version": "x"}
    )
    client.get_release("acme", "web@1.0+build 5")
    assert (
        responses.calls[0].request.url
        == f"{API}/organizations/acme/releases/web%401.0%2Bbuild%205/"
    )


@responses.activate
def test_pagination_follows_link_header_over_three_pages(client: SentryApi) -> None:
    url = f"{API}/organizations/acme/repos/"
    responses.get(
        url,
        json=[{"name": "a/1"}],
        headers={"Link": link("0:1:0")},
        match=[responses.matchers.query_param_matcher({})],
    )
    responses.get(
        url,
        json=[{"name": "a/2"}],
        headers={"Link": link("0:2:0")},
        match=[responses.matchers.query_param_matcher({"cursor": "0:1:0"})],
    )
    responses.get(
        url,
        json=[{"name": "a/3"}],
        headers={"Link": link(None)},
        match=[responses.matchers.query_param_matcher({"cursor": "0:2:0"})],
    )
    assert [r.name for r in client.list_repos("acme")] == ["a/1", "a/2", "a/3"]
    assert len(responses.calls) == 3


@responses.activate
def test_pagination_reuses_only_the_cursor_never_the_link_host(client: SentryApi) -> None:
    # Sentry builds Link URLs from system.url-prefix, which may be another host.
    url = f"{API}/organizations/acme/repos/"
    other = "https://prefix.elsewhere.example/api/0/organizations/acme/repos/?cursor=0:1:0"
    responses.get(
        url,
        json=[{"name": "a/1"}],
        headers={"Link": f'<{other}>; rel="next"; results="true"; cursor="0:1:0"'},
        match=[responses.matchers.query_param_matcher({})],
    )
    responses.get(
        url,
        json=[{"name": "a/2"}],
        match=[responses.matchers.query_param_matcher({"cursor": "0:1:0"})],
    )
    assert [r.name for r in client.list_repos("acme")] == ["a/1", "a/2"]
    assert all(c.request.url.startswith(API) for c in responses.calls)


@responses.activate
def test_pagination_stops_on_a_repeated_cursor(client: SentryApi) -> None:
    url = f"{API}/organizations/acme/repos/"
    responses.get(url, json=[{"name": "a/1"}], headers={"Link": link("0:1:0")})
    names = [r.name for r in client.list_repos("acme")]
    assert len(responses.calls) == 2 and names == ["a/1", "a/1"]


def test_next_cursor_reads_the_results_flag() -> None:
    assert next_cursor(link("0:100:0")) == "0:100:0"
    assert next_cursor(link(None)) is None
    assert next_cursor(None) is None


@responses.activate
def test_401_says_check_the_token(client: SentryApi) -> None:
    responses.post(
        f"{API}/organizations/acme/releases/", status=401, json={"detail": "Invalid token"}
    )
    with pytest.raises(AuthError) as err:
        client.create_release("acme", "1.0", ["web"])
    assert "Invalid token" in str(err.value) and "SENTRY_AUTH_TOKEN" in str(err.value)
    assert err.value.exit_code == 2 and err.value.status == 401
    assert "org:ci" in str(err.value)  # the scope this endpoint needs
    assert TOKEN not in str(err.value)


@responses.activate
def test_404_names_the_missing_organization(client: SentryApi) -> None:
    responses.post(
        f"{API}/organizations/nope/releases/",
        status=404,
        json={"detail": "The requested resource does not exist"},
    )
    with pytest.raises(NotFoundError, match="organization not found: 'nope': check SENTRY_ORG"):
        client.create_release("nope", "1.0", ["web"])


@responses.activate
def test_404_names_the_missing_release(client: SentryApi) -> None:
    responses.put(
        f"{API}/organizations/acme/releases/9.9/",
        status=404,
        json={"detail": "The requested resource does not exist"},
    )
    with pytest.raises(NotFoundError, match="release '9.9' not found in organization 'acme'"):
        client.finalize_release("acme", "9.9", when=datetime.now(timezone.utc))


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            400,
            {"version": ["Release with name latest is not allowed"]},
            "version: Release with name latest is not allowed",
        ),
        (403, {"detail": "You do not have permission"}, "You do not have permission"),
        (409, {"detail": "Conflict"}, "HTTP 409: Conflict"),
        (500, "<html>oops</html>", "an HTML page"),
        (500, "plain failure text", "plain failure text"),
    ],
)
@responses.activate
def test_errors_carry_sentrys_own_words(
    client: SentryApi, status: int, body: object, expected: str
) -> None:
    kwargs = {"json": body} if isinstance(body, dict) else {"body": body}
    responses.post(f"{API}/organizations/acme/releases/", status=status, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(SentryAPIError) as err:
        client.create_release("acme", "latest", ["web"])
    assert expected in str(err.value)
    assert err.value.status == status


@responses.activate
def test_429_waits_until_rate_limit_reset_then_succeeds(
    client: SentryApi, fake_time: FakeTime
) -> None:
    url = f"{API}/organizations/acme/releases/1.0/"
    reset = str(int(fake_time.now) + 7)
    responses.get(
        url,
        status=429,
        json={"detail": "Rate limited"},
        headers={"X-Sentry-Rate-Limit-Reset": reset, "X-Sentry-Rate-Limit-Remaining": "0"},
    )
    responses.get(url, json={"version": "1.0"})
    assert client.get_release("acme", "1.0").version == "1.0"
    assert len(fake_time.sleeps) == 1
    assert 7.0 <= fake_time.sleeps[0] <= 7.5


@responses.activate
def test_429_honours_retry_after_seconds(client: SentryApi, fake_time: FakeTime) -> None:
    url = f"{API}/organizations/acme/releases/1.0/"
    responses.get(url, status=429, headers={"Retry-After": "3"})
    responses.get(url, json={"version": "1.0"})
    client.get_release("acme", "1.0")
    assert 3.0 <= fake_time.sleeps[0] <= 3.5


@responses.activate
def test_503_is_retried_with_backoff(client: SentryApi, fake_time: FakeTime) -> None:
    url = f"{API}/organizations/acme/releases/1.0/"
    responses.get(url, status=503, body="unavailable")
    responses.get(url, status=502, body="bad gateway")
    responses.get(url, json={"version": "1.0"})
    assert client.get_release("acme", "1.0").version == "1.0"
    assert len(responses.calls) == 3
    assert len(fake_time.sleeps) == 2 and all(s > 0 for s in fake_time.sleeps)


@responses.activate
def test_retries_stop_at_the_attempt_limit_with_a_precise_message(client: SentryApi) -> None:
    url = f"{API}/organizations/acme/releases/1.0/"
    responses.get(url, status=503, json={"detail": "Service down"})
    with pytest.raises(SentryAPIError) as err:
        client.get_release("acme", "1.0")
    assert len(responses.calls) == 4
    message = str(err.value)
    assert "GET /organizations/acme/releases/1.0/" in message
    assert "HTTP 503" in message and "Service down" in message and "gave up after 4" in message


@responses.activate
def test_deploy_post_is_not_retried_blindly(client: SentryApi) -> None:
    deploys = f"{API}/organizations/acme/releases/1.0/deploys/"
    responses.get(deploys, json=[])  # the recovery check finds nothing new
    responses.post(deploys, status=503, body="unavailable")
    responses.post(deploys, status=201, json={"id": "7", "environment": "prod"})
    deploy = client.create_deploy("acme", "1.0", environment="prod")
    assert deploy.id == "7"
    methods = [c.request.method for c in responses.calls]
    # every POST retry is preceded by a GET that looks for the lost attempt's deploy
    assert methods == ["POST", "GET", "POST"]


@responses.activate
def test_deploy_found_after_a_lost_response_is_not_created_twice(client: SentryApi) -> None:
    deploys = f"{API}/organizations/acme/releases/1.0/deploys/"
    finished = datetime(2026, 11, 26, 12, 0, 0, 123456, tzinfo=timezone.utc)
    responses.post(deploys, status=504, body="gateway timeout")
    responses.get(
        deploys,
        json=[
            # an earlier deploy to the same environment is not this attempt's
            {"id": "5", "environment": "prod", "dateFinished": "2026-11-25T10:00:00Z"},
            {"id": "8", "environment": "prod", "dateFinished": "2026-11-26T12:00:00.123456Z"},
        ],
    )
    deploy = client.create_deploy("acme", "1.0", environment="prod", date_finished=finished)
    assert deploy.id == "8"
    assert [c.request.method for c in responses.calls].count("POST") == 1


@responses.activate
def test_deploy_body_has_no_projects_unless_named(client: SentryApi) -> None:
    # Sentry checks `projects` with project-level access (release_deploys.py ProjectField):
    # an org:ci token would get 400 "Insufficient access to project".
    deploys = f"{API}/organizations/acme/releases/1.0/deploys/"
    responses.post(deploys, status=201, json={"id": "1", "environment": "prod"})
    client.create_deploy("acme", "1.0", environment="prod")
    client.create_deploy("acme", "1.0", environment="prod", projects=["web"])
    first, second = (json.loads(c.request.body or b"") for c in responses.calls)
    assert "projects" not in first and second["projects"] == ["web"]


@responses.activate
def test_timeout_becomes_a_network_error(client: SentryApi) -> None:
    responses.get(
        f"{API}/organizations/acme/releases/1.0/",
        body=requests.exceptions.ReadTimeout("Read timed out."),
    )
    with pytest.raises(NetworkError, match="timed out"):
        client.get_release("acme", "1.0")


@responses.activate
def test_every_request_has_a_timeout(client: SentryApi, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[object] = []
    original = client.transport.session.request

    def spy(*args: object, **kwargs: object) -> requests.Response:
        seen.append(kwargs.get("timeout"))
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(client.transport.session, "request", spy)
    responses.get(f"{API}/organizations/acme/releases/1.0/", json={"version": "1.0"})
    client.get_release("acme", "1.0")
    assert seen and all(t is not None for t in seen)


@responses.activate
def test_chunks_for_another_host_are_refused_before_sending(client: SentryApi) -> None:
    responses.post("https://uploads.elsewhere.example/chunks/", status=200)
    with pytest.raises(SentryAPIError, match="uploads.elsewhere.example"):
        client.upload_chunks("https://uploads.elsewhere.example/chunks/", [("a" * 40, b"x")])
    assert len(responses.calls) == 0


@pytest.mark.parametrize(
    "given",
    [
        "/api/0/organizations/acme/chunk-upload/",  # self-hosted without a url-prefix
        "https://other.example/api/0/organizations/acme/chunk-upload/",  # untrusted origin
        "https://sentry.example.com:8443/api/0/organizations/acme/chunk-upload/",  # other port
    ],
)
@responses.activate
def test_chunk_url_is_resolved_onto_the_configured_sentry(client: SentryApi, given: str) -> None:
    responses.post(f"{API}/organizations/acme/chunk-upload/", status=200)
    client.upload_chunks(given, [("a" * 40, b"x")])
    call = responses.calls[0]
    assert call.request.url == f"{API}/organizations/acme/chunk-upload/"
    assert call.request.headers["Authorization"] == f"Bearer {TOKEN}"


@responses.activate
def test_chunk_url_on_a_region_host_keeps_it_and_the_token(client: SentryApi) -> None:
    region = "https://us.sentry.example.com/api/0/organizations/acme/chunk-upload/"
    responses.post(region, status=200)
    client.upload_chunks(region, [("a" * 40, b"x")])
    assert responses.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_dry_run_sends_nothing_and_echoes_without_token() -> None:
    lines: list[str] = []
    dry = SentryApi(BASE, TOKEN, dry_run=True, echo=lines.append)
    with responses.RequestsMock() as mock:  # any real call would fail this block
        dry.create_release("acme", "1.0", ["web"])
        dry.finalize_release("acme", "1.0", when=datetime.now(timezone.utc))
        assert len(mock.calls) == 0
    assert lines[0].startswith(f"[dry-run] would POST {API}/organizations/acme/releases/")
    assert all(TOKEN not in line for line in lines)
