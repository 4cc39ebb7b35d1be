"""The action's pure parts: inputs -> values, paths, safe.directory, outputs, summary."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sentry_release import action
from sentry_release.config.build import from_values
from sentry_release.config.settings import Settings
from sentry_release.errors import ConfigError
from sentry_release.steps.pipeline import PipelineResult
from sentry_release.steps.release import ReleaseResult
from tests.helpers import make_repo

GATE_ISSUE = {
    "id": "1",
    "short_id": "",
    "title": "",
    "level": "error",
    "status": "unresolved",
    "substatus": "new",
    "unhandled": False,
    "events": 5,
    "users": 1,
    "first_seen": None,
    "last_seen": None,
    "permalink": None,
    "project_id": "1",
    "project_slug": "web",
}


def parse_outputs(text: str) -> dict[str, str]:
    """Read a $GITHUB_OUTPUT file the way the runner does (heredoc blocks)."""
    outputs: dict[str, str] = {}
    lines = iter(text.split("\n"))
    for line in lines:
        if not line:
            continue
        name, sep, delim = line.partition("<<")
        assert sep, f"not a heredoc line: {line!r}"
        value: list[str] = []
        for inner in lines:
            if inner == delim:
                break
            value.append(inner)
        else:
            raise AssertionError(f"unterminated value for {name}")
        outputs[name] = "\n".join(value)
    return outputs


# --- inputs ---------------------------------------------------------------------------------


def test_inputs_read_in_both_spellings_snake_case_wins_and_empty_is_unset() -> None:
    inputs = action.read_inputs(
        {
            "INPUT_SET-COMMITS": "skip",
            "INPUT_DEPLOY-NAME": "kebab",
            "INPUT_DEPLOY_NAME": "snake",
            "INPUT_DIST": "",
            "INPUT_URL PREFIX": "~/static",
            "PATH": "/bin",
        }
    )
    assert inputs == {"set_commits": "skip", "deploy_name": "snake", "url_prefix": "~/static"}


def test_action_values_use_the_cli_names_and_env_fallbacks(tmp_path: Path) -> None:
    config = action.action_config(
        {
            "GITHUB_WORKSPACE": str(tmp_path),
            "INPUT_PROJECTS": "web api",
            "INPUT_SET_COMMITS": "skip",
            "INPUT_STARTED_AT": "1700000000",
            "INPUT_GATE_GRACE": "1m",
            "INPUT_MAX_ERROR_RATIO": "2",
            "SENTRY_ORG": "acme",
            "SENTRY_AUTH_TOKEN": "tok",
            "SENTRY_PROJECT": "ignored-because-input-wins",
        }
    )
    values = config.values
    assert values["projects"] == "web api"
    assert values["org"] == "acme" and values["auth_token"] == "tok"
    assert values["commit_mode"] == "skip"
    assert values["started"] == "1700000000"
    assert values["grace"] == "1m" and values["max_ratio"] == "2"
    assert values["cwd"] == str(tmp_path.resolve())
    assert config.safe_directory is True


def test_deprecated_version_inputs_still_work_with_a_warning(tmp_path: Path) -> None:
    config = action.action_config(
        {"GITHUB_WORKSPACE": str(tmp_path), "INPUT_VERSION": "1.0", "INPUT_VERSION_PREFIX": "web@"}
    )
    assert config.values["release"] == "1.0" and config.values["release_prefix"] == "web@"
    assert any("version is deprecated" in w for w in config.warnings)
    new = action.action_config(
        {"GITHUB_WORKSPACE": str(tmp_path), "INPUT_VERSION": "1.0", "INPUT_RELEASE": "2.0"}
    )
    assert new.values["release"] == "2.0"


def test_unknown_input_is_a_warning(tmp_path: Path) -> None:
    config = action.action_config({"GITHUB_WORKSPACE": str(tmp_path), "INPUT_ENVIRONEMNT": "x"})
    assert config.warnings == (
        "unknown input environemnt is ignored: see the README for the inputs",
    )


def test_repo_commit_previous_become_a_manual_spec(tmp_path: Path) -> None:
    base = {"GITHUB_WORKSPACE": str(tmp_path), "INPUT_REPO": "acme/web", "INPUT_COMMIT": "b" * 40}
    config = action.action_config({**base, "INPUT_PREVIOUS_COMMIT": "a" * 40})
    assert config.values["commit_mode"] == "manual"
    assert config.values["commits"] == [f"acme/web@{'a' * 40}..{'b' * 40}"]
    assert action.action_config(base).values["commits"] == [f"acme/web@{'b' * 40}"]
    # manual with nothing given: this repository at this commit, as the runner names them
    config = action.action_config(
        {
            "GITHUB_WORKSPACE": str(tmp_path),
            "INPUT_SET_COMMITS": "manual",
            "GITHUB_REPOSITORY": "acme/api",
            "GITHUB_SHA": "c" * 40,
        }
    )
    assert config.values["commits"] == [f"acme/api@{'c' * 40}"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"INPUT_REPO": "not-a-repo", "INPUT_COMMIT": "abc"}, "repo must look like owner/name"),
        ({"INPUT_SET_COMMITS": "manual"}, "repo or commit is missing"),
        ({"INPUT_WORKING_DIRECTORY": "../elsewhere"}, "outside the workspace"),
        ({"INPUT_DISABLE_TELEMETRY": "maybe"}, "disable_telemetry must be true or false"),
        ({"INPUT_DISABLE_SAFE_DIRECTORY": "yes please"}, "disable_safe_directory must be true"),
    ],
)
def test_bad_inputs_are_one_clear_line(tmp_path: Path, extra: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        action.action_config({"GITHUB_WORKSPACE": str(tmp_path), **extra})


def test_working_directory_resolves_inside_the_workspace(tmp_path: Path) -> None:
    (tmp_path / "apps" / "web").mkdir(parents=True)
    web = (tmp_path / "apps/web").resolve()
    assert action.resolve_working_directory(tmp_path, "apps/web") == web
    assert (
        action.resolve_working_directory(tmp_path, "apps/../apps/web/.")
        == (tmp_path / "apps/web").resolve()
    )
    assert (
        action.resolve_working_directory(tmp_path, str(tmp_path / "apps"))
        == (tmp_path / "apps").resolve()
    )
    assert action.resolve_working_directory(tmp_path, None) == tmp_path.resolve()
    for escape in ("..", "/etc", "apps/../../x"):
        with pytest.raises(ConfigError, match="outside the workspace"):
            action.resolve_working_directory(tmp_path, escape)
    (tmp_path / "link").symlink_to("/tmp")
    with pytest.raises(ConfigError, match="outside the workspace"):
        action.resolve_working_directory(tmp_path, "link")


def test_defaults_in_action_yml_give_the_same_settings_as_no_inputs(tmp_path: Path) -> None:
    """`uses: docker://image` gets no defaults from action.yml: the code's must match."""
    import yaml

    spec = yaml.safe_load((Path(__file__).parents[2] / "action.yml").read_text())
    defaults = {
        f"INPUT_{name.upper()}": str(meta["default"])
        for name, meta in spec["inputs"].items()
        if "default" in meta
    }
    assert defaults, "action.yml declares no defaults"
    base = {"GITHUB_WORKSPACE": str(tmp_path), "SENTRY_ORG": "acme", "SENTRY_PROJECT": "web"}

    def settings(env: dict[str, str]) -> Settings:
        config = action.action_config(env)
        return from_values(config.values, cwd=tmp_path, home=None)

    assert settings({**base, **defaults}) == settings(base)


def test_action_builds_the_same_settings_as_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same request through both front doors -> equal Settings."""
    import sentry_release.steps.pipeline as pipeline
    from sentry_release.cli import run_cli

    repo = tmp_path / "ws"
    make_repo(repo, commits=1)
    seen: list[Settings] = []

    def fake_run(settings: Settings, *args: Any, **kwargs: Any) -> PipelineResult:
        seen.append(settings)
        return PipelineResult("1.0", "explicit")

    monkeypatch.setattr(pipeline, "run", fake_run)
    for key in list(os.environ):
        if key.startswith(("SENTRY_", "INPUT_", "GITHUB_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(repo)
    common = {"SENTRY_URL": "http://127.0.0.1:9/", "SENTRY_AUTH_TOKEN": "tok-123456"}
    for key, value in common.items():
        monkeypatch.setenv(key, value)
    code = run_cli(
        [
            "run",
            "1.0",
            "--org",
            "acme",
            "-p",
            "web",
            "-p",
            "api",
            "--mode",
            "skip",
            "--env",
            "production",
            "--name",
            "blue",
            "--deploy-url",
            "https://example.com",
            "--started",
            "1700000000",
            "--dist",
            "42",
            "--url-prefix",
            "~/static",
            "--strip-common-prefix",
            "--sourcemaps",
            "dist",
            "--no-inject",
            "--no-finalize",
            "--gate",
            "--grace",
            "1m",
            "--window",
            "2m",
            "--max-new-issues",
            "2",
            "--min-events",
            "5",
            "--max-ratio",
            "2.5",
            "--health-url",
            "http://127.0.0.1:9/health",
            "--on-inconclusive",
            "fail",
            "--on-api-error",
            "pass",
            "--gate-dry-run",
            "--release-prefix",
            "web@",
        ]
    )
    assert code == 0
    environ = {
        **common,
        "GITHUB_WORKSPACE": str(repo),
        "HOME": str(tmp_path),
        "INPUT_RELEASE": "1.0",
        "INPUT_ORG": "acme",
        "INPUT_PROJECTS": "web api",
        "INPUT_SET_COMMITS": "skip",
        "INPUT_ENVIRONMENT": "production",
        "INPUT_DEPLOY_NAME": "blue",
        "INPUT_DEPLOY_URL": "https://example.com",
        "INPUT_STARTED_AT": "1700000000",
        "INPUT_DIST": "42",
        "INPUT_URL_PREFIX": "~/static",
        "INPUT_STRIP_COMMON_PREFIX": "true",
        "INPUT_SOURCEMAPS": "dist",
        "INPUT_INJECT": "false",
        "INPUT_FINALIZE": "false",
        "INPUT_GATE": "true",
        "INPUT_GATE_GRACE": "1m",
        "INPUT_GATE_WINDOW": "2m",
        "INPUT_MAX_NEW_ISSUES": "2",
        "INPUT_MIN_EVENTS": "5",
        "INPUT_MAX_ERROR_RATIO": "2.5",
        "INPUT_HEALTH_URL": "http://127.0.0.1:9/health",
        "INPUT_ON_INCONCLUSIVE": "fail",
        "INPUT_ON_API_ERROR": "pass",
        "INPUT_GATE_DRY_RUN": "true",
        "INPUT_RELEASE_PREFIX": "web@",
        "INPUT_DISABLE_SAFE_DIRECTORY": "true",
    }
    out = action.ActionOutput(github=True, is_tty=False)
    assert action.main(environ, out) == 0
    cli_settings, action_settings = seen
    assert action_settings == cli_settings
    assert action_settings.gate.max_ratio == 2.5 and action_settings.deploy.name == "blue"


# --- safe.directory -------------------------------------------------------------------------


def test_safe_directory_env_appends_to_existing_config(tmp_path: Path) -> None:
    (tmp_path / "sub" / ".git").mkdir(parents=True)
    (tmp_path / "sub" / "app").mkdir()
    paths = action.safe_directories(tmp_path, tmp_path / "sub" / "app")
    assert paths == [str(tmp_path), str(tmp_path / "sub" / "app"), str(tmp_path / "sub")] or (
        paths == [str(tmp_path), str(tmp_path / "sub"), str(tmp_path / "sub" / "app")]
    )
    env = action.safe_directory_env(
        {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "core.x", "GIT_CONFIG_VALUE_0": "y"},
        [str(tmp_path)],
    )
    assert env == {
        "GIT_CONFIG_KEY_1": "safe.directory",
        "GIT_CONFIG_VALUE_1": str(tmp_path),
        "GIT_CONFIG_COUNT": "2",
    }


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a repo owned by someone else")
def test_safe_directory_env_lets_git_read_a_foreign_checkout(tmp_path: Path) -> None:
    repo = tmp_path / "ws"
    make_repo(repo, commits=1)
    subprocess.run(["chown", "-R", "12345:12345", str(repo)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_CONFIG")}
    env["HOME"] = str(tmp_path)  # no global safe.directory from the machine
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    cmd = ["git", "-C", str(repo), "rev-parse", "HEAD"]
    refused = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert refused.returncode != 0 and "dubious ownership" in refused.stderr
    env.update(action.safe_directory_env(env, action.safe_directories(repo, repo)))
    allowed = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert allowed.returncode == 0, allowed.stderr
    assert not (tmp_path / ".gitconfig").exists()  # nothing written to the user's config


# --- outputs and summary --------------------------------------------------------------------


def test_outputs_are_heredoc_blocks_safe_for_newlines_and_delimiters() -> None:
    text = action.format_outputs(
        {"a": "one", "b": "two\nlines", "c": "ghadelimiter_x"}, delimiter="ghadelimiter_x"
    )
    assert parse_outputs(text) == {"a": "one", "b": "two\nlines", "c": "ghadelimiter_x"}
    assert text.startswith("a<<ghadelimiter_x\none\nghadelimiter_x\n")


def test_a_crash_mid_step_still_writes_summary_and_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """on_step's partial result and the step in progress survive an unexpected error."""
    import sentry_release.steps.pipeline as pipeline

    repo = tmp_path / "ws"
    make_repo(repo, commits=1)

    def crashing_run(settings: Settings, client: Any, repo: Any, out: Any, **kw: Any) -> None:
        partial = PipelineResult("7.0", "explicit")
        partial.release = ReleaseResult("7.0", True, ("web",), {})
        kw["on_step"](partial)
        with out.group("Upload source maps"):
            raise RuntimeError("disk on fire")

    monkeypatch.setattr(pipeline, "run", crashing_run)
    monkeypatch.chdir(tmp_path)
    output, summary = tmp_path / "out", tmp_path / "summary"
    environ = {
        "GITHUB_WORKSPACE": str(repo),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "HOME": str(tmp_path),
        "INPUT_RELEASE": "7.0",
        "INPUT_ORG": "acme",
        "INPUT_PROJECTS": "web",
        "INPUT_AUTH_TOKEN": "sekrit-token-value",
        "INPUT_URL": "http://127.0.0.1:9/",
        "INPUT_SET_COMMITS": "skip",
    }
    code = action.main(environ, action.ActionOutput(github=True, is_tty=False))
    assert code == 1
    printed = capsys.readouterr()
    assert printed.out.startswith("::add-mask::sekrit-token-value\n")
    assert "::error title=sentry-release crashed::internal error: RuntimeError: disk on fire" in (
        printed.out
    )
    md = summary.read_text()
    assert "| Failed step | **Upload source maps** |" in md and "| Release | created |" in md
    assert parse_outputs(output.read_text())["release"] == "7.0"
    assert "sekrit-token-value" not in md + printed.out.split("\n", 1)[1] + printed.err
    assert environ["GIT_CONFIG_VALUE_0"] == str(repo.resolve())  # safe.directory, this process
