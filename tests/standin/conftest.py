"""The stand-in's own tests: always strict, tokens with the scopes real tokens carry."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from sentry_standin import DevServer, Options, Store

ORG = "acme"
PROJECTS = ("web", "api")
ORG_TOKEN = "sntrys_ci_token_for_tests"  # an organization token: org:ci only
FULL = "user-token-all-scopes"  # a user token with every scope
READ = "user-token-read=event:read,org:read,project:read"
RELEASES_ONLY = "user-token-releases=project:releases"
NOTHING = "user-token-none=team:read"
DEPLOYER = "user-token-deployer=project:releases,project:read"
TOKENS = (ORG_TOKEN, FULL, READ, RELEASES_ONLY, NOTHING, DEPLOYER)
ROOT = Path(__file__).resolve().parents[2]
SENTRY_CLI_2_DIR = ROOT / ".ci" / "sentry-cli-2"


def token_name(spec: str) -> str:
    return spec.partition("=")[0]


class Api:
    """A tiny client for one stand-in: `api.get("/releases/", token=...)` under the org."""

    def __init__(self, server: DevServer) -> None:
        self.server = server

    def url(self, path: str) -> str:
        if path.startswith("/api/0/"):
            return self.server.url.rstrip("/") + path
        if path.startswith("/projects/") or path == "/":
            return f"{self.server.url}api/0{path}"
        return f"{self.server.url}api/0/organizations/{ORG}{path}"

    def call(
        self, method: str, path: str, *, token: str = FULL, body: Any = None, **kwargs: Any
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {token_name(token)}"}
        return requests.request(
            method, self.url(path), json=body, headers=headers, timeout=10, **kwargs
        )

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.call("POST", path, body=body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.call("PUT", path, body=body, **kwargs)

    def project_id(self, slug: str) -> str:
        project = self.server.store.project(ORG, slug)
        assert project is not None
        return str(project["id"])


StandinFactory = Callable[..., Api]


@pytest.fixture
def standin() -> Iterator[StandinFactory]:
    """Start a strict stand-in (or one with the given Options); yields a factory of `Api`s."""
    servers: list[DevServer] = []

    def start(options: Options | None = None, **store_kwargs: Any) -> Api:
        store = Store(orgs=(ORG,), projects=PROJECTS, tokens=TOKENS, **store_kwargs)
        server = DevServer(store, options=options or Options()).start()
        servers.append(server)
        return Api(server)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def api(standin: StandinFactory) -> Api:
    """A strict stand-in with org `acme`, projects web and api, and the TOKENS."""
    return standin()


def sentry_cli_2() -> str:
    """sentry-cli 2.x, installed beside the 3.x pin by `.ci/run` (pip --target .ci/sentry-cli-2).

    Skips with the install command locally; under CI=true a missing install FAILS, so a
    missing step in CI cannot hide as a skip."""
    binary = SENTRY_CLI_2_DIR / "bin" / "sentry-cli"
    if binary.exists():
        return str(binary)
    reason = (
        f"sentry-cli 2.x not installed at {binary}: run "
        f"`{sys.executable} -m pip install --target {SENTRY_CLI_2_DIR} 'sentry-cli==2.58.*'`"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def sentry_cli_3() -> str:
    """sentry-cli 3.x, the test dependency pinned in pyproject.toml (same CI rule as 2.x)."""
    binary = Path(sys.executable).parent / "sentry-cli"
    if binary.exists():
        return str(binary)
    reason = f"sentry-cli 3.x not installed beside {sys.executable}: pip install -e '.[test]'"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)
