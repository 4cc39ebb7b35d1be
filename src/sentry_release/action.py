"""The GitHub front door: INPUT_* -> the same Settings the CLI builds, then the pipeline.

Everything the runner gives or takes passes through here: inputs and GITHUB_* variables in,
`::add-mask::`/`::group::`/`::error::` workflow commands, `$GITHUB_OUTPUT` and the Markdown
job summary out. The summary and outputs are written even when a step fails, from what the
pipeline had done by then.
"""

from __future__ import annotations

import os
import sys
import traceback
import uuid
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sentry_release.config.settings import Settings, from_values, parse_bool
from sentry_release.errors import ConfigError, GateFailed, SentryReleaseError
from sentry_release.output import Output, human_bytes, md_cell
from sentry_release.redact import redact, register_secret

# action input -> the canonical value name `settings.from_values()` takes (the CLI's names).
INPUTS: dict[str, str] = {
    "url": "url",
    "org": "org",
    "auth_token": "auth_token",
    "projects": "projects",
    "environment": "environment",
    "release": "release",
    "release_prefix": "release_prefix",
    "tag_pattern": "tag_pattern",
    "release_url": "release_url",
    "finalize": "finalize",
    "set_commits": "commit_mode",
    "ignore_missing": "ignore_missing",
    "ignore_empty": "ignore_empty",
    "sourcemaps": "sourcemaps",
    "inject": "inject",
    "dist": "dist",
    "url_prefix": "url_prefix",
    "url_suffix": "url_suffix",
    "strip_prefix": "strip_prefix",
    "strip_common_prefix": "strip_common_prefix",
    "ignore": "ignore",
    "started_at": "started",
    "deploy_name": "deploy_name",
    "deploy_url": "deploy_url",
    "gate": "gate",
    "gate_grace": "grace",
    "gate_window": "window",
    "gate_timeout": "gate_timeout",
    "gate_query": "gate_query",
    "max_new_issues": "max_new_issues",
    "min_events": "min_events",
    "min_users": "min_users",
    "max_error_ratio": "max_ratio",
    "health_url": "health_url",
    "health_status": "health_status",
    "on_inconclusive": "on_inconclusive",
    "on_api_error": "on_api_error",
    "gate_dry_run": "gate_dry_run",
    "gate_report_only": "report_only",  # deploy gate, second generation (issue #14)
    "gate_auth_token": "gate_auth_token",
    "dry_run": "dry_run",
    "debug": "debug",
    "ca_bundle": "ca_bundle",
}
# Inputs that shape the run here rather than in Settings.
LOCAL_INPUTS = (
    "repo",
    "commit",
    "previous_commit",
    "working_directory",
    "disable_telemetry",
    "disable_safe_directory",
)
# getsentry/action-release's old names, still accepted (with a warning).
DEPRECATED = {"version": "release", "version_prefix": "release_prefix"}
# What the CLI reads from the environment when a flag is absent; the action does the same.
ENV_FALLBACKS = {
    "url": "SENTRY_URL",
    "auth_token": "SENTRY_AUTH_TOKEN",
    "org": "SENTRY_ORG",
    "projects": "SENTRY_PROJECT",
    "environment": "SENTRY_ENVIRONMENT",
    "ca_bundle": "SENTRY_CA_BUNDLE",
    "gate_auth_token": "SENTRY_GATE_AUTH_TOKEN",
}
KNOWN_INPUTS = frozenset(INPUTS) | frozenset(LOCAL_INPUTS) | frozenset(DEPRECATED)
OUTPUT_NAMES = (
    "release",
    "version",
    "commits",
    "bundle_ids",
    "deploy_id",
    "gate_verdict",
    "new_issues",
    "rollback_hint",
)


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
    for key, variable in ENV_FALLBACKS.items():
        if key not in values and environ.get(variable, "").strip():
            values[key] = environ[variable]
    if "debug" not in values and environ.get("RUNNER_DEBUG") == "1":
        values["debug"] = "true"

    repo, commit, previous = (inputs.get(n) for n in ("repo", "commit", "previous_commit"))
    if repo or commit or previous:
        mode = (values.get("commit_mode") or "manual").strip().lower()
        if mode != "manual":
            raise ConfigError(
                f"repo/commit/previous_commit are for set_commits: manual, but set_commits is "
                f"{mode}: set set_commits: manual or drop them"
            )
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
    return ActionConfig(values, workspace.resolve(), not disable_safe, tuple(warnings))


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


def format_outputs(outputs: Mapping[str, str], delimiter: str | None = None) -> str:
    """`name<<DELIM` heredoc blocks, safe for values with newlines."""
    blocks = []
    for name, value in outputs.items():
        delim = delimiter or f"ghadelimiter_{uuid.uuid4()}"
        while delim in value:
            delim = f"ghadelimiter_{uuid.uuid4()}"
        blocks.append(f"{name}<<{delim}\n{value}\n{delim}\n")
    return "".join(blocks)


def append_file(path: str | None, text: str, out: Output) -> None:
    """Append to a runner file command (no-op outside the runner; a warning if unwritable)."""
    if not path or not text:
        return
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(redact(text))
    except OSError as exc:
        out.warn(f"cannot write {path}: {exc.strerror or exc}")


# --- what the run did ---------------------------------------------------------------------


@dataclass
class RunState:
    """What the summary and outputs are made from; filled as the pipeline goes."""

    version: str | None = None
    version_source: str | None = None
    settings: Settings | None = None
    result: Any = None  # pipeline.PipelineResult (typed loosely: imported lazily)
    failed_step: str | None = None
    error: SentryReleaseError | None = None
    error_text: str | None = None


def outputs_for(state: RunState) -> dict[str, str]:
    """The action's outputs from what the run did (empty strings for what it did not do)."""
    result = state.result
    version = state.version or ""
    commits = getattr(result, "commits", None)
    upload = getattr(result, "upload", None)
    deploy = getattr(result, "deploy", None)
    gate = getattr(result, "gate", None)
    return {
        "release": version,
        "version": version,
        "commits": str(commits.count) if commits is not None else "",
        "bundle_ids": " ".join(upload.bundle_ids) if upload is not None else "",
        "deploy_id": deploy.id if deploy is not None else "",
        "gate_verdict": gate.verdict if gate is not None else "",
        "new_issues": str(len(gate.new_issues)) if gate is not None else "",
        "rollback_hint": gate.rollback_hint if gate is not None else "",
    }


def release_link(settings: Settings | None, version: str) -> str | None:
    """The release's page in Sentry."""
    if settings is None or not settings.org:
        return None
    base = settings.url.rstrip("/")
    return f"{base}/organizations/{settings.org}/releases/{quote(version, safe='')}/"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines.extend("| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows)
    return lines


def _short(sha: str | None) -> str:
    return sha[:12] if sha else ""


def render_summary(state: RunState) -> str:
    """The Markdown job summary: what a person reads instead of the log."""
    result = state.result
    settings = state.settings
    version = state.version
    lines: list[str] = []
    failed = state.error is not None or state.error_text is not None
    icon = "❌" if failed else "✅"
    if version:
        link = release_link(settings, version)
        name = f"[`{version}`]({link})" if link else f"`{version}`"
        lines.append(f"## {icon} Sentry release {name}")
    else:
        lines.append(f"## {icon} Sentry release")
    lines.append("")
    if settings is not None and settings.dry_run:
        lines += ["> **Dry run**: requests were printed to the log, none was sent.", ""]
    facts: list[list[str]] = []
    if version and state.version_source:
        facts.append(["Release name from", state.version_source])
    if settings is not None:
        if settings.org:
            facts.append(["Organization", f"`{settings.org}`"])
        if settings.projects:
            facts.append(["Projects", ", ".join(f"`{p}`" for p in settings.projects)])
    release = getattr(result, "release", None)
    if release is not None:
        facts.append(["Release", "created" if release.created else "already existed"])
    if result is not None:
        facts.append(["Finalized", "yes" if result.finalized else "no"])
    if state.failed_step:
        facts.append(["Failed step", f"**{state.failed_step}**"])
    if facts:
        lines += _table(["", ""], facts)
        lines.append("")

    gate = getattr(result, "gate", None)
    if failed and not (isinstance(state.error, GateFailed) and gate is not None):
        title = state.error.title if state.error is not None else "sentry-release failed"
        text = state.error_text or str(state.error)
        lines += [f"### ❌ {title}", "", f"> {md_cell(text)}", ""]

    commits = getattr(result, "commits", None)
    if commits is not None:
        lines += [f"### Commits ({commits.count})", ""]
        if commits.associations:
            lines += _table(
                ["Repository", "Mode", "From", "To", "Commits"],
                [
                    [
                        f"`{a.repository}`",
                        a.mode,
                        f"`{_short(a.previous)}`" if a.previous else "(first release)",
                        f"`{_short(a.head)}`",
                        str(a.count),
                    ]
                    for a in commits.associations
                ],
            )
        else:
            lines.append(f"No commits associated (mode {commits.mode}).")
        if commits.warnings:
            lines += ["", *(f"- ⚠️ {md_cell(w)}" for w in commits.warnings)]
        lines.append("")

    injected = getattr(result, "injected", None)
    upload = getattr(result, "upload", None)
    if upload is not None or injected is not None:
        lines += ["### Source maps", ""]
        rows: list[list[str]] = []
        if injected is not None:
            changed = sum(1 for f in injected.files if f.changed)
            rows.append(
                [
                    "Debug IDs injected",
                    f"{changed} new, {len(injected.files) - changed} already present",
                ]
            )
        if upload is not None:
            rows.append(["Files uploaded", str(upload.files)])
            rows.append(
                [
                    "Size",
                    f"{human_bytes(upload.bytes_total)} ({human_bytes(upload.bytes_sent)} sent)",
                ]
            )
            rows.append(
                ["Artifact bundles", ", ".join(f"`{b}`" for b in upload.bundle_ids) or "none"]
            )
        lines += _table(["", ""], rows)
        if upload is not None and upload.warnings:
            lines += ["", *(f"- ⚠️ {md_cell(w)}" for w in upload.warnings)]
        lines.append("")

    deploy = getattr(result, "deploy", None)
    if deploy is not None:
        record = deploy.deploy
        env = record.get("environment") or (settings.deploy.environment if settings else "")
        lines += ["### Deploy", ""]
        rows = [["Environment", f"`{env}`"], ["Deploy id", str(deploy.id)]]
        if record.get("name"):
            rows.append(["Name", str(record["name"])])
        if record.get("url"):
            rows.append(["URL", str(record["url"])])
        if record.get("dateStarted"):
            rows.append(["Started", str(record["dateStarted"])])
        if record.get("dateFinished"):
            rows.append(["Finished", str(record["dateFinished"])])
        rows.append(["Recorded by this run", "yes" if deploy.created else "no (already there)"])
        lines += _table(["", ""], rows)
        lines.append("")

    if gate is not None:
        from sentry_release.gate.render import render_markdown

        section = render_markdown(gate)
        if settings is not None and settings.gate.dry_run:
            section = section.replace(
                f": {gate.verdict}", f": {gate.verdict} (dry run: not enforced)", 1
            )
        lines += [section, ""]
    return "\n".join(lines).rstrip() + "\n"


# --- running ----------------------------------------------------------------------------


class ActionOutput(Output):
    """Output that also remembers the step in progress, to name it when it fails."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.current_step: str | None = None

    @contextmanager
    def group(self, name: str) -> Iterator[None]:
        """A `::group::` per step; the step's name is kept while it runs."""
        self.current_step = name
        with super().group(name):
            yield
        self.current_step = None


def mask(value: str | None, out: Output, masked: set[str]) -> None:
    """Tell the runner to hide a secret in the log, once, and redact it ourselves."""
    value = (value or "").strip()
    if value and value not in masked:
        masked.add(value)
        out.stdout.write(f"::add-mask::{value}\n")
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
    environ: MutableMapping[str, str], out: ActionOutput, state: RunState, masked: set[str]
) -> None:
    """Inputs -> Settings -> pipeline; fills `state` as it goes (raises on failure)."""
    from sentry_release.cli import Runtime, configure_logging, warn_plain_http
    from sentry_release.steps.pipeline import PipelineResult, run
    from sentry_release.steps.release import propose_version

    config = action_config(environ)
    for warning in config.warnings:
        out.warn(warning)
    workdir = Path(config.values["cwd"])
    if config.safe_directory:
        extra = safe_directory_env(environ, safe_directories(config.workspace, workdir))
        environ.update(extra)
    home = Path(environ["HOME"]) if environ.get("HOME") else None
    settings = from_values(config.values, cwd=config.workspace, home=home)
    state.settings = settings
    # Like action-release (sentry-cli run in that directory): relative paths such as
    # `sourcemaps` are read from the working directory.
    os.chdir(settings.working_directory)
    mask(settings.auth_token, out, masked)  # e.g. from a .sentryclirc in the checkout
    settings.require("auth_token", "org", "projects")
    for warning in settings.warnings:
        out.warn(warning)
    configure_logging(settings.debug)
    warn_plain_http(settings, out)

    runtime = Runtime(settings, out)
    repo = runtime.repo(
        required=settings.commits.mode in ("auto", "local") or settings.release is None
    )
    proposed = propose_version(settings, repo, environ)
    state.version, state.version_source = proposed.version, proposed.source

    def on_step(partial: PipelineResult) -> None:
        state.result = partial

    state.result = run(settings, runtime.client(), repo, out, environ=environ, on_step=on_step)


def main(environ: MutableMapping[str, str] | None = None, out: ActionOutput | None = None) -> int:
    """The container's entry point: run, report, and return the exit code."""
    environ = os.environ if environ is None else environ
    out = out or ActionOutput(github=True)
    masked: set[str] = set()
    mask_token(environ, out, masked)
    state = RunState()
    code = 0
    try:
        run_action(environ, out, state, masked)
    except SentryReleaseError as exc:
        state.error, state.failed_step = exc, out.current_step
        if state.settings is not None and state.settings.debug:
            sys.stderr.write(redact(traceback.format_exc()))
        out.error(str(exc), title=exc.title)
        code = exc.exit_code
    except Exception as exc:  # a bug: one line, traceback when debugging
        state.failed_step = out.current_step
        state.error_text = f"internal error: {exc.__class__.__name__}: {redact(str(exc))}"
        sys.stderr.write(redact(traceback.format_exc()))
        out.error(state.error_text, title="sentry-release crashed")
        code = 1
    finally:
        if state.version or state.result is not None:
            append_file(environ.get("GITHUB_OUTPUT"), format_outputs(outputs_for(state)), out)
        append_file(environ.get("GITHUB_STEP_SUMMARY"), render_summary(state), out)
    return code


__all__ = ["ConfigError", "main"]
