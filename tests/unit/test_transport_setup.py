"""A transport as configured: the Sentry URL it accepts, what each request carries (user agent,
token, custom headers) and where, how endpoints are named in messages, the step deadline, and
a fork's own deadline over the shared session."""

from __future__ import annotations

import pytest
import responses

from sentry_release import __version__
from sentry_release.errors import ConfigError, NetworkError
from sentry_release.sentry.transport import Transport, check_token, origin

BASE = "https://sentry.example.com/"
API = BASE + "api/0"


@pytest.mark.parametrize(
    ("url", "root"),
    [
        ("https://sentry.example.com/api/0/", "https://sentry.example.com/"),
        ("https://sentry.example.com/api/0", "https://sentry.example.com/"),
        ("https://example.com/sentry/api/0/?x=1#f", "https://example.com/sentry/"),
    ],
)
def test_a_sentry_url_holding_the_api_path_is_refused_naming_the_root(url: str, root: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Transport(url, "tok")
    assert str(raised.value) == (
        f"Sentry URL {url!r} already holds the API path /api/0/: set SENTRY_URL (or --url) "
        f"to the server's root, {root}"
    )


def test_a_path_that_only_starts_like_the_api_is_a_prefix() -> None:
    t = Transport("https://example.com/api/01", "tok")
    assert t.api_url == "https://example.com/api/01/api/0"


def test_the_base_url_gets_one_slash_and_the_api_root() -> None:
    t = Transport("https://sentry.example.com//", "tok")
    assert t.base_url == BASE and t.api_url == API
    assert repr(t) == "Transport('https://sentry.example.com/')"


@responses.activate
def test_each_request_carries_the_user_agent_token_and_custom_headers() -> None:
    responses.get(f"{API}/x/", json={})
    Transport(BASE, "sntryu_tok", headers={"X-Proxy": "p"}).request("GET", "/x/")
    sent = responses.calls[0].request.headers
    assert sent["User-Agent"] == f"sentry-release/{__version__}"
    assert sent["Authorization"] == "Bearer sntryu_tok"
    assert sent["X-Proxy"] == "p"


@responses.activate
def test_without_a_token_no_authorization_is_sent() -> None:
    responses.get(f"{API}/x/", json={})
    Transport(BASE, None).request("GET", "/x/")
    assert "Authorization" not in responses.calls[0].request.headers


def test_the_token_goes_to_no_other_origin() -> None:
    t = Transport(BASE, "sntryu_tok", headers={"X-P": "s"})
    elsewhere = t._headers("https://other.example.com/api/0/x/")
    assert elsewhere == {"User-Agent": f"sentry-release/{__version__}"}


def test_endpoints_are_named_by_their_api_path_without_query_or_secrets() -> None:
    t = Transport(BASE, "tok")
    assert t.endpoint(f"{API}/organizations/acme/?cursor=1") == "/organizations/acme/"
    assert t.endpoint("https://u:secret@else.example/a?b=c") == "https://[redacted]@else.example/a"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://Sentry.Example.com/x", ("https", "sentry.example.com", 443)),
        ("http://sentry.example.com/x", ("http", "sentry.example.com", 80)),
        ("https://sentry.example.com:8443/", ("https", "sentry.example.com", 8443)),
        ("https://sentry.example.com:99999/", ("https", "sentry.example.com", 443)),
        ("/relative", ("", "", 80)),
    ],
)
def test_origin_fills_in_the_default_port(url: str, expected: tuple[str, str, int]) -> None:
    assert origin(url) == expected


@pytest.mark.parametrize("token", [None, "!", "~" * 3, "sntrys_abc+/="])
def test_printable_tokens_pass(token: str | None) -> None:
    check_token(token)


@pytest.mark.parametrize("token", ["", "a b", "a\tb", "tok\x7f", "tok\x1f", "tök"])
def test_unprintable_tokens_are_refused(token: str) -> None:
    with pytest.raises(ConfigError, match="^the auth token contains spaces, line breaks or non"):
        check_token(token)


def test_a_step_deadline_names_the_step_and_its_seconds() -> None:
    t = Transport(BASE, "tok")
    with t.step("Upload source maps", seconds=-0.5), pytest.raises(NetworkError) as raised:
        t.request("GET", "/x/")
    assert str(raised.value) == (
        "GET /x/: the Upload source maps ran out of its -0.5s deadline (raise it with "
        "--step-timeout)"
    )


def test_a_nested_step_keeps_the_outer_deadline() -> None:
    t = Transport(BASE, "tok")
    with t.step("Outer", seconds=100.0), t.step("Inner", seconds=-1.0):
        assert 0 < t.attempt_limit("GET", "/x/", None) <= 30.0
    assert t._step_end is None and t._step_name == ""


def test_a_step_without_seconds_uses_the_step_timeout() -> None:
    t = Transport(BASE, "tok", step_timeout=5.0)
    with t.step("Finalize"):
        assert 0 < t.attempt_limit("GET", "/x/", None) <= 5.0
    assert t.attempt_limit("GET", "/x/", None) <= 5.0  # the command is the step
    assert Transport(BASE, "tok").attempt_limit("GET", "/x/", None) == 30.0


def test_the_command_deadline_counts_from_the_transports_creation() -> None:
    t = Transport(BASE, "tok", step_timeout=5.0)
    t._born -= 6.0
    with pytest.raises(NetworkError) as raised:
        t.request("GET", "/x/")
    assert str(raised.value) == (
        "GET /x/: the command ran out of its 5s deadline (raise it with --step-timeout)"
    )


def test_a_fork_has_its_own_step_and_echo_over_the_same_session() -> None:
    lines: list[str] = []
    t = Transport(BASE, "tok", step_timeout=9.0)
    with t.step("Outer", seconds=1.0):
        twin = t.fork(echo=lines.append)
        assert twin._step_end is None and twin._step_name == "" and twin._step_limit == 9.0
    assert twin.session is t.session and twin.stats is t.stats and twin.echo is not t.echo
    assert t.fork().echo is t.echo


@responses.activate
def test_a_redirect_on_the_same_origin_keeps_the_custom_headers() -> None:
    responses.get(f"{API}/x/", status=302, headers={"Location": f"{API}/moved/"})
    responses.get(f"{API}/moved/", json=[])
    Transport(BASE, "tok", headers={"X-Proxy-Secret": "s"}).request("GET", "/x/")
    assert len(responses.calls) == 2
    assert responses.calls[1].request.headers["X-Proxy-Secret"] == "s"
