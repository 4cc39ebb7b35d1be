"""The release name handed to later steps: variable names, NAME=value lines, heredoc blocks."""

from __future__ import annotations

import pytest

from sentry_release.errors import ConfigError
from sentry_release.exports import env_lines, export_names, file_commands, release_env
from tests.action.test_action import parse_outputs


@pytest.mark.parametrize(
    ("given", "names"),
    [
        ((), ("SENTRY_RELEASE",)),
        (("",), ("SENTRY_RELEASE",)),
        (("VITE_SENTRY_RELEASE",), ("SENTRY_RELEASE", "VITE_SENTRY_RELEASE")),
        (("A B,C", "A"), ("SENTRY_RELEASE", "A", "B", "C")),
        (("SENTRY_RELEASE NEXT_PUBLIC_RELEASE",), ("SENTRY_RELEASE", "NEXT_PUBLIC_RELEASE")),
    ],
)
def test_export_names(given: tuple[str, ...], names: tuple[str, ...]) -> None:
    assert export_names(given) == names


@pytest.mark.parametrize("bad", ["1ABC", "VITE-RELEASE", "A=B", "GITHUB_SHA", "PATH"])
def test_export_names_refuses_what_a_shell_or_the_runner_cannot_take(bad: str) -> None:
    with pytest.raises(ConfigError, match="--env-name"):
        export_names([bad])


def test_env_lines_and_file_commands_carry_the_same_values() -> None:
    values = release_env("web@1.2.3", ("SENTRY_RELEASE", "VITE_SENTRY_RELEASE"))
    assert env_lines(values) == "SENTRY_RELEASE=web@1.2.3\nVITE_SENTRY_RELEASE=web@1.2.3\n"
    assert parse_outputs(file_commands(values)) == values
