"""Compatibility with getsentry/action-release and sentry-cli: leftover inputs, log level,
allow_failure, custom headers, and messages in the action's words."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import requests
import responses

from sentry_release import action
from sentry_release.config.build import from_values
from sentry_release.config.connection import parse_headers, resolve_headers
from sentry_release.config.options import OPTIONS, action_spellings, action_words
from sentry_release.errors import ConfigError, GateFailed, NotFoundError
from sentry_release.output import Output
from sentry_release.redact import redact
from sentry_release.runtime import debug_requested, report_failure
from sentry_release.sentry.transport import Transport
from sentry_standin import DevServer
from tests.helpers import ORG, TOKEN, make_repo, run_cli


def action_env(tmp_path: Path, **inputs: str) -> dict[str, str]:
    """A runner's environment with these INPUT_* (names in snake_case)."""
    environ = {"GITHUB_WORKSPACE": str(tmp_path), "HOME": str(tmp_path)}
    environ.update({f"INPUT_{k.upper()}": v for k, v in inputs.items()})
    return environ


def run_action(environ: dict[str, str]) -> tuple[int, str, str]:
    """action.main with captured output: (exit code, stdout, job summary)."""
    stdout = io.StringIO()
    summary = Path(environ["GITHUB_WORKSPACE"]) / "summary.md"
    environ = {**environ, "GITHUB_STEP_SUMMARY": str(summary)}
    out = action.ActionOutput(github=True, is_tty=False, stdout=stdout, stderr=io.StringIO())
    code = action.main(environ, out)
    return code, stdout.getvalue(), summary.read_text() if summary.exists() else ""


# --- leftover inputs ----------------------------------------------------------------------


def test_a_leftover_commit_input_in_auto_mode_is_a_warning(tmp_path: Path) -> None:
    config = action.action_config(
        action_env(tmp_path, set_commits="auto", commit="c" * 40, repo="acme/web")
    )
    assert config.values["commit_mode"] == "auto"
    assert "commits" not in config.values
    assert config.warnings == (
        "repo, commit only apply to set_commits: manual; set_commits is auto, so they are "
        "ignored: drop them or set set_commits: manual",
    )


def test_repo_and_commit_still_mean_manual_when_set_commits_is_not_given(tmp_path: Path) -> None:
    config = action.action_config(action_env(tmp_path, repo="acme/web", commit="c" * 40))
    assert config.values["commit_mode"] == "manual" and not config.warnings


# --- SENTRY_LOG_LEVEL ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "debug"),
    [("debug", True), ("TRACE", True), ("info", True), ("warn", False), ("error", False)],
)
def test_sentry_log_level_as_sentry_cli_takes_it(tmp_path: Path, level: str, debug: bool) -> None:
    environ = {**action_env(tmp_path), "SENTRY_LOG_LEVEL": level}
    assert debug_requested(environ) is debug
    settings = from_values(action.action_config(environ).values, cwd=tmp_path)
    assert settings.debug is debug


def test_the_debug_input_wins_over_sentry_log_level(tmp_path: Path) -> None:
    environ = {**action_env(tmp_path, debug="false"), "SENTRY_LOG_LEVEL": "debug"}
    assert from_values(action.action_config(environ).values, cwd=tmp_path).debug is False


def test_cli_takes_sentry_log_level(server: DevServer, env: dict[str, str]) -> None:
    done = run_cli(["new", "1.0"], {**env, "SENTRY_LOG_LEVEL": "debug"})
    assert done.returncode == 0, done.stderr
    assert "debug: sentry_release" in done.stderr  # the HTTP log --debug shows
    quiet = run_cli(["new", "1.1"], {**env, "SENTRY_LOG_LEVEL": "warn"})
    assert "debug:" not in quiet.stderr


# --- allow_failure ------------------------------------------------------------------------


def quiet() -> tuple[Output, io.StringIO]:
    stderr = io.StringIO()
    return Output(stdout=io.StringIO(), stderr=stderr, is_tty=False), stderr


@pytest.mark.parametrize(
    ("error", "code"),
    [(ConfigError("bad"), 0), (NotFoundError("gone"), 0), (GateFailed("regressed"), 3)],
)
def test_allow_failure_turns_release_failures_into_a_warning(error: Exception, code: int) -> None:
    out, stderr = quiet()
    assert report_failure(error, out, debug=False, allow_failure=True).code == code
    said = stderr.getvalue()
    if code == 0:
        assert said.startswith(f"warning: {error} (allow_failure is set: exiting with 0)")
        assert "error:" not in said
    else:
        assert said == f"error: {error}\n"
    assert report_failure(error, quiet()[0], debug=False).code != 0  # off by default


def test_action_allow_failure_input_on_a_remote_failure(server: DevServer, tmp_path: Path) -> None:
    environ = action_env(
        tmp_path,
        url=server.url,
        auth_token=TOKEN,
        org="no-such-org",
        projects="web",
        release="1.0",
        set_commits="skip",
        allow_failure="true",
    )
    code, stdout, summary = run_action(environ)
    assert code == 0
    assert "::warning::" in stdout and "allow_failure is set: exiting with 0" in stdout
    assert "::error" not in stdout
    assert "❌" in summary  # the summary still tells what failed


def test_sentry_allow_failure_covers_a_bad_input_before_settings(tmp_path: Path) -> None:
    environ = {**action_env(tmp_path, dry_run="maybe"), "SENTRY_ALLOW_FAILURE": "1"}
    code, stdout, _ = run_action(environ)
    assert code == 0 and "dry_run must be true or false" in stdout
    assert run_action(action_env(tmp_path, dry_run="maybe"))[0] == 2


def test_cli_allow_failure_flag_and_env(server: DevServer, env: dict[str, str]) -> None:
    wrong = {**env, "SENTRY_ORG": "no-such-org"}
    assert run_cli(["new", "1.0"], wrong).returncode == 1
    assert run_cli(["--allow-failure", "new", "1.0"], wrong).returncode == 0
    done = run_cli(["new", "1.0"], {**wrong, "SENTRY_ALLOW_FAILURE": "true"})
    assert done.returncode == 0 and "allow_failure is set" in done.stderr


# --- custom headers -----------------------------------------------------------------------


def test_headers_parse_as_sentry_cli_writes_them() -> None:
    assert parse_headers("X-Proxy-Auth: abc123secret\n\nX-Team:  web ") == {
        "X-Proxy-Auth": "abc123secret",
        "X-Team": "web",
    }
    assert parse_headers(("A: 1", "B: 2:3")) == {"A": "1", "B": "2:3"}
    assert parse_headers(None) == {}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("no colon here", "is not `Name: value`"),
        ("Bad Name: x", "is not `Name: value`"),
        ("Authorization: Bearer x", "is set by sentry-release itself"),
    ],
)
def test_a_bad_header_is_one_clear_line(raw: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_headers(raw)


def test_headers_from_sentryclirc_unless_given(tmp_path: Path) -> None:
    rc = tmp_path / ".sentryclirc"
    rc.write_text("[defaults]\ncustom_header = X-From-Rc: yes\n")
    assert resolve_headers(None, [rc]) == {"X-From-Rc": "yes"}
    assert resolve_headers("X-Given: 1", [rc]) == {"X-Given": "1"}  # replaces, as sentry-cli
    settings = from_values({}, cwd=tmp_path, home=None)
    assert settings.custom_headers == {"X-From-Rc": "yes"}


def test_custom_header_input_and_env_reach_settings(tmp_path: Path) -> None:
    config = action.action_config(action_env(tmp_path, custom_header="X-A: 1\nX-B: 2"))
    assert from_values(config.values, cwd=tmp_path).custom_headers == {"X-A": "1", "X-B": "2"}
    environ = {**action_env(tmp_path), "CUSTOM_HEADER": "X-Env: 3"}
    settings = from_values(action.action_config(environ).values, cwd=tmp_path)
    assert settings.custom_headers == {"X-Env": "3"}


def test_header_values_never_reach_the_output(tmp_path: Path) -> None:
    settings = from_values({"custom_headers": "X-Proxy-Auth: proxy-secret-value"}, cwd=tmp_path)
    assert "proxy-secret-value" not in repr(settings)
    assert "proxy-secret-value" not in redact("header was proxy-secret-value")


@responses.activate
def test_headers_go_to_sentry_only_never_to_a_foreign_host() -> None:
    sentry = "https://sentry.example.com"
    responses.get(f"{sentry}/api/0/organizations/acme/", json={})
    responses.get("https://us.sentry.example.com/api/0/x/", json={})  # a region host
    responses.get("https://chunks.example.net/upload/", json={})
    transport = Transport(sentry, "tok-123456789", headers={"X-Proxy-Auth": "abc"})
    transport.request("GET", "/organizations/acme/")
    transport.request("GET", "https://us.sentry.example.com/api/0/x/")
    transport.request("GET", "https://chunks.example.net/upload/")
    sent = [(c.request.url, c.request.headers.get("X-Proxy-Auth")) for c in responses.calls]
    assert sent == [
        (f"{sentry}/api/0/organizations/acme/", "abc"),
        ("https://us.sentry.example.com/api/0/x/", "abc"),
        ("https://chunks.example.net/upload/", None),
    ]


def test_custom_header_arrives_at_the_standin(server: DevServer, env: dict[str, str]) -> None:
    done = run_cli(["new", "2.0"], {**env, "CUSTOM_HEADER": "X-Proxy-Auth: let-me-in-please"})
    assert done.returncode == 0, done.stderr
    seen = [r["headers"].get("x-proxy-auth") for r in server.store.requests]
    assert seen and set(seen) == {"let-me-in-please"}
    created = requests.get(
        f"{server.url}api/0/organizations/{ORG}/releases/2.0/",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert created.status_code == 200


# --- messages in the action's words --------------------------------------------------------


def test_action_spellings_come_from_the_options_table() -> None:
    words = action_spellings()
    assert words["--ignore-missing"] == "ignore_missing: true"
    assert words["--no-finalize"] == "finalize: false"
    assert words["--retry-budget"] == "the env var SENTRY_RELEASE_RETRY_BUDGET"
    assert words["SENTRY_AUTH_TOKEN"] == "auth_token"
    assert words["--window"] == "gate_window"
    for option in OPTIONS:  # every input-backed long flag is translated
        for flag in option.flags:
            if option.input and not option.replaced_by and flag.startswith("--"):
                assert option.input in words[flag]


@pytest.mark.parametrize(
    ("message", "said"),
    [
        (
            "not in history: or pass --ignore-missing to send the last 20 commits",
            "not in history: or pass ignore_missing: true to send the last 20 commits",
        ),
        ("raise it with --retry-budget)", "raise it with the env var SENTRY_RELEASE_RETRY_BUDGET)"),
        ("auth token is missing: set SENTRY_AUTH_TOKEN or pass --auth-token",
         "auth token is missing: set the auth_token input"),
        ("check --ignore-file; or --ignore x", "check --ignore-file; or ignore x"),
        ("SENTRY_ORG_X and --orgs stay", "SENTRY_ORG_X and --orgs stay"),
    ],
)  # fmt: skip
def test_action_words(message: str, said: str) -> None:
    assert action_words(message) == said


def test_action_errors_and_summary_name_inputs(tmp_path: Path) -> None:
    make_repo(tmp_path, commits=1)
    code, stdout, summary = run_action(action_env(tmp_path, org="acme", projects="web"))
    assert code == 2
    assert "::error title=Invalid configuration::auth token is missing: set the auth_token" in (
        stdout
    )
    assert "--auth-token" not in stdout + summary and "SENTRY_AUTH_TOKEN" not in stdout + summary
    assert "set the auth_token input" in summary
