"""The real Sentry 23.7.1 tier (issue #21): fixtures pointing the CLI at the server that
`.ci/real-sentry.sh up` started (SENTRY_REAL_* variables, `eval "$(.ci/real-sentry.sh env)"`).

Without SENTRY_REAL_URL every test here is skipped; with SENTRY_REAL_REQUIRED=1 (set by
`.ci/run` once the server is up) a skip is a failure. Every request of ours is counted from
uWSGI's request log (method, path, status, user agent): a test fails on any answer >= 400 it
did not provoke (`server_log.allow`).
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from tests.helpers import cli_env

REAL_URL = os.environ.get("SENTRY_REAL_URL", "")
REQUIRED = os.environ.get("SENTRY_REAL_REQUIRED") == "1"
LOG = Path(os.environ.get("SENTRY_REAL_LOG", "/nonexistent"))
ORG = "acme"
PROJECTS = ("web", "api")
# uWSGI's request log in Sentry's format (`services/http.py` log-format):
# 127.0.0.1 - - [07/Dec/2026:02:40:01 +0000] "GET /api/0/... HTTP/1.1" 200 123 "-" "ua"
LINE = re.compile(
    r'"(?P<method>[A-Z]+) (?P<uri>\S+) HTTP/[\d.]+" (?P<status>\d{3}) \S+ "[^"]*" "(?P<ua>[^"]*)"'
)
REAL = [pytest.mark.realsentry, pytest.mark.skipif(not REAL_URL, reason="real Sentry not up")]


@dataclass
class Hit:
    method: str
    uri: str
    status: int
    agent: str

    @property
    def path(self) -> str:
        return self.uri.split("?", 1)[0]


@dataclass
class ServerLog:
    """The requests the server logged since a test began; `allow` names provoked refusals."""

    start: int
    allowed: list[tuple[int, re.Pattern[str]]] = field(default_factory=list)

    def sync(self) -> None:
        """uWSGI logs a request after answering it: send a marked request and wait until its
        line is in the log, so every earlier answer's line is there too."""
        mark = f"sentry-release-tier-sync/{uuid.uuid4().hex}"
        requests.get(f"{REAL_URL}/api/0/", headers={"User-Agent": mark}, timeout=30)
        for _ in range(100):
            if f'"{mark}"' in LOG.read_text(errors="replace")[-200_000:]:
                return
            time.sleep(0.1)  # a wait for the log, not a timed assertion

    def hits(self, agent: str = "") -> list[Hit]:
        self.sync()
        with LOG.open("rb") as f:
            f.seek(self.start)
            text = f.read().decode("utf-8", "replace")
        found = []
        for line in text.splitlines():
            m = LINE.search(line)
            if m and agent in m["ua"] and "tier-sync" not in m["ua"]:
                found.append(Hit(m["method"], m["uri"], int(m["status"]), m["ua"]))
        return found

    def allow(self, status: int, uri: str) -> None:
        """A refusal the test provokes: `status` for a URI matching the regex `uri`."""
        self.allowed.append((status, re.compile(uri)))

    def refused(self, agent: str = "sentry-release") -> list[Hit]:
        return [
            h
            for h in self.hits(agent)
            if h.status >= 400
            and not any(h.status == s and p.search(h.uri) for s, p in self.allowed)
        ]


@pytest.fixture
def server_log() -> Iterator[ServerLog]:
    """Fails the test when the server refused a request of ours it did not provoke."""
    log = ServerLog(LOG.stat().st_size if LOG.exists() else 0)
    yield log
    assert log.refused() == []


@pytest.fixture
def real_env(tmp_path: Path) -> dict[str, str]:
    """The CLI's environment for the real server with the org:ci token."""
    home = tmp_path / "home"
    home.mkdir()
    return cli_env(REAL_URL, token=os.environ["SENTRY_REAL_ORG_TOKEN"], home=home)


def token(name: str) -> str:
    return os.environ[f"SENTRY_REAL_{name.upper()}_TOKEN"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None]:
    """With SENTRY_REAL_REQUIRED=1 a skipped real-server test is a failure: the tier was asked
    for, so a server that is not up must not pass for green."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and REQUIRED and item.get_closest_marker("realsentry") is not None:
        report.outcome = "failed"
        report.longrepr = f"real-server test skipped with SENTRY_REAL_REQUIRED=1: {report.longrepr}"
