"""runtime: one client and one repo per run, the time scale, the one error -> exit mapping."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from sentry_release.config.settings import Settings
from sentry_release.errors import ConfigError, GateFailed, NotFoundError
from sentry_release.output import Output
from sentry_release.runtime import Runtime, failure_of, report_failure, time_scale
from tests.helpers import make_repo


def quiet() -> tuple[Output, io.StringIO, io.StringIO]:
    stdout, stderr = io.StringIO(), io.StringIO()
    return Output(stdout=stdout, stderr=stderr, is_tty=False), stdout, stderr


def test_client_and_repo_are_built_once_per_run(tmp_path: Path) -> None:
    make_repo(tmp_path, commits=1)
    out, _, _ = quiet()
    rt = Runtime(Settings(working_directory=tmp_path, auth_token="t"), out, {})
    client = rt.client()
    assert rt.client() is client  # one session, one connection pool
    repo = rt.repo()
    assert repo is not None and rt.repo() is repo


@pytest.mark.parametrize(
    ("environ", "scale", "base"),
    [({}, 1.0, 0.5), ({"SENTRY_RELEASE_TIME_SCALE": "0.25"}, 0.25, 0.2)],
)
def test_time_scale_shrinks_backoff_never_below_the_floor(
    environ: dict[str, str], scale: float, base: float
) -> None:
    assert time_scale(environ) == scale
    out, _, _ = quiet()
    client = Runtime(Settings(auth_token="t"), out, environ).client()
    assert client.transport.retry.base == base  # 0.5 * 0.25 would be 0.125: floored at 0.2
    assert client.transport.retry.cap == 20.0 * scale


@pytest.mark.parametrize("raw", ["0", "-1", "2", "fast"])
def test_time_scale_ignores_what_is_not_a_fraction(raw: str) -> None:
    assert time_scale({"SENTRY_RELEASE_TIME_SCALE": raw}) == 1.0


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ConfigError("bad"), 2),
        (NotFoundError("gone"), 1),
        (GateFailed("regressed"), 3),
        (KeyboardInterrupt(), 130),
        (RuntimeError("bug"), 1),
    ],
)
def test_one_mapping_from_error_to_exit_code(error: BaseException, code: int) -> None:
    assert failure_of(error).code == code


def test_failure_is_one_line_on_a_terminal_and_an_annotation_on_github() -> None:
    error = ConfigError("first line\nsecond line")
    out, _, stderr = quiet()
    report_failure(error, out, debug=False)
    assert stderr.getvalue() == "error: first line second line\n"
    github, stdout, _ = quiet()
    github.github = True
    report_failure(error, github, debug=False)
    assert stdout.getvalue() == "::error title=Invalid configuration::first line%0Asecond line\n"


def test_a_bug_says_so_and_points_at_debug(capsys: pytest.CaptureFixture[str]) -> None:
    out, _, stderr = quiet()
    try:
        raise RuntimeError("disk on fire")
    except RuntimeError as exc:
        failure = report_failure(exc, out, debug=False)
    assert failure.code == 1
    assert stderr.getvalue() == (
        "error: internal error: RuntimeError: disk on fire (run with --debug for details)\n"
    )
    assert "Traceback" not in capsys.readouterr().err
