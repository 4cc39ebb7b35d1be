"""Fixtures: the Sentry stand-in on 127.0.0.1 and an environment for the real CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sentry_release.redact import clear_secrets
from sentry_standin import DevServer, Store
from tests.helpers import ORG, PROJECTS, TOKEN, cli_env


@pytest.fixture
def server() -> Iterator[DevServer]:
    """A fresh stand-in with org `acme`, projects `web` and `api`, token TOKEN."""
    with DevServer(Store(orgs=(ORG,), projects=PROJECTS, tokens=(TOKEN,))) as srv:
        yield srv


@pytest.fixture
def env(server: DevServer, tmp_path: Path) -> dict[str, str]:
    """Environment pointing the CLI at the stand-in, with an empty HOME."""
    home = tmp_path / "home"
    home.mkdir()
    return cli_env(server.url, home=home)


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    yield
    clear_secrets()
