"""The GitHub front door: INPUT_* -> the same Settings the CLI builds, then the pipeline.

Everything the runner gives or takes passes through here: inputs and GITHUB_* variables in,
`::add-mask::`/`::group::`/`::error::` workflow commands, `$GITHUB_OUTPUT` and the Markdown
job summary out. The summary and outputs are written even when a step fails, from what the
pipeline had done by then.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentry_release.config.build import from_values
from sentry_release.config.options import BY_INPUT, BY_KEY, OPTIONS, action_words
from sentry_release.config.parse import parse_bool
from sentry_release.errors import Cancelled, ConfigError, SentryReleaseError
from sentry_release.exports import export_names, release_env
from sentry_release.exports import file_commands as format_outputs
from sentry_release.output import Output
from sentry_release.redact import redact, register_secret
from sentry_release.report import RunState, outputs_for, render_summary
from sentry_release.runtime import (
    REAL_TIME,
    Clock,
    Runtime,
    cancellable,
    debug_requested,
    parse_flag,
    report_failure,
)

# Every input is an option of config/options.py. Those with a Settings field map to its value
# name; the others (repo, commit, previous_commit, working_directory, disable_*) shape the run
# here; the deprecated ones (getsentry/action-release's old names) still work, with a warning.
INPUTS = {o.input: o.key for o in OPTIONS if o.input and o.field}  # input -> value name
DEPRECATED = {o.input: o.replaced_by for o in OPTIONS if o.input and o.replaced_by}
KNOWN_INPUTS = frozenset(BY_INPUT)


# --- reading the runner's environment (pure) ----------------------------------------------


def read_inputs(environ: Mapping[str, str]) -> dict[str, str]:
    """Inputs by snake_case name from `INPUT_FOO_BAR` or `INPUT_FOO-BAR`; empty means unset.

    The runner upper-cases an input's name and replaces spaces with `_`, keeping `-`, so an
    input can arrive in either spelling; the snake_case one wins when both are set.
    """
    inputs: dict[str, str] = {}
    for key in sorted(environ, key=lambda k: "-" not in k):  # kebab first, snake overwrites
        if not key.startswith("INPUT_"):
            continue
        value = environ[key]
        if value.strip() == "":
            continue
        name = key[len("INPUT_") :].lower().replace("-", "_").replace(" ", "_")
        inputs[name] = value
    return inputs


@dataclass(frozen=True)
class ActionConfig:
    """What the inputs ask for: the values for `from_values()` plus the action-only choices."""

    values: dict[str, Any]
    workspace: Path
    safe_directory: bool
    warnings: tuple[str, ...] = field(default=())
    command: str = "run"  # or propose-version: name the release, export it, nothing else
    exports: tuple[str, ...] = ("SENTRY_RELEASE",)  # GITHUB_ENV variables set to the name


def commit_spec(repo: str, commit: str, previous: str | None) -> str:
    """`owner/repo@PREV..SHA` (or `owner/repo@SHA`) as the manual mode takes it."""
    if "/" not in repo.strip("/") or " " in repo.strip():
        raise ConfigError(f"repo must look like owner/name, got {repo!r}")
    head = commit.strip()
    return f"{repo.strip()}@{previous.strip()}..{head}" if previous else f"{repo.strip()}@{head}"


def resolve_working_directory(workspace: Path, value: str | None) -> Path:
    """`working_directory` resolved inside the workspace; anything outside is refused."""
    root = workspace.resolve()
    if not value:
        return root
    target = (root / value).resolve()
    if target != root and root not in target.parents:
        raise ConfigError(
            f"working_directory {value!r} is outside the workspace {root}: "
            "use a path inside the checkout"
        )
    return target


def action_config(environ: Mapping[str, str]) -> ActionConfig:
    """Map INPUT_* and the runner's variables to canonical values; no I/O beyond paths."""
    inputs = read_inputs(environ)
    warnings: list[str] = []
    for old, new in DEPRECATED.items():
        if old in inputs:
            warnings.append(f"input {old} is deprecated: use {new} instead")
            inputs.setdefault(new, inputs[old])
    unknown = sorted(set(inputs) - KNOWN_INPUTS)
    for name in unknown:
        warnings.append(f"unknown input {name} is ignored: see the README for the inputs")

    values: dict[str, Any] = {}
    for name, key in INPUTS.items():
        if name in inputs:
            values[key] = inputs[name]
        elif (variable := BY_KEY[key].env) and environ.get(variable, "").strip():
            values[key] = environ[variable]  # as the CLI reads it when the flag is absent
    if "debug" not in values and (environ.get("RUNNER_DEBUG") == "1" or debug_requested(environ)):
        values["debug"] = "true"

    repo, commit, previous = (inputs.get(n) for n in ("repo", "commit", "previous_commit"))
    if repo or commit or previous:
        mode = (values.get("commit_mode") or "manual").strip().lower()
        if mode != "manual":
            # action-release workflows often keep `commit:` after switching mode: a leftover
            # input is a warning there, so it is one here (it does not apply, nothing breaks).
            given = ", ".join(n for n in ("repo", "commit", "previous_commit") if inputs.get(n))
            warnings.append(
                f"{given} only apply to set_commits: manual; set_commits is {mode}, so they "
                "are ignored: drop them or set set_commits: manual"
            )
            repo = commit = previous = None
        else:
            values["commit_mode"] = "manual"
    if (values.get("commit_mode") or "").strip().lower() == "manual":
        repo = repo or environ.get("GITHUB_REPOSITORY")
        commit = commit or environ.get("GITHUB_SHA")
        if not repo or not commit:
            raise ConfigError(
                "set_commits is manual but repo or commit is missing: set the repo "
                "(owner/name) and commit inputs"
            )
        values["commits"] = [commit_spec(repo, commit, previous)]

    workspace = Path(environ.get("GITHUB_WORKSPACE") or os.getcwd())
    values["cwd"] = str(resolve_working_directory(workspace, inputs.get("working_directory")))
    # Accepted for drop-in compatibility with action-release; this action sends no telemetry.
    parse_bool(inputs.get("disable_telemetry"), name="disable_telemetry")
    disable_safe = parse_bool(inputs.get("disable_safe_directory"), name="disable_safe_directory")
    command = (inputs.get("command") or "run").strip().lower()
    if command not in BY_KEY["command"].choices:
        raise ConfigError(f"command must be run or propose-version, got {command!r}")
    names = export_names([inputs.get("env_name", "")])
    return ActionConfig(
        values, workspace.resolve(), not disable_safe, tuple(warnings), command, names
    )


def safe_directories(workspace: Path, workdir: Path) -> list[str]:
    """The workspace, the working directory and every checkout between them.

    git only trusts a repository owned by another user (the mounted workspace is owned by the
    runner's user, the container runs as root) when its top level is listed as safe.
    """
    paths = [workspace]
    current = workdir
    while current != workspace and workspace in current.parents:
        if (current / ".git").exists():
            paths.append(current)
        current = current.parent
    if workdir not in paths:
        paths.append(workdir)
    return [str(p) for p in paths]


def safe_directory_env(environ: Mapping[str, str], paths: list[str]) -> dict[str, str]:
    """GIT_CONFIG_* variables that add `safe.directory` entries for this process only.

    Scoped to our own process and its git children (git >= 2.31 reads them as command-line
    config, which safe.directory honours): nothing is written to the user's ~/.gitconfig.
    """
    try:
        count = int(environ.get("GIT_CONFIG_COUNT", "0") or 0)
    except ValueError:
        count = 0
    extra: dict[str, str] = {}
    for path in paths:
        extra[f"GIT_CONFIG_KEY_{count}"] = "safe.directory"
        extra[f"GIT_CONFIG_VALUE_{count}"] = path
        count += 1
    extra["GIT_CONFIG_COUNT"] = str(count)
    return extra


# --- runner file commands (pure text, written at the edge) -----------------------------


def append_file(path: str | None, text: str, out: Output) -> None:
    """Append to a runner file command (no-op outside the runner; a warning if unwritable)."""
    if not path or not text:
        return
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(redact(text))
    except OSError as exc:
        out.warn(f"cannot write {path}: {exc.strerror or exc}")


# --- running ----------------------------------------------------------------------------


class ActionOutput(Output):
    """Output in the action's words."""

    def warn(self, line: str) -> None:
        """A warning in the action's words (inputs, not flags)."""
        super().warn(action_words(line))

    def error(self, line: str, *, title: str | None = None) -> None:
        """The final error in the action's words (inputs, not flags)."""
        super().error(action_words(line), title=title)


def mask(value: str | None, out: Output, masked: set[str]) -> None:
    """Tell the runner to hide a secret in the log, once, and redact it ourselves. Each line
    is masked on its own: `::add-mask::` takes one line, so a pasted token with a line break
    would otherwise print its second half."""
    value = (value or "").strip()
    if value and value not in masked:
        masked.add(value)
        for line in (part.strip() for part in value.splitlines()):
            if line:
                out.stdout.write(f"::add-mask::{line}\n")
        out.stdout.flush()
        register_secret(value)


def mask_token(environ: Mapping[str, str], out: Output, masked: set[str]) -> None:
    """Mask every token candidate before anything else is printed."""
    for name in (
        "INPUT_AUTH_TOKEN",
        "INPUT_AUTH-TOKEN",
        "SENTRY_AUTH_TOKEN",
        "INPUT_GATE_AUTH_TOKEN",
        "SENTRY_GATE_AUTH_TOKEN",
    ):
        mask(environ.get(name), out, masked)


def run_action(
    environ: MutableMapping[str, str],
    out: ActionOutput,
    state: RunState,
    masked: set[str],
    clock: Clock = REAL_TIME,
) -> None:
    """Inputs -> Settings -> pipeline; fills `state` as it goes (raises on failure)."""
    from sentry_release.steps.pipeline import PipelineResult, run

    config = action_config(environ)
    for warning in config.warnings:
        out.warn(warning)
    workdir = Path(config.values["cwd"])
    if config.safe_directory:
        extra = safe_directory_env(environ, safe_directories(config.workspace, workdir))
        environ.update(extra)
    home = Path(environ["HOME"]) if environ.get("HOME") else None
    settings = from_values(config.values, cwd=config.workspace, home=home, action=True)
    state.settings = settings
    # Like action-release (sentry-cli run in that directory): relative paths such as
    # `sourcemaps` are read from the working directory.
    os.chdir(settings.working_directory)
    mask(settings.auth_token, out, masked)  # e.g. from a .sentryclirc in the checkout
    if config.command == "propose-version":  # the naming step: no token, no request
        runtime = Runtime.start(settings, out, environ)
        proposed = runtime.propose()
        state.version, state.version_source = proposed.version, proposed.source
        state.exports = release_env(proposed.version, config.exports)
        out.result(f"Release {proposed.version} (from {proposed.source})")
        return
    settings.require("auth_token", "org", "projects")
    runtime = Runtime.start(settings, out, environ, clock)
    if settings.check:
        from sentry_release.steps.check import enforce_check

        with out.group("Check the configuration"):
            enforce_check(settings, runtime.client(), out)
    repo = runtime.repo(required=runtime.needs_repo())
    proposed = runtime.propose()
    state.version, state.version_source = proposed.version, proposed.source

    def on_step(partial: PipelineResult) -> None:
        state.result = partial
        runtime.narrate(partial)

    state.exports = release_env(proposed.version, config.exports)
    state.result = run(
        settings, runtime.client(), repo, out, environ=environ, on_step=on_step, proposed=proposed
    )


def allow_failure(environ: Mapping[str, str], state: RunState) -> bool:
    """The run's allow_failure; read leniently from the input or SENTRY_ALLOW_FAILURE when
    the run stopped before its settings were built (a bad input is a failure it allows)."""
    if state.settings is not None:
        return state.settings.allow_failure
    option = BY_KEY["allow_failure"]
    raw = read_inputs(environ).get(option.input or "") or environ.get(option.env or "", "")
    return parse_flag(raw)


def main(
    environ: MutableMapping[str, str] | None = None,
    out: ActionOutput | None = None,
    clock: Clock = REAL_TIME,
) -> int:
    """The container's entry point: run, report, and return the exit code (a test passes
    its own environment, output and clock)."""
    environ = os.environ if environ is None else environ
    out = out or ActionOutput(github=True)
    masked: set[str] = set()
    mask_token(environ, out, masked)
    state = RunState()
    code = 0
    with cancellable():  # also around the report: a second signal does not cut it short
        try:
            run_action(environ, out, state, masked, clock)
        except (Exception, Cancelled) as exc:
            debug = state.settings is not None and state.settings.debug
            allow = allow_failure(environ, state)
            failure = report_failure(exc, out, debug=debug, allow_failure=allow)
            state.failed_step = out.current_step
            if isinstance(exc, SentryReleaseError):
                state.error = exc
            if isinstance(exc, Cancelled):
                state.cancelled = exc.name
                state.failed_step = exc.step or state.failed_step
            state.error_text = action_words(failure.message)  # in the action's words
            code = failure.code
        finally:
            if state.version or state.result is not None:
                outputs = format_outputs(outputs_for(state))
                append_file(environ.get("GITHUB_OUTPUT"), outputs, out)
            if state.exports:  # the name for later steps: the build, the SDK, the full step
                append_file(environ.get("GITHUB_ENV"), format_outputs(state.exports), out)
            append_file(environ.get("GITHUB_STEP_SUMMARY"), render_summary(state), out)
    return code


__all__ = ["ConfigError", "main"]
