"""A failure below HTTP as the one line a user reads (`_network_error`, `_tls_error`,
`_short_exc`): what it says, whether it is bad input (exit 2) or remote, whether it is retried."""

from __future__ import annotations

import random

import pytest
import requests
import responses

from sentry_release.errors import ConfigError, NetworkError, SentryAPIError
from sentry_release.sentry.transport import RetryPolicy, Transport
from tests.helpers import FakeTime

BASE = "https://sentry.example.com/"
API = BASE + "api/0"


def transport(fake: FakeTime, attempts: int = 3, **kwargs: object) -> Transport:
    return Transport(
        BASE,
        "sntryu_net_token",
        sleep=fake.sleep,
        clock=fake.clock,
        rng=random.Random(5),
        retry=RetryPolicy(attempts=attempts, base=0.5, cap=4, budget=60),
        **kwargs,  # type: ignore[arg-type]
    )


def failing_get(exc: BaseException, attempts: int = 3, **kwargs: object) -> tuple[Exception, int]:
    fake = FakeTime()
    responses.add(responses.GET, f"{API}/x/", body=exc)
    with pytest.raises(Exception) as raised:
        transport(fake, attempts, **kwargs).request("GET", "/x/")
    return raised.value, len(responses.calls)  # type: ignore[return-value]


@responses.activate
def test_a_bundle_without_certificates_is_bad_input_tried_once() -> None:
    error, calls = failing_get(
        requests.exceptions.SSLError("[X509: NO_CERTIFICATE_OR_CRL_FOUND] no certificate or crl")
    )
    assert isinstance(error, ConfigError) and calls == 1
    assert str(error).startswith("the CA bundle holds no usable certificate (")
    assert str(error).endswith("): fix REQUESTS_CA_BUNDLE / --ca-bundle")


@pytest.mark.parametrize("text", ["[SSL] PEM lib (_ssl.c:4000)", "no certificate or crl found"])
@responses.activate
def test_other_forms_of_an_unusable_bundle_are_bad_input(text: str) -> None:
    error, _ = failing_get(requests.exceptions.SSLError(text))
    assert isinstance(error, ConfigError)


@pytest.mark.parametrize(
    "text",
    [
        "[SSL: WRONG_VERSION_NUMBER] wrong version number",
        "record layer failure",
        "[SSL] PACKET_LENGTH_TOO_LONG packet length too long",
    ],
)
@responses.activate
def test_no_tls_on_the_port_is_final_and_says_use_http(text: str) -> None:
    error, calls = failing_get(requests.exceptions.SSLError(text))
    assert isinstance(error, NetworkError) and error.final and calls == 1
    assert str(error) == (
        "GET /x/: the server at sentry.example.com:443 does not speak TLS on that port: use "
        "http:// or the port Sentry serves https on"
    )


VERIFY = (
    "HTTPSConnectionPool(host='sentry.example.com', port=443): Max retries exceeded "
    "(Caused by SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] "
    "certificate verify failed: self-signed certificate in certificate chain (_ssl.c:1000)')))"
)


@responses.activate
def test_an_unverified_certificate_without_a_bundle_advises_one() -> None:
    error, calls = failing_get(requests.exceptions.SSLError(VERIFY))
    assert calls == 1
    assert str(error) == (
        "GET /x/: TLS verification failed (certificate verify failed: self-signed certificate "
        "in certificate chain): for a self-hosted Sentry with its own CA pass --ca-bundle "
        "/path/to/ca.pem (or set REQUESTS_CA_BUNDLE)"
    )


@responses.activate
def test_an_unverified_certificate_with_a_bundle_names_it() -> None:
    error, calls = failing_get(requests.exceptions.SSLError(VERIFY), ca_bundle="/etc/ca.pem")
    assert calls == 1
    assert str(error) == (
        "GET /x/: Sentry's certificate does not verify against the CA bundle /etc/ca.pem "
        "(certificate verify failed: self-signed certificate in certificate chain): check "
        "that the bundle holds the CA that signed it"
    )


@responses.activate
def test_another_tls_failure_is_named_as_such() -> None:
    error, calls = failing_get(requests.exceptions.SSLError("handshake alert 40"))
    assert calls == 1 and isinstance(error, NetworkError)
    assert str(error) == "GET /x/: the TLS handshake failed (handshake alert 40)"


@responses.activate
def test_a_redirect_loop_is_one_attempt_naming_sentry_url() -> None:
    error, calls = failing_get(requests.TooManyRedirects("Exceeded 30 redirects."))
    assert calls == 1 and isinstance(error, SentryAPIError)
    assert str(error) == "GET /x/: Sentry's answers redirect in a loop; check SENTRY_URL"
    assert error.method == "GET" and error.endpoint == "/x/"


@responses.activate
def test_a_missing_ca_bundle_path_is_bad_input() -> None:
    error, calls = failing_get(
        OSError("Could not find a suitable TLS CA certificate bundle, invalid path: /nope")
    )
    assert calls == 1 and isinstance(error, ConfigError)
    assert str(error) == (
        "Could not find a suitable TLS CA certificate bundle, invalid path: /nope: fix "
        "REQUESTS_CA_BUNDLE / --ca-bundle"
    )


@pytest.mark.parametrize(
    ("exc", "said"),
    [
        (OSError("[Errno 24] Too many open files"), "GET /x/ failed: Too many open files"),
        (ValueError("Invalid header value"), "GET /x/ failed: Invalid header value"),
        (requests.exceptions.ChunkedEncodingError("broken"), "GET /x/ failed: broken"),
    ],
)
@responses.activate
def test_other_local_failures_are_network_errors_retried_for_reads(
    exc: BaseException, said: str
) -> None:
    error, calls = failing_get(exc, attempts=2)
    assert isinstance(error, NetworkError) and calls == 2
    assert str(error).startswith(said + " (gave up after 2 attempts")


@responses.activate
def test_a_timeout_names_the_read_timeout() -> None:
    error, calls = failing_get(
        requests.ReadTimeout(
            "HTTPSConnectionPool(host='sentry.example.com', port=443): "
            "Read timed out. (read timeout=30)"
        ),
        attempts=1,
    )
    assert calls == 1
    assert str(error).startswith("GET /x/ timed out: Read timed out (gave up after 1 attempt ")


@responses.activate
def test_a_dns_failure_names_its_reason() -> None:
    error, _ = failing_get(
        requests.ConnectionError(
            "HTTPSConnectionPool(host='sentry.example.com', port=443): Max retries exceeded "
            "(Caused by NameResolutionError(\"<conn>: Failed to resolve 'sentry.example.com' "
            '([Errno -2] Name or service not known)"))'
        ),
        attempts=1,
    )
    assert str(error).startswith("GET /x/ connection failed: Name or service not known (")


@responses.activate
def test_an_unknown_failure_text_is_shown_redacted_and_cut() -> None:
    error, _ = failing_get(
        requests.ConnectionError("weird https://user:hunter2@proxy.example " + "q" * 300),
        attempts=1,
    )
    text = str(error)
    assert "hunter2" not in text
    assert text.startswith("GET /x/ connection failed: weird https://")
    shown = text.removeprefix("GET /x/ connection failed: ").split(" (gave up")[0]
    assert len(shown) == 200


@responses.activate
def test_a_failure_without_words_is_named_by_its_type() -> None:
    error, _ = failing_get(requests.ConnectionError(""), attempts=1)
    assert str(error).startswith("GET /x/ connection failed: ConnectionError (")


@responses.activate
def test_an_unexpected_exception_is_raised_as_it_is() -> None:
    error, calls = failing_get(KeyError("bug"), attempts=3)
    assert isinstance(error, KeyError) and calls == 1


@pytest.mark.parametrize(
    "exc",
    [
        requests.ConnectionError("('Connection aborted.', RemoteDisconnected())"),
        requests.exceptions.SSLError("handshake alert 40"),
        OSError("[Errno 24] Too many open files"),
        requests.ConnectionError("[Errno 111] Connection refused"),
    ],
)
@responses.activate
def test_every_network_error_names_its_call(exc: BaseException) -> None:
    error, _ = failing_get(exc, attempts=1)
    assert isinstance(error, NetworkError)
    assert error.method == "GET" and error.endpoint == "/x/"


@responses.activate
def test_an_answer_over_the_cap_names_its_call() -> None:
    responses.get(f"{API}/x/", body=b"z" * 2048)
    t = Transport(BASE, "tok", max_body=1024, retry=RetryPolicy(attempts=1))
    with pytest.raises(SentryAPIError) as raised:
        t.request("GET", "/x/")
    assert raised.value.method == "GET" and raised.value.endpoint == "/x/"


@responses.activate
def test_an_exit_inside_the_exchange_comes_back_as_an_error() -> None:
    def leave(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        raise SystemExit("stop")

    responses.add_callback(responses.GET, f"{API}/x/", callback=leave)
    with pytest.raises(RuntimeError, match="^stop$"):
        Transport(BASE, "tok").request("GET", "/x/")


@responses.activate
def test_a_refusal_reported_by_the_system_is_named_in_two_words() -> None:
    error, calls = failing_get(OSError("socket: Connection refused (via the proxy)"), attempts=1)
    assert calls == 1
    assert str(error).startswith("GET /x/ failed: Connection refused (gave up after 1 attempt ")
