"""Error and warning messages name what Sentry refused and the fix: an unknown project
slug, a URL that already holds /api/0/, a connection refused (not a retry budget), and a dirty
checkout when the release was named explicitly. In-process against the stand-in."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from sentry_release.cli import run_cli
from sentry_release.runtime import TIME_SCALE_ENV


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = run_cli(list(args), environ={**os.environ, TIME_SCALE_ENV: "0.05"})
    return code, capsys.readouterr().err


def test_an_unknown_project_slug_is_named_with_the_projects_there_are(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = cli(capsys, "new", "1.0", "-p", "wbe")
    assert code == 1
    assert "Invalid project slugs" in err  # Sentry's own words, kept
    assert "no project 'wbe' in organization 'acme'" in err
    assert "--project / SENTRY_PROJECT" in err and "its projects: " in err and "web" in err


def test_a_url_with_the_api_path_names_the_root_to_give(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = os.environ["SENTRY_URL"].rstrip("/") + "/api/0/"
    code, err = cli(capsys, "new", "1.0", "--url", url)
    assert code == 2
    assert "already holds the API path /api/0/" in err
    assert f"server's root, {os.environ['SENTRY_URL']}" in err
    assert "organization not found" not in err


def test_a_refused_connection_says_so_not_the_retry_budget(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, err = cli(capsys, "new", "1.0", "--url", f"http://127.0.0.1:{port}/")
    assert code == 1
    assert f"connection refused by 127.0.0.1:{port}" in err
    assert "check SENTRY_URL" in err and "refused 3 times" in err
    assert "retry budget" not in err


@pytest.mark.parametrize("explicit", [True, False])
def test_a_dirty_checkout_is_described_as_it_is(
    checkout: Path, capsys: pytest.CaptureFixture[str], explicit: bool
) -> None:
    Path("src/file0.txt").write_text("changed on disk\n")
    named = ["7.0"] if explicit else []
    code, err = cli(capsys, "run", *named, "--mode", "local", "--no-finalize")
    assert code == 0, err
    if explicit:
        assert "keeps the name you gave" in err and "named for HEAD" not in err
    else:
        assert "the release is named for HEAD" in err
