"""Hostile and broken servers on loopback: every call ends within its deadline with one line.

Each server speaks raw HTTP from a socket so it can misbehave the ways a real one does: drip
headers or body a byte at a time, never end the body, redirect in a loop, redirect a write,
answer HTML or `{}` with 200. The client must end each within its deadline (pytest-timeout
bounds the test, the deadline is a second or two) with a `SentryAPIError` naming the endpoint.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from sentry_release.errors import SentryAPIError
from sentry_release.sentry.api import SentryApi
from sentry_release.sentry.transport import RetryPolicy

TOKEN = "hostile-test-token-never-printed"
Handler = Callable[[socket.socket, bytes], None]


@contextmanager
def raw_server(handler: Handler) -> Iterator[str]:
    """A loopback server calling `handler(conn, request_head)` for each connection."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            threading.Thread(target=_one, args=(conn,), daemon=True).start()

    def _one(conn: socket.socket) -> None:
        try:
            conn.settimeout(5)
            head = b""
            while b"\r\n\r\n" not in head:
                data = conn.recv(65536)
                if not data:
                    return
                head += data
            handler(conn, head)
        except OSError:
            pass
        finally:
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        stop.set()
        listener.close()


def respond(status: str, body: bytes, headers: dict[str, str] | None = None) -> Handler:
    def handler(conn: socket.socket, _head: bytes) -> None:
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        conn.sendall(
            f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{extra}"
            "Connection: close\r\n\r\n".encode()
            + body
        )

    return handler


def drip_headers(conn: socket.socket, _head: bytes) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000:
        conn.sendall(bytes([byte]))
        time.sleep(0.05)


def drip_body(conn: socket.socket, _head: bytes) -> None:
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    )
    for _ in range(100_000):
        conn.sendall(b" ")
        time.sleep(0.05)


def endless_body(conn: socket.socket, _head: bytes) -> None:
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    piece = b" " * 65536
    frame = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    while True:
        conn.sendall(frame)


def redirect_loop(conn: socket.socket, head: bytes) -> None:
    path = head.split(b" ", 2)[1].decode()
    respond("302 Found", b"", {"Location": path})(conn, head)


def api(url: str, timeout: float = 1.0) -> SentryApi:
    return SentryApi(url, TOKEN, timeout=timeout, retry=RetryPolicy(attempts=2, base=0.1, budget=2))


def fails(call: Callable[[], object]) -> str:
    with pytest.raises(SentryAPIError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message and TOKEN not in message
    return message


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        pytest.param(drip_headers, "timed out", marks=pytest.mark.slow),  # real socket time
        pytest.param(drip_body, "timed out", marks=pytest.mark.slow),
        (endless_body, "larger than"),
        (redirect_loop, "redirect in a loop"),
        (
            respond("200 OK", b"<html><body>login</body></html>", {"Content-Type": "text/html"}),
            "expected JSON, got text/html",
        ),
        (
            respond("200 OK", b'{"version": "1.0", "proj', {"Content-Type": "application/json"}),
            "expected JSON",
        ),
        (respond("200 OK", b"{}", {"Content-Type": "application/json"}), "expected a release"),
    ],
    ids=[
        "slow-headers",
        "slow-body",
        "endless-body",
        "redirect-loop",
        "html-200",
        "truncated-json",
        "empty-object",
    ],
)
def test_a_hostile_read_ends_with_one_line(handler: Handler, expected: str) -> None:
    with raw_server(handler) as url:
        client = api(url)
        client.transport.max_body = 1024 * 1024  # the cap, small enough for a test
        message = fails(lambda: client.get_release("acme", "1.0"))
    assert "GET /organizations/acme/releases/1.0/" in message
    assert expected in message


@pytest.mark.timeout(30)
def test_a_redirected_write_is_an_error_naming_where_it_pointed() -> None:
    moved = respond("301 Moved Permanently", b"", {"Location": "https://elsewhere.example/api/0/"})
    with raw_server(moved) as url:
        message = fails(lambda: api(url).create_release("acme", "1.0", ["web"]))
    assert "redirect (301)" in message and "elsewhere.example" in message
    assert "already exists" not in message


@pytest.mark.timeout(30)
def test_empty_object_to_every_call_never_reports_success() -> None:
    with raw_server(respond("200 OK", b"{}", {"Content-Type": "application/json"})) as url:
        client = api(url)
        for call in (
            lambda: client.create_release("acme", "1.0", ["web"]),
            lambda: client.create_deploy("acme", "1.0", environment="prod"),
            lambda: client.chunk_upload_options("acme"),
            lambda: client.assemble_artifact_bundle(
                "acme", checksum="a" * 40, chunks=["a" * 40], projects=["web"]
            ),
        ):
            fails(call)


@pytest.mark.slow  # a real process against real socket time
@pytest.mark.timeout(60)
def test_the_cli_ends_one_line_exit_1_against_a_dripping_server(tmp_path: object) -> None:
    with raw_server(drip_headers) as url:
        done = subprocess.run(
            [sys.executable, "-m", "sentry_release", "new", "1.0", "--timeout", "1"],
            env={
                "PATH": "/usr/bin:/bin",
                "SENTRY_URL": url,
                "SENTRY_AUTH_TOKEN": TOKEN,
                "SENTRY_ORG": "acme",
                "SENTRY_PROJECT": "web",
                "SENTRY_RELEASE_RETRY_BUDGET": "2",
            },
            capture_output=True,
            text=True,
            timeout=50,
        )
    assert done.returncode == 1, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "timed out" in lines[0] and "Traceback" not in done.stderr
    assert TOKEN not in done.stdout + done.stderr
