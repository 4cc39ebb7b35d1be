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
    ACTIVE_CLOCK,
    KNOWN_CLIENT_BUGS,
    KNOWN_CLIENT_FEATURES,
    ORG,
    PROJECTS,
    TOKEN,
    URL_PREFIX,
    SimClock,
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


@pytest.fixture(autouse=True)
def sim() -> Iterator[SimClock]:
    """The test's simulated clock, shared by the stand-in (`server`; a test's own stand-in
    takes `clock=sim.now`) and every in-process run of the CLI or the action: retry waits,
    429 waits and the gate's polls take no time."""
    clock = SimClock()
    ACTIVE_CLOCK.append(clock)
    yield clock
    ACTIVE_CLOCK.remove(clock)


@pytest.fixture
def server(sim: SimClock) -> Iterator[DevServer]:
    """A fresh stand-in with org `acme`, projects `web` and `api`, token TOKEN, on `sim`."""
    store = Store(orgs=(ORG,), projects=PROJECTS, tokens=(TOKEN,), clock=sim.now)
    with DevServer(store) as srv:
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


# The fast loop's budget: outside `slow`, a test whose setup, call and teardown take longer
# fails the run, so the README's test command stays under a minute. Make the test faster (the
# `sim` clock, in-process runs) or mark it slow. SENTRY_RELEASE_TEST_BUDGET overrides it
# (seconds; 0 turns it off, e.g. on a machine loaded by other work).
BUDGET = float(os.environ.get("SENTRY_RELEASE_TEST_BUDGET", "2"))
_spent: dict[str, float] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None]:
    """Under CI=true a skipped interop test is a failure: a missing install step (sentry-cli,
    sentry-sdk) must not pass for a green run. A fast test over BUDGET fails at teardown."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    spent = _spent.get(item.nodeid, 0.0) + report.duration
    _spent[item.nodeid] = spent
    if (
        report.when == "teardown"
        and BUDGET > 0
        and spent > BUDGET
        and item.get_closest_marker("slow") is None
        and report.passed
    ):
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid} took {spent:.2f}s, over the fast loop's {BUDGET:g}s budget: "
            "make it faster (tests.helpers.SimClock, in-process runs) or mark it slow"
        )
    if (
        report.skipped
        and os.environ.get("CI", "").lower() == "true"
        and item.get_closest_marker("interop") is not None
    ):
        report.outcome = "failed"
        report.longrepr = f"interop test skipped under CI=true: {report.longrepr}"
