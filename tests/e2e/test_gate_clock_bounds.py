"""Issue #22's table, clock and bound rows, end to end against the stand-in: absurd
durations refused at once (exit 2, no request), a Sentry `Date` far from the runner's clock
refused naming the skew (10 minutes ahead, or a proxy's `Date: 2000`), a health URL that
drips bytes ended by `--gate-timeout`."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from sentry_standin import DevServer
from tests.e2e.test_gate_table import ENV, NEW, gate, steady
from tests.e2e.test_gate_table import deployed_at as deployed_at  # the fixture
from tests.helpers import run_cli


@pytest.mark.parametrize(
    "args",
    [
        ["--window", "99999d"],
        ["--window", "100000000"],
        ["--poll", "0"],
        ["--gate-timeout", "0"],
        ["--settle", "2d"],
    ],
)
def test_absurd_durations_are_refused_before_any_request(
    server: DevServer, env: dict[str, str], args: list[str]
) -> None:
    done = run_cli(["gate", NEW, "--env", ENV, *args], env)
    assert done.returncode == 2, done.stderr
    assert args[0] in done.stderr and "out of range" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert server.store.requests == []


def _proxy(target: str, date: str) -> ThreadingHTTPServer:
    """A reverse proxy to the stand-in that sets its own `Date` header."""

    class Proxy(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            answer = requests.get(
                target.rstrip("/") + self.path,
                headers={k: v for k, v in self.headers.items() if k.lower() != "host"},
                timeout=10,
            )
            self.send_response(answer.status_code)
            for key, value in answer.headers.items():
                if key.lower() not in (
                    "date",
                    "server",
                    "content-length",
                    "transfer-encoding",
                    "content-encoding",
                    "connection",
                ):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        def date_time_string(self, timestamp: float | None = None) -> str:
            return date

    proxy = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    proxy.daemon_threads = True
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    return proxy


@pytest.mark.parametrize(
    ("date", "ahead"),
    [
        (
            format_datetime(
                datetime.fromtimestamp(time.time() + 600, tz=timezone.utc), usegmt=True
            ),
            True,
        ),
        ("Sat, 01 Jan 2000 00:00:00 GMT", False),
    ],
)
def test_a_sentry_date_far_from_the_runner_is_a_skew_error(
    server: DevServer, env: dict[str, str], deployed_at: float, date: str, ahead: bool
) -> None:
    steady(server, deployed_at)
    proxy = _proxy(server.url, date)
    try:
        done = run_cli(
            ["gate", NEW, "--env", ENV],
            {**env, "SENTRY_URL": f"http://127.0.0.1:{proxy.server_port}/"},
        )
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert done.returncode == 2, done.stdout + done.stderr
    assert "clock skew" in done.stderr
    assert ("ahead of" if ahead else "behind") in done.stderr
    assert "Traceback" not in done.stderr


@pytest.fixture
def dripping() -> Iterator[str]:
    class Drip(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            for i in range(100000):
                try:
                    self.wfile.write(f"X-{i}: y\r\n".encode())
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.05)

    app = ThreadingHTTPServer(("127.0.0.1", 0), Drip)
    app.daemon_threads = True
    threading.Thread(target=app.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{app.server_port}/healthz"
    app.shutdown()
    app.server_close()


@pytest.mark.slow
def test_a_dripping_health_url_ends_by_the_gate_timeout(
    server: DevServer, env: dict[str, str], deployed_at: float, dripping: str
) -> None:
    steady(server, deployed_at)
    code, report, _ = gate(
        env,
        "--health-url",
        dripping,
        "--health-timeout",
        "1s",
        "--gate-timeout",
        "4s",
        "--poll",
        "0.5",
    )
    assert (report["verdict"], code) != ("PASS", 0)
    assert "timed out" in report["reason"] or "health check" in report["reason"]
    [probe] = report["health"]
    assert "timed out after" in probe["last"]
