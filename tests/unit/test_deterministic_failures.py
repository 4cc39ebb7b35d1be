"""Failures that another attempt cannot change are not retried, and the TLS advice fits the
case: https on a plain-http port, a certificate that does not verify (with and without a CA
bundle), a GET redirect loop. Each is one attempt, against a loopback server."""

from __future__ import annotations

import http.server
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sentry_release.errors import ConfigError, NetworkError, SentryAPIError
from sentry_release.sentry.api import SentryApi
from sentry_release.sentry.transport import RetryPolicy

RETRY = RetryPolicy(attempts=6, base=0.0, cap=0.0, budget=60.0)


def certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    cert, key = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
         "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@contextmanager
def loopback(tls: tuple[Path, Path] | None = None, loop: bool = False) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302 if loop else 200)
            if loop:
                self.send_header("Location", self.path)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"[]")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_https_on_a_plain_http_port_is_one_attempt_and_says_so() -> None:
    with loopback() as url:
        api = SentryApi(url.replace("http:", "https:"), "sntryu_tls_token", retry=RETRY)
        with pytest.raises(NetworkError) as failed:
            api.request("GET", "/organizations/")
    assert api.stats.requests == 1
    assert "does not speak TLS" in str(failed.value) and "--ca-bundle" not in str(failed.value)


def test_an_unverified_certificate_is_one_attempt_and_names_the_ca_bundle(tmp_path: Path) -> None:
    with loopback(certificate(tmp_path, "server")) as url:
        api = SentryApi(url, "sntryu_tls_token", retry=RETRY)
        with pytest.raises(NetworkError, match="pass --ca-bundle"):
            api.request("GET", "/organizations/")
    assert api.stats.requests == 1


def test_a_certificate_the_given_ca_bundle_does_not_vouch_for(tmp_path: Path) -> None:
    other, _ = certificate(tmp_path, "other")
    with loopback(certificate(tmp_path, "server")) as url:
        api = SentryApi(url, "sntryu_tls_token", retry=RETRY, ca_bundle=str(other))
        with pytest.raises(NetworkError) as failed:
            api.request("GET", "/organizations/")
    assert api.stats.requests == 1
    message = str(failed.value)
    assert "pass --ca-bundle" not in message
    assert f"does not verify against the CA bundle {other}" in message


def test_a_get_redirect_loop_is_one_attempt() -> None:
    with loopback(loop=True) as url:
        api = SentryApi(url, "sntryu_tls_token", retry=RETRY)
        with pytest.raises(SentryAPIError, match="redirect in a loop"):
            api.request("GET", "/organizations/")
    assert api.stats.requests == 1


def test_a_garbled_requests_ca_bundle_is_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "bad.pem").write_text("not a certificate\n")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "bad.pem"))
    with loopback(certificate(tmp_path, "server")) as url:
        api = SentryApi(url, "sntryu_tls_token", retry=RETRY)
        with pytest.raises(ConfigError, match="CA bundle holds no usable certificate"):
            api.request("GET", "/organizations/")
    assert api.stats.requests == 1
