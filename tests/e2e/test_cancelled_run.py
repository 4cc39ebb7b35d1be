"""SIGINT and SIGTERM during a run (a cancelled job, a Ctrl-C): one line, every log group
closed, the outputs known so far, a job summary that says the run was cancelled and which
steps were and were not done, exit 130 / 143, no traceback. The signal is real (sent to this
process while the upload step runs); the run is in process against the stand-in."""

from __future__ import annotations

import io
import os
import signal
from pathlib import Path

import pytest

from sentry_release import action
from sentry_release.cli import run_cli
from sentry_release.output import Output
from sentry_standin import DevServer
from tests.helpers import ORG, TOKEN, make_repo

SIGNALS = [(signal.SIGINT, 130, "SIGINT"), (signal.SIGTERM, 143, "SIGTERM")]


@pytest.fixture
def signalled_upload(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """The upload step receives the signal (as the runner sends it to a cancelled job)."""
    signum = request.param

    def upload(*args: object, **kwargs: object) -> None:
        os.kill(os.getpid(), signum)
        raise AssertionError("the signal did not stop the run")

    monkeypatch.setattr("sentry_release.steps.pipeline.upload_sourcemaps", upload)


def workspace(tmp_path: Path) -> Path:
    repo = tmp_path / "ws"
    make_repo(repo)
    (repo / "dist").mkdir()
    (repo / "dist" / "app.js").write_text("console.log(1)\n")
    return repo


@pytest.mark.parametrize(
    ("signalled_upload", "code", "name"), SIGNALS, indirect=["signalled_upload"]
)
def test_the_action_ends_honestly_when_cancelled(
    server: DevServer, tmp_path: Path, signalled_upload: None, code: int, name: str
) -> None:
    repo = workspace(tmp_path)
    files = tmp_path / "files"
    files.mkdir()
    environ = {
        "GITHUB_WORKSPACE": str(repo),
        "HOME": str(tmp_path),
        "GITHUB_OUTPUT": str(files / "output"),
        "GITHUB_STEP_SUMMARY": str(files / "summary"),
        "INPUT_URL": server.url,
        "INPUT_AUTH_TOKEN": TOKEN,
        "INPUT_ORG": ORG,
        "INPUT_PROJECTS": "web",
        "INPUT_RELEASE": "1.0",
        "INPUT_SET_COMMITS": "skip",
        "INPUT_SOURCEMAPS": "dist",
        "INPUT_INJECT": "false",
        "INPUT_ENVIRONMENT": "prod",
    }
    stdout, stderr = io.StringIO(), io.StringIO()
    out = action.ActionOutput(github=True, is_tty=False, stdout=stdout, stderr=stderr)
    cwd = os.getcwd()
    try:
        assert action.main(environ, out) == code
    finally:
        os.chdir(cwd)
    log = stdout.getvalue() + stderr.getvalue()
    assert "Traceback" not in log
    errors = [line for line in log.splitlines() if line.startswith("::error")]
    assert errors == [f"::error title=Cancelled::cancelled by {name} during Upload source maps"]
    assert log.count("::group::") == log.count("::endgroup::") > 0
    assert "release<<" in (files / "output").read_text()  # the outputs known so far
    summary = (files / "summary").read_text()
    assert "✅" not in summary.splitlines()[0] and "cancelled" in summary.splitlines()[0]
    assert f"Cancelled by {name} during **Upload source maps**" in summary
    assert "| Done | Create release |" in summary
    assert "| Not done | Upload source maps, Finalize release, Record deploy |" in summary
    assert server.store.requests[-1]["path"].endswith("/releases/")  # nothing after create


@pytest.mark.parametrize("signalled_upload", [signal.SIGTERM], indirect=True)
def test_a_second_signal_does_not_cut_the_report_short(
    server: DevServer, tmp_path: Path, signalled_upload: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = action.render_summary

    def render(state: action.RunState) -> str:
        os.kill(os.getpid(), signal.SIGTERM)  # the runner's second signal, while we report
        return real(state)

    monkeypatch.setattr(action, "render_summary", render)
    repo = workspace(tmp_path)
    summary = tmp_path / "summary"
    environ = {
        "GITHUB_WORKSPACE": str(repo),
        "HOME": str(tmp_path),
        "GITHUB_STEP_SUMMARY": str(summary),
        "INPUT_URL": server.url,
        "INPUT_AUTH_TOKEN": TOKEN,
        "INPUT_ORG": ORG,
        "INPUT_PROJECTS": "web",
        "INPUT_RELEASE": "1.0",
        "INPUT_SET_COMMITS": "skip",
        "INPUT_SOURCEMAPS": "dist",
        "INPUT_INJECT": "false",
    }
    out = action.ActionOutput(github=True, is_tty=False, stdout=io.StringIO(), stderr=io.StringIO())
    cwd = os.getcwd()
    try:
        assert action.main(environ, out) == 143
    finally:
        os.chdir(cwd)
    assert "(cancelled)" in summary.read_text()


@pytest.mark.parametrize(
    ("signalled_upload", "code", "name"), SIGNALS, indirect=["signalled_upload"]
)
def test_the_cli_ends_with_one_line_when_cancelled(
    server: DevServer, tmp_path: Path, signalled_upload: None, code: int, name: str
) -> None:
    repo = workspace(tmp_path)
    stdout, stderr = io.StringIO(), io.StringIO()
    out = Output(stdout=stdout, stderr=stderr, is_tty=False)
    environ = {"SENTRY_AUTH_TOKEN": TOKEN, "HOME": str(tmp_path)}
    args = ["run", "1.0", "--auth-token", TOKEN, "--url", server.url, "--org", ORG]
    args += ["--project", "web", "--cwd", str(repo), "--mode", "skip", "--sourcemaps", "dist"]
    args += ["--no-inject", "-e", "prod"]
    assert run_cli(args, environ=environ, out=out) == code, stderr.getvalue()
    assert "Traceback" not in stdout.getvalue() + stderr.getvalue()
    assert stderr.getvalue().splitlines()[-1] == (
        f"error: cancelled by {name} during Upload source maps"
    )
