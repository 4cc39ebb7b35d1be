"""Text from outside (release and deploy names, server messages, file names) cannot drive the
terminal: control characters, C1 codes and bidi overrides are printed escaped, on a terminal
and on GitHub alike; names Sentry stores are checked alike (no line breaks, no controls)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from sentry_release.config.build import from_values
from sentry_release.errors import ConfigError
from sentry_release.output import Output

HOSTILE = "rel\x1b[2J\x1b]0;title\x07\x9b31m\u202egnp.exe\rok\x00"
SHOWN = "rel\\x1b[2J\\x1b]0;title\\x07\\x9b31m\\u202egnp.exe\\rok\\x00"


def outputs(github: bool) -> tuple[Output, io.StringIO, io.StringIO]:
    stdout, stderr = io.StringIO(), io.StringIO()
    return Output(stdout=stdout, stderr=stderr, github=github, is_tty=False), stdout, stderr


@pytest.mark.parametrize("github", [False, True])
def test_every_kind_of_line_is_escaped(github: bool) -> None:
    out, stdout, stderr = outputs(github)
    out.result(f"Release {HOSTILE} created")
    out.info(f"note {HOSTILE}")
    out.warn(f"warned {HOSTILE}")
    out.error(f"failed {HOSTILE}", title=f"title {HOSTILE}")
    with out.group(f"group {HOSTILE}"):
        pass
    out.table(["name"], [[HOSTILE]])
    text = stdout.getvalue() + stderr.getvalue()
    for bad in ("\x1b", "\x9b", "\u202e", "\x07", "\x00", "\r"):
        assert bad not in text
    assert f"Release {SHOWN} created" in text


def test_line_breaks_and_tabs_stay() -> None:
    out, stdout, _ = outputs(False)
    out.result("a\tb\nc")
    assert stdout.getvalue() == "a\tb\nc\n"


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"deploy_name": "blue\ngreen"}, "deploy name 'blue\\\\ngreen' contains a newline"),
        ({"deploy_name": "blue\x1b[31m"}, "deploy name .* contains a control character"),
        ({"environment": "prod\x1b[31m"}, "environment .* contains a control character"),
        ({"deploy_name": "x" * 65}, "deploy name is 65 characters"),
    ],
)
def test_names_sentry_stores_are_checked_alike(
    tmp_path: Path, values: dict[str, str], says: str
) -> None:
    with pytest.raises(ConfigError, match=says):
        from_values({"environment": "prod", **values}, cwd=tmp_path)
