"""The connection opened at process start: when, to where, and that the transport uses it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sentry_release import preconnect
from sentry_release.sentry.transport import make_session

URL = {"SENTRY_URL": "https://sentry.example.com/"}


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    preconnect.reset()
    yield
    preconnect.reset()


@pytest.mark.parametrize(
    ("argv", "environ", "expected"),
    [
        (["new", "v1"], URL, ("sentry.example.com", 443)),
        (["--url", "http://10.0.0.5:9000", "deploy", "v1"], {}, ("10.0.0.5", 9000)),
        (["run", "--url=http://sentry.local"], {}, ("sentry.local", 80)),
        (["new", "v1", "--url", "http://a:1"], URL, ("a", 1)),  # the flag wins over the env
        (["new", "v1"], {}, None),  # no explicit URL: never guess sentry.io or a .sentryclirc
        (["inject", "dist"], URL, None),  # no network
        (["propose-version"], URL, None),
        (["new", "--help"], URL, None),
        ([], URL, None),
        (["new", "v1"], {**URL, "HTTPS_PROXY": "http://proxy:3128"}, None),  # the pool
        (["new", "v1"], {**URL, "http_proxy": "http://proxy:3128"}, None),  # connects there
        (["new", "v1"], {"SENTRY_URL": "ftp://x"}, None),
        (["new", "v1"], {"SENTRY_URL": "http://[::1"}, None),  # malformed: left to config
    ],
)
def test_target(argv: list[str], environ: dict[str, str], expected: tuple[str, int] | None) -> None:
    assert preconnect.target(argv, environ) == expected


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    yield server
    server.close()


def test_take_gives_the_socket_once(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    preconnect.start(["new", "v1"], {"SENTRY_URL": f"http://127.0.0.1:{port}"})
    sock = preconnect.take("127.0.0.1", port)
    assert sock is not None
    peer, _ = listener.accept()
    assert sock.getpeername() == peer.getsockname()
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    assert preconnect.take("127.0.0.1", port) is None  # only the first connection
    sock.close()
    peer.close()


def test_another_address_gets_nothing_and_the_socket_is_closed(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    preconnect.start(["new", "v1"], {"SENTRY_URL": f"http://127.0.0.1:{port}"})
    assert preconnect.take("127.0.0.1", port + 1) is None
    peer, _ = listener.accept()
    peer.settimeout(5)
    assert peer.recv(1) == b""  # closed by us, unused
    peer.close()


def test_a_connection_the_server_closed_is_not_used(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    preconnect.start(["new", "v1"], {"SENTRY_URL": f"http://127.0.0.1:{port}"})
    peer, _ = listener.accept()
    peer.close()  # an idle timeout on the server while the tool was still loading
    threading.Event().wait(0.05)
    assert preconnect.take("127.0.0.1", port) is None


def test_a_failed_connect_leaves_the_transport_to_connect() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there: refused
    preconnect.start(["new", "v1"], {"SENTRY_URL": f"http://127.0.0.1:{port}"})
    assert preconnect.take("127.0.0.1", port) is None


class _Counting(ThreadingHTTPServer):
    accepted = 0

    def get_request(self) -> tuple[socket.socket, object]:
        self.accepted += 1
        return super().get_request()


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


def test_the_session_sends_its_first_request_on_the_preopened_socket() -> None:
    server = _Counting(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        preconnect.start(["info", "v1"], {"SENTRY_URL": url})
        session = make_session()
        for _ in range(3):
            assert session.get(f"{url}/api/0/", timeout=5).status_code == 200
        # Accepts are FIFO: had the session opened its own connection, the pre-opened one
        # (queued first) would have been accepted before it and counted here.
        assert server.accepted == 1
    finally:
        server.shutdown()
        server.server_close()


def test_a_connect_slower_than_the_callers_timeout_is_abandoned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gate = threading.Event()
    made: list[socket.socket] = []

    def slow_connect(address: tuple[str, int], timeout: float) -> socket.socket:
        gate.wait(5)  # a DNS lookup or SYN that hangs
        sock = socket.socket()
        made.append(sock)
        return sock

    monkeypatch.setattr(preconnect.socket, "create_connection", slow_connect)
    preconnect.start(["new", "v1"], {"SENTRY_URL": "http://sentry.example.com"})
    pending = preconnect._pending
    assert preconnect.take("sentry.example.com", 80, 0.05) is None  # the caller connects itself
    gate.set()
    assert pending is not None
    pending.thread.join(5)
    assert made and made[0].fileno() == -1  # closed when it finally connected
