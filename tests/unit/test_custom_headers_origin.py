"""Custom headers (--header / CUSTOM_HEADER) go to Sentry's origin only, on every hop: a
redirect to another origin carries neither them nor the token."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from sentry_release.sentry.api import SentryApi

SECRET = "proxy-secret-value"


@contextmanager
def loopback(answer: str | None) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A server on its own port (its own origin): answers 302 to `answer`, or 200 `[]`; it
    records each request's headers."""
    seen: list[dict[str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append({k.lower(): v for k, v in self.headers.items()})
            if answer is not None:
                self.send_response(302)
                self.send_header("Location", answer)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = b"[]"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_redirect_to_another_origin_gets_no_custom_header(host: str) -> None:
    with loopback(None) as (other, at_other):
        other = other.replace("127.0.0.1", host)
        with loopback(other + "api/0/organizations/acme/releases/") as (sentry, at_sentry):
            api = SentryApi(sentry, "sntryu_origin_token", headers={"X-Proxy-Secret": SECRET})
            assert list(api.paginate("/organizations/acme/releases/")) == []
    assert at_sentry[0]["x-proxy-secret"] == SECRET
    assert len(at_other) == 1
    assert "x-proxy-secret" not in at_other[0] and "authorization" not in at_other[0]


def test_custom_headers_go_where_the_token_goes() -> None:
    api = SentryApi("https://sentry.example.com/", "sntryu_origin_token", headers={"X-P": "s"})
    assert api.transport._headers("https://sentry.example.com/api/0/x/")["X-P"] == "s"
    assert api.transport._headers("https://us.sentry.example.com/api/0/x/")["X-P"] == "s"
    assert "X-P" not in api.transport._headers("https://sentry.example.com.evil.net/x/")
    assert "X-P" not in api.transport._headers("http://sentry.example.com/api/0/x/")
