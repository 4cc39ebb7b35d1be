"""The CLI's habits: common options before or after the command, `--json` everywhere, `--help`
in sections, one error line with the right exit code. In-process against the stand-in."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from sentry_release.cli import run_cli
from tests.helpers import ORG, make_repo


@pytest.fixture
def shell(env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This process set up like the user's shell: the stand-in's env, a git checkout."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("SENTRY_RELEASE_DEBUG", raising=False)
    repo = tmp_path / "repo"
    make_repo(repo, commits=2)
    monkeypatch.chdir(repo)
    logger = logging.getLogger("sentry_release")  # --debug configures it for this process
    monkeypatch.setattr(logger, "handlers", [])
    monkeypatch.setattr(logger, "level", logger.level)
    return env


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    import os

    code = run_cli(args, environ=dict(os.environ))
    done = capsys.readouterr()
    return code, done.out, done.err


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_goes_before_or_after_the_command(
    shell: dict[str, str], capsys: pytest.CaptureFixture[str], where: str
) -> None:
    args = ["--debug", "new", "1.0"] if where == "before" else ["new", "1.0", "--debug"]
    code, out, err = cli(args, capsys)
    assert code == 0, err
    assert "Created release 1.0" in out
    assert "debug: sentry_release" in err


def test_connection_flag_before_the_command_wins_over_the_environment(
    shell: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(["--org", "nope", "new", "1.0"], capsys)
    assert code == 1 and "nope" in err  # the flag was used, not SENTRY_ORG
    code, _, err = cli(["--org", "nope", "new", "1.0", "--org", ORG], capsys)
    assert code == 0, err  # the command's own flag wins


@pytest.mark.parametrize(
    ("args", "key"),
    [
        (["propose-version"], "release"),
        (["new", "2.0"], "created"),
        (["finalize", "2.0"], "finalized"),
        (["deploy", "2.0", "-e", "staging"], "id"),
        (["deploys", "2.0"], "deploys"),
        (["info", "2.0"], "version"),
        (["set-commits", "2.0", "--mode", "local"], "count"),
        (["run", "2.1", "--mode", "skip", "-e", "staging"], "deploy_id"),
    ],
)
def test_json_is_one_object_on_stdout(
    shell: dict[str, str], capsys: pytest.CaptureFixture[str], args: list[str], key: str
) -> None:
    if args[0] not in ("propose-version", "new", "run"):
        assert cli(["new", "2.0"], capsys)[0] == 0
    code, out, err = cli([*args, "--json"], capsys)
    assert code == 0, err
    data = json.loads(out)  # nothing else on stdout
    assert key in data


def test_json_before_the_command_too(
    shell: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(["--json", "new", "3.0"], capsys)
    assert code == 0, err
    assert json.loads(out)["version"] == "3.0"
    assert "Created release 3.0" in err  # the line still reaches the person, on stderr


def test_run_help_is_in_sections(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(["run", "--help"], capsys)
    assert code == 0
    headings = [line for line in out.splitlines() if line and not line.startswith(" ")]
    for section in ("Connection:", "Commits:", "Source maps:", "Deploy:", "Deploy gate:"):
        assert section in headings
    assert out.index("Commits:") < out.index("--mode") < out.index("Source maps:")
    assert "[env: SENTRY_ORG]" in out


def test_bad_input_is_one_line_and_exit_2(
    shell: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(["--timeout", "soon", "new", "1.0"], capsys)
    assert out == ""
    assert code == 2
    assert err.strip().splitlines() == [
        "error: timeout must be a duration like 300, 300s, 5m or 1h, got 'soon'"
    ]
