"""Fixtures: the Sentry stand-in on 127.0.0.1 and an environment for the real CLI."""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

import sentry_standin.app
from sentry_release.redact import clear_secrets
from sentry_standin import DevServer, Options, Store
from tests.helpers import (
    KNOWN_CLIENT_BUGS,
    KNOWN_CLIENT_FEATURES,
    ORG,
    PROJECTS,
    TOKEN,
    URL_PREFIX,
    cli_env,
)

# The one place the product's tests relax the stand-in (see tests/helpers.py for why).
PRODUCT_TEST_OPTIONS = Options(
    url_prefix=URL_PREFIX,
    lenient=frozenset(KNOWN_CLIENT_BUGS),
    features=frozenset(KNOWN_CLIENT_FEATURES),
)
STANDIN_TESTS = Path(__file__).parent / "standin"


@pytest.fixture(autouse=True)
def _standin_options(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every stand-in a product test builds gets PRODUCT_TEST_OPTIONS unless it passes its
    own; the stand-in's own tests (tests/standin/) keep the strict default."""
    if STANDIN_TESTS not in Path(str(request.node.path)).parents:
        monkeypatch.setattr(sentry_standin.app, "DEFAULT_OPTIONS", PRODUCT_TEST_OPTIONS)


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """An interop test is a slow one: the fast subset (-m "not slow") runs no other client."""
    for item in items:
        if item.get_closest_marker("interop") is not None:
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None]:
    """Under CI=true a skipped interop test is a failure: a missing install step (sentry-cli,
    sentry-sdk) must not pass for a green run."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if (
        report.skipped
        and os.environ.get("CI", "").lower() == "true"
        and item.get_closest_marker("interop") is not None
    ):
        report.outcome = "failed"
        report.longrepr = f"interop test skipped under CI=true: {report.longrepr}"
