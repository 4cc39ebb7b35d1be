"""The socket is pre-opened only for a networked command named as the command: a folder or
value named like one (`inject run`, `--org run propose-version`) opens nothing."""

from __future__ import annotations

import pytest

from sentry_release import preconnect
from sentry_release.config.options import COMMON, select

ENV = {"SENTRY_URL": "https://sentry.example.com/"}


@pytest.mark.parametrize(
    "argv",
    [
        ["inject", "run"],
        ["inject", "dist", "new"],
        ["propose-version", "--cwd", "run"],
        ["--org", "run", "propose-version"],
        ["-o", "deploy", "inject", "dist"],
        ["--project", "new", "inject", "."],
    ],
)
def test_a_word_that_is_not_the_command_opens_nothing(argv: list[str]) -> None:
    assert preconnect.target(argv, ENV) is None


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "1.0"],
        ["--org", "acme", "new", "1.0"],
        ["--dry-run", "--org=acme", "-p", "web", "deploy", "1.0", "-e", "prod"],
        ["--debug", "--json", "info", "1.0"],
        ["-pweb", "-oacme", "finalize", "1.0"],
    ],
)
def test_the_networked_command_still_opens_its_socket(argv: list[str]) -> None:
    assert preconnect.target(argv, ENV) == ("sentry.example.com", 443)


def test_the_group_flags_are_those_of_the_options_table() -> None:
    flags = {f for o in select(COMMON) if o.switch == "flag" for f in o.flags}
    assert flags <= preconnect.GROUP_FLAGS
