"""Health probes end: a whole-request deadline against a server that drips bytes (headers
or body), redirects followed on the same origin only unless asked."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from sentry_release.gate.health import probe


class _App(BaseHTTPRequestHandler):
    other = ""  # another origin's URL, set by the fixture

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/drip-body":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            for _ in range(150):  # a byte every 10 ms: each read is quick, the whole is not
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.01)
            return
        if self.path == "/drip-headers":
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            for i in range(150):
                self.wfile.write(f"X-{i}: y\r\n".encode())
                self.wfile.flush()
                time.sleep(0.01)
            return
        if self.path == "/here":
            self._redirect("/ok")
            return
        if self.path == "/away":
            self._redirect(self.other + "/ok")
            return
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def _redirect(self, to: str) -> None:
        self.send_response(302)
        self.send_header("Location", to)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def app() -> Iterator[str]:
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _App) for _ in range(2)]
    servers[0].daemon_threads = servers[1].daemon_threads = True
    _App.other = f"http://127.0.0.1:{servers[1].server_port}"
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{servers[0].server_port}"
    for server in servers:
        server.shutdown()
        server.server_close()


def ok(status: int) -> bool:
    return 200 <= status < 300


@pytest.mark.parametrize("path", ["/drip-body", "/drip-headers"])
def test_a_dripping_server_fails_the_probe_at_its_deadline(app: str, path: str) -> None:
    with requests.Session() as session:
        healthy, detail = probe(session, app + path, timeout=0.3, expected=ok, body="ok")
    assert not healthy and "timed out after 0.3s" in detail


def test_redirects_on_the_same_origin_are_followed_others_only_when_asked(app: str) -> None:
    with requests.Session() as session:
        assert probe(session, app + "/here", timeout=2, expected=ok, body="ok") == (
            True,
            "HTTP 200",
        )
        healthy, detail = probe(session, app + "/away", timeout=2, expected=ok)
        assert not healthy and "redirect to another origin" in detail
        assert probe(session, app + "/away", timeout=2, expected=ok, any_redirect=True)[0]
