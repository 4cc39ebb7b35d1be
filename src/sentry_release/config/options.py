"""Every option, declared once: its CLI flag, action input, env var, where it lands in
Settings (and so its default) and its help.

The click options (`cli.py`), the action's inputs (`action.py`, checked against `action.yml`
by a test) and the README's input table (`python -m sentry_release.config.options`, checked
by a test) are all derived from `OPTIONS`; `build.from_values` parses by it. A new option
is one `Option(...)` line here plus its field in `settings.py`.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

Kind = Literal["text", "bool", "int", "float", "duration", "time", "list", "choice"]
# How a boolean looks on the command line: `--x` (on), `--x/--no-x`, or `--no-x` (off).
Switch = Literal["", "flag", "pair", "off"]

SECTIONS = (
    "Connection",
    "Release",
    "Commits",
    "Source maps",
    "Deploy",
    "Deploy gate",
    "The run",
)


@dataclass(frozen=True)
class Option:
    """One setting as every front door spells it."""

    key: str  # the value's name: click's parameter name and the key `from_values` reads
    help: str  # one line for `--help` (defaults and env vars are appended)
    section: str  # heading in `run --help` and in the README table
    flags: tuple[str, ...] = ()  # CLI spellings, long first ("--org", "-o"); () = action only
    input: str | None = None  # action input name; None = CLI only
    env: str | None = None  # environment variable read when neither flag nor input is given
    kind: Kind = "text"
    field: str | None = None  # "gate.grace": where it lands in Settings; None = a front door's
    label: str | None = None  # the name in error messages (default: key)
    choices: tuple[str, ...] = ()
    minimum: float = 0
    switch: Switch = ""
    description: str | None = None  # action.yml's description, when it differs from help
    replaced_by: str | None = None  # a deprecated input: the input to use instead
    hidden: bool = False

    @property
    def name(self) -> str:
        """The option's name in error messages."""
        return self.label or self.key

    @property
    def default(self) -> object:
        """The default, read from the Settings model (so it is written in one place)."""
        if self.field is None:
            return None
        *path, last = self.field.split(".")
        owner = _model(tuple(path))
        found = _fields(owner).get(last)
        if found is None:
            raise KeyError(f"{self.field}: no such Settings field")
        if found.default is not dataclasses.MISSING:
            return found.default
        if found.default_factory is not dataclasses.MISSING:
            return found.default_factory()
        return None

    @property
    def action_default(self) -> str | None:
        """The `default:` action.yml shows: booleans only (others depend on the environment)."""
        if self.kind != "bool" or self.input is None or self.replaced_by:
            return None
        return "true" if self.default else "false"

    @property
    def action_description(self) -> str:
        """action.yml's description of the input."""
        return self.description or self.help

    def cli_help(self) -> str:
        """The `--help` line: help, then the default and the env var."""
        text = self.help
        shown = "" if self.switch == "off" else _show(self.default)
        if shown and self.kind == "duration":
            shown += "s"
        if shown and "[default:" not in text:
            text += f" [default: {shown}]"
        if self.env:
            text += f" [env: {self.env}]"
        return text


@functools.cache
def _fields(owner: type) -> dict[str, dataclasses.Field[object]]:
    return {f.name: f for f in dataclasses.fields(owner)}


@functools.cache
def _model(path: tuple[str, ...]) -> type:
    """The Settings dataclass at `path` ("gate" -> GateSettings), found once per path."""
    from sentry_release.config import settings

    owner: type = settings.Settings
    for part in path:
        factory = _fields(owner)[part].default_factory
        assert factory is not dataclasses.MISSING
        owner = type(factory())
    return owner


def _show(value: object) -> str:
    """A default as a person reads it; '' for none worth showing."""
    if value is None or value is False or value in ((), "", {}):
        return ""
    if value is True:
        return "on"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return " ".join(str(v) for v in value)
    return str(value)


CONNECTION = "Connection"
RELEASE = "Release"
COMMITS = "Commits"
MAPS = "Source maps"
DEPLOY = "Deploy"
GATE = "Deploy gate"
RUN = "The run"

O = Option  # noqa: E741 - the table reads better with a short constructor

OPTIONS: tuple[Option, ...] = (
    # --- connection (also from the SENTRY_* environment, as getsentry/action-release reads it)
    O("url", "Sentry URL (self-hosted).", CONNECTION, ("--url",), "url", "SENTRY_URL",
      field="url",
      description="Sentry URL for self-hosted Sentry. Default: SENTRY_URL, else https://sentry.io/."),
    O("org", "Organization slug.", CONNECTION, ("--org", "-o"), "org", "SENTRY_ORG", field="org",
      description="Organization slug. Default: SENTRY_ORG."),
    O("auth_token", "Auth token.", CONNECTION, ("--auth-token",), "auth_token",
      "SENTRY_AUTH_TOKEN", field="auth_token",
      description="Auth token (pass a secret). Default: SENTRY_AUTH_TOKEN. Masked in the log."),
    O("projects", "Project slug; repeat or separate by space/comma.", CONNECTION,
      ("--project", "-p"), "projects", "SENTRY_PROJECT", "list", field="projects",
      description="Space separated project slugs. Default: SENTRY_PROJECT."),
    O("ca_bundle", "CA bundle for self-hosted TLS (also REQUESTS_CA_BUNDLE).", CONNECTION,
      ("--ca-bundle",), "ca_bundle", "SENTRY_CA_BUNDLE", field="ca_bundle",
      description="CA bundle file for self-hosted Sentry with a private CA. "
      "Default: SENTRY_CA_BUNDLE."),
    O("trust_sentryclirc_url", "Let a .sentryclirc in the workspace set the Sentry URL, as "
      "sentry-cli does (off: its url is ignored, so a committed file cannot send the token "
      "elsewhere).", CONNECTION, input="trust_sentryclirc_url", kind="bool",
      field="trust_sentryclirc_url"),
    O("timeout", "Per-request timeout (seconds or 30s/1m).", CONNECTION, ("--timeout",),
      kind="duration", field="timeout"),
    O("retry_budget", "Time one API call may spend retrying.", CONNECTION, ("--retry-budget",),
      env="SENTRY_RELEASE_RETRY_BUDGET", kind="duration", field="retry_budget"),
    # sentry-cli's --header, CUSTOM_HEADER and `[defaults] custom_header` (src/config.rs
    # get_default_headers); parsed by config/connection.py, sent only to Sentry's origin.
    O("custom_headers", "Header for every request to Sentry, `Name: value` (a self-hosted "
      "proxy's); several: one per line.", CONNECTION, ("--header",), "custom_header",
      "CUSTOM_HEADER", field="custom_headers",
      description="Header sent with every request to Sentry, `Name: value` (for a proxy in "
      "front of self-hosted Sentry); several: one per line. Default: CUSTOM_HEADER, else "
      "custom_header in .sentryclirc. Never sent to another host."),
    # --- release name
    O("release", "Release name. Omit to derive it: SENTRY_RELEASE, else as release_from says "
      "(default: as sentry-cli propose-version, the commit sha or a pull request's head).",
      RELEASE, input="release", field="release"),
    O("version", "Deprecated: use release.", RELEASE, input="version", replaced_by="release"),
    O("release_prefix", "Prefix for the release (web@).", RELEASE, ("--release-prefix",),
      "release_prefix", field="release_prefix",
      description="Prepended to the release name (web@)."),
    O("version_prefix", "Deprecated: use release_prefix.", RELEASE, input="version_prefix",
      replaced_by="release_prefix"),
    O("tag_pattern", "Glob for the tags that name the release (web@*); implies --release-from "
      "tag.", RELEASE, ("--tag-pattern",), "tag_pattern", field="tag_pattern",
      description="Glob for the tags that name the release (web@*); implies release_from tag. "
      "Default with release_from tag: version-like tags (v1.2.3, web@1.2.3)."),
    # Checked by version.resolve_scheme (sha | describe | tag | package).
    O("release_from", "Name the release from: sha (as sentry-cli propose-version), describe "
      "(git describe --always), tag (a tag at HEAD), package (name@version of "
      "package.json/pyproject.toml). [default: sha]", RELEASE, ("--release-from",),
      "release_from", field="release_from",
      description="How to name the release when release is not given: sha (as sentry-cli "
      "propose-version: the commit, or a pull request's head), describe (git describe "
      "--always), tag (the pushed tag or a tag at HEAD), package (name@version from "
      "package.json or pyproject.toml). Default: sha."),
    # The naming step (#26): the name exported for the build, read back by the full step.
    O("env_names", "Further variables to export the release name to (VITE_SENTRY_RELEASE), "
      "besides SENTRY_RELEASE; repeatable.", RELEASE, ("--env-name",), "env_name", kind="list",
      description="Further environment variables the release name is exported to for later "
      "steps, besides SENTRY_RELEASE (VITE_SENTRY_RELEASE for a Vite build); several: space "
      "separated."),
    O("export", "Export the name for later steps of a GitHub job: github (SENTRY_RELEASE and "
      "--env-name to GITHUB_ENV, release to GITHUB_OUTPUT).", RELEASE, ("--export",),
      kind="choice", choices=("github",)),
    O("format", "How to print the name: text, or env (NAME=value lines for SENTRY_RELEASE and "
      "--env-name).", RELEASE, ("--format",), kind="choice", choices=("text", "env")),
    O("release_url", "URL of the release (shown in Sentry).", RELEASE, ("--release-url",),
      "release_url", field="release_url", description="URL shown with the release in Sentry."),
    O("create", "Skip `new`.", RELEASE, ("--no-create",), kind="bool", switch="off",
      field="create"),
    O("finalize", "Skip finalize.", RELEASE, ("--no-finalize",), "finalize", kind="bool",
      switch="off", field="finalize",
      description="Mark the release as released. false keeps it unreleased."),
    # --- commits
    O("commit_mode", "auto: repo integration, else local history.", COMMITS, ("--mode",),
      "set_commits", kind="choice", choices=("auto", "local", "manual", "skip"),
      field="commits.mode", label="set_commits",
      description="How to associate commits: auto (repository integration, else local "
      "history), local, manual (repo and commit inputs) or skip. Default: auto."),
    O("commits", "manual mode: owner/repo@SHA or owner/repo@PREV..SHA (repeatable).", COMMITS,
      ("--commit",), kind="list", field="commits.specs"),
    O("repo", "set_commits manual: the repository as Sentry knows it (owner/name). "
      "Default: this repository.", COMMITS, input="repo"),
    O("commit", "set_commits manual: the release's commit sha. Default: GITHUB_SHA.", COMMITS,
      input="commit"),
    O("previous_commit", "set_commits manual: the previous release's commit sha (the range is "
      "previous..commit).", COMMITS, input="previous_commit"),
    O("ignore_missing", "Previous commit missing from history: use the last --initial-depth.",
      COMMITS, ("--ignore-missing",), "ignore_missing", kind="bool", switch="flag",
      field="commits.ignore_missing",
      description="When the previous release's commit is not in the history, send the last "
      "20 commits instead of failing."),
    O("commits_ignore_empty", "No new commits to associate is expected (no warning).", COMMITS,
      ("--ignore-empty-commits",), "ignore_empty", kind="bool", switch="flag",
      field="commits.ignore_empty", label="ignore_empty",
      description="No new commits to associate is expected, as in getsentry/action-release: "
      "said quietly instead of as a warning (it never fails the step here, so re-runs stay "
      "safe). Finding no source maps is sourcemaps_ignore_empty."),
    O("initial_depth", "Commits to send when there is no previous release.", COMMITS,
      ("--initial-depth",), kind="int", minimum=1, field="commits.initial_depth"),
    # --- source maps
    O("sourcemaps", "Paths to inject and upload (repeatable).", MAPS, ("--sourcemaps",),
      "sourcemaps", kind="list", field="sourcemaps.paths",
      description="Space separated paths to JavaScript bundles and source maps. Omit to skip "
      "source maps."),
    O("inject", "Inject debug IDs first.", MAPS, ("--inject",), "inject", kind="bool",
      switch="pair", field="sourcemaps.inject",
      description="Inject debug IDs into the bundles and their source maps before upload."),
    O("ignore_empty", "No files found is not an error.", MAPS, ("--ignore-empty",),
      "sourcemaps_ignore_empty", kind="bool", switch="flag", field="sourcemaps.ignore_empty",
      description="Finding no source map file to upload is not an error."),
    O("dist", "Distribution identifier.", MAPS, ("--dist",), "dist", field="sourcemaps.dist",
      description="Distribution identifier (a build number)."),
    O("url_prefix", "URL prefix for uploaded files.", MAPS, ("--url-prefix",), "url_prefix",
      field="sourcemaps.url_prefix",
      description="URL prefix for uploaded files. Default: ~ (any host)."),
    O("url_suffix", "URL suffix for uploaded files.", MAPS, ("--url-suffix",), "url_suffix",
      field="sourcemaps.url_suffix"),
    O("strip_prefix", "Strip this prefix from paths (repeatable).", MAPS, ("--strip-prefix",),
      "strip_prefix", kind="list", field="sourcemaps.strip_prefixes",
      description="Space separated path prefixes to strip from uploaded file names."),
    O("strip_common_prefix", "Strip the common prefix of all paths.", MAPS,
      ("--strip-common-prefix",), "strip_common_prefix", kind="bool", switch="flag",
      field="sourcemaps.strip_common_prefix",
      description="Strip the common path prefix of the uploaded files."),
    O("ext", "File extensions to upload (repeatable).", MAPS, ("--ext",), kind="list",
      field="sourcemaps.extensions"),
    O("ignore", "Glob to ignore (repeatable).", MAPS, ("--ignore",), "ignore", kind="list",
      field="sourcemaps.ignore", description="Space separated globs of files not to upload."),
    O("ignore_file", ".gitignore-style file of globs to ignore.", MAPS, ("--ignore-file",),
      field="sourcemaps.ignore_file"),
    O("strict", "Validation problems are errors (or, --no-strict, warnings).", MAPS, ("--strict",),
      kind="bool", switch="pair", field="sourcemaps.strict"),
    O("wait", "Wait until Sentry has processed the bundle (else done when accepted).", MAPS,
      ("--wait",), kind="bool", switch="pair", field="sourcemaps.wait"),
    O("concurrency", "Parallel chunk uploads (0: the server's advice).", MAPS,
      ("--concurrency",), kind="int", field="sourcemaps.concurrency"),
    # --- deploy
    O("environment", "Deploy environment.", DEPLOY, ("--env", "-e"), "environment",
      "SENTRY_ENVIRONMENT", field="deploy.environment",
      description="Deploy environment (production). Omit to record no deploy. "
      "Default: SENTRY_ENVIRONMENT."),
    O("deploy", "Skip the deploy.", DEPLOY, ("--no-deploy",), kind="bool", switch="off",
      field="deploy.enabled"),
    O("deploy_name", "Deploy name.", DEPLOY, ("--name", "-n"), "deploy_name",
      field="deploy.name", description="Name of the deploy."),
    O("deploy_url", "URL of the deployed site.", DEPLOY, ("--deploy-url",), "deploy_url",
      field="deploy.url"),
    O("deploy_projects", "Project named on the deploy (repeatable; org:ci tokens cannot).",
      DEPLOY, ("--deploy-project",), kind="list", field="deploy.projects"),
    O("started", "When the deploy started (unix or ISO 8601).", DEPLOY, ("--started",),
      "started_at", kind="time", field="deploy.started", label="started_at",
      description="When the deploy started: unix seconds or ISO 8601. Default: not recorded."),
    O("finished", "When the deploy finished (unix or ISO 8601). [default: now]", DEPLOY,
      ("--finished",), kind="time", field="deploy.finished", label="finished_at"),
    # --- deploy gate
    O("gate", "Run the deploy gate last.", GATE, ("--gate",), "gate", kind="bool",
      switch="pair", field="gate.enabled",
      description="After the deploy, watch Sentry and fail the step (exit 3) when the release "
      "regressed."),
    O("grace", "Delay of the error-rate window after the deploy (issues are watched at once).",
      GATE, ("--grace",), "gate_grace", kind="duration", field="gate.grace",
      description="Delay of the error-rate window after the deploy (issues are watched at "
      "once). Default: 0."),
    O("window", "Observation window.", GATE, ("--window",), "gate_window", kind="duration",
      field="gate.window",
      description="How long to watch the new release's traffic (600, 10m); ends on a whole "
      "--bucket. Default: 600s."),
    O("settle", "Ingestion lag allowance.", GATE, ("--settle",), "gate_settle",
      kind="duration", field="gate.settle",
      description="How long error events may take to arrive. Default: 60s, or half of a "
      "shorter gate_window."),
    O("poll", "Polling interval (>= 10s against sentry.io).", GATE, ("--poll",),
      kind="duration", field="gate.poll",
      description="How often Sentry is read. Default: 10s (at least 10s against a remote "
      "Sentry unless its rate-limit headers leave room for more)."),
    O("gate_timeout", "Give up after this long.", GATE, ("--gate-timeout",), "gate_timeout",
      kind="duration", field="gate.timeout",
      description="Give up watching after this long. Default: when the window, the settle "
      "periods and the wait for late updates are over, and at most 10 minutes after that."),
    O("gate_query", "Issue search query for new issues.", GATE, ("--query",), "gate_query",
      field="gate.query",
      description="Sentry issue search for new issues. Default: unresolved error and fatal "
      "issues."),
    O("max_new_issues", "New issues allowed.", GATE, ("--max-new-issues",), "max_new_issues",
      kind="int", field="gate.max_new_issues",
      description="New issues the release may bring before the gate fails. Default: 0."),
    O("min_events", "Events for an issue to count.", GATE, ("--min-events",), "min_events",
      kind="int", field="gate.min_events",
      description="Events a new issue needs to count. Default: 3."),
    O("min_users", "Users for an issue to count.", GATE, ("--min-users",), "min_users",
      kind="int", field="gate.min_users",
      description="Users a new issue needs to count. Default: 1."),
    O("fail_fast", "Fail at once on a fatal/unhandled new issue.", GATE, ("--fail-fast",),
      kind="bool", switch="pair", field="gate.fail_fast"),
    O("max_ratio", "Error-rate ratio tolerated vs baseline.", GATE, ("--max-ratio",),
      "max_error_ratio", kind="float", minimum=1.0, field="gate.max_ratio",
      label="max_error_ratio",
      description="Error rate of the release over the baseline that fails the gate. "
      "Default: 1.5."),
    O("alpha", "Significance level of the rate test.", GATE, ("--alpha",), kind="float",
      minimum=1e-9, field="gate.alpha"),
    O("min_errors", "Errors needed to fail on rate.", GATE, ("--min-errors",), kind="int",
      field="gate.min_errors"),
    O("min_excess", "Errors above max-ratio x baseline.", GATE, ("--min-excess",), kind="int",
      field="gate.min_excess"),
    O("health_url", "URL to probe (repeatable).", GATE, ("--health-url",), "health_url",
      kind="list", field="gate.health_urls",
      description="Space separated URLs to probe during the window; a failing probe fails "
      "the gate."),
    O("health_status", "Expected status: 2xx, 200, 200-299.", GATE, ("--health-status",),
      "health_status", field="gate.health_status",
      description="Status a health probe must return: 2xx, 200, 200-299. Default: 2xx."),
    O("health_body", "Substring the body must contain.", GATE, ("--health-body",),
      field="gate.health_body"),
    O("health_successes", "Consecutive successes.", GATE, ("--health-successes",), kind="int",
      minimum=1, field="gate.health_successes"),
    O("health_timeout", "Timeout of one health probe.", GATE, ("--health-timeout",),
      kind="duration", field="gate.health_timeout"),
    O("health_any_redirect", "Follow a health URL's redirects to other origins too (default: "
      "the same origin only).", GATE, ("--health-any-redirect",), kind="bool", switch="flag",
      field="gate.health_any_redirect"),
    O("on_inconclusive", "Verdict when there is too little data.", GATE, ("--on-inconclusive",),
      "on_inconclusive", kind="choice", choices=("pass", "fail"), field="gate.on_inconclusive",
      description="Verdict when there is too little data: pass or fail. Default: pass."),
    O("on_api_error", "Verdict when Sentry cannot be read.", GATE, ("--on-api-error",),
      "on_api_error", kind="choice", choices=("pass", "fail"), field="gate.on_api_error",
      description="Verdict when Sentry cannot be read: pass or fail. Default: fail."),
    O("gate_dry_run", "Report the verdict but always exit 0.", GATE, ("--gate-dry-run",),
      "gate_dry_run", kind="bool", switch="flag", field="gate.dry_run",
      description="Report the gate's verdict but never fail the step on it."),
    O("report_only", "Rules to report but never fail on (comma separated): new-issues, "
      "regressed-issues, escalating-issues, rate, health, release-name.", GATE,
      ("--report-only",), "gate_report_only", kind="list", field="gate.report_only",
      description="Gate rules to report but never fail on, comma separated: new-issues, "
      "regressed-issues, escalating-issues, rate, health, release-name."),
    O("settle_sessions", "Ingestion lag allowance of session aggregates.", GATE,
      ("--settle-sessions",), "gate_settle_sessions", kind="duration",
      field="gate.settle_sessions",
      description="How long session aggregates may take to arrive. Default: 90s, or half of "
      "a shorter gate_window."),
    O("bucket", "Time bucket of the sequential rate test.", GATE, ("--bucket",),
      kind="duration", field="gate.bucket"),
    O("gate_auth_token", "Token for the gate's reads (event:read, org:read); falls back to "
      "the auth token.", GATE, ("--gate-auth-token",), "gate_auth_token",
      "SENTRY_GATE_AUTH_TOKEN", field="gate.auth_token",
      description="Token for the gate's reads (event:read, org:read); organization tokens "
      "cannot read issues. Default: auth_token. Env: SENTRY_GATE_AUTH_TOKEN."),
    # --- the run
    O("cwd", "Git checkout to work in.", RUN, ("--cwd",)),
    O("command", "What the step does: run (create the release and the rest) or "
      "propose-version (only derive the release name and export it as SENTRY_RELEASE, the "
      "release output and env_name, for a build step before the release; sends nothing to "
      "Sentry, needs no token).", RUN, input="command", kind="choice",
      choices=("run", "propose-version"),
      description="What the step does: run (create the release and everything after) or "
      "propose-version (only name the release and export it as SENTRY_RELEASE, the release "
      "output and env_name, for the build; sends nothing to Sentry, needs no token). "
      "Default: run."),
    O("working_directory", "Directory to work in: the git checkout, and the base of relative "
      "paths such as sourcemaps. Relative to the workspace; must stay inside it.", RUN,
      input="working_directory"),
    O("dry_run", "Send the reads, print every write instead of sending it.", RUN,
      ("--dry-run",), "dry_run", kind="bool", switch="flag", field="dry_run"),
    O("check", "Before anything is written, check the URL, token, org, projects and the "
      "token's scopes for every step this run will do; stop (exit 2) when one is missing.",
      RUN, input="check", kind="bool", field="check"),
    O("step_timeout", "Deadline of each step (all its requests and retries).", RUN,
      ("--step-timeout",), kind="duration", field="step_timeout"),
    O("debug", "Log HTTP calls; show tracebacks.", RUN, ("--debug",), "debug",
      "SENTRY_RELEASE_DEBUG", kind="bool", switch="flag", field="debug",
      description="Log HTTP calls and show tracebacks (also on when the job is re-run with "
      "debug logging, or with SENTRY_LOG_LEVEL debug)."),
    # sentry-cli's --allow-failure / SENTRY_ALLOW_FAILURE (src/config.rs get_allow_failure).
    O("allow_failure", "A failed release step (exit 1 or 2) is a warning and exit 0; a failed "
      "gate still exits 3.", RUN, ("--allow-failure",), "allow_failure", "SENTRY_ALLOW_FAILURE",
      kind="bool", switch="flag", field="allow_failure",
      description="Turn a failure of the release steps (exit 1 or 2) into a warning and exit "
      "0, as sentry-cli's SENTRY_ALLOW_FAILURE; a failed deploy gate still fails the step."),
    O("json", "Print the result as one JSON object on stdout.", RUN, ("--json",), kind="bool",
      switch="flag", field="json_output"),
    O("disable_telemetry", "Accepted for compatibility with getsentry/action-release; this "
      "action sends no telemetry.", RUN, input="disable_telemetry", kind="bool"),
    O("disable_safe_directory", "Do not mark the mounted workspace as a git safe.directory "
      "for this step.", RUN, input="disable_safe_directory", kind="bool"),
)  # fmt: skip

BY_KEY = {option.key: option for option in OPTIONS}
BY_INPUT = {option.input: option for option in OPTIONS if option.input}
# The options every command takes, before or after its name (`sentry-release --debug new`).
COMMON = ("url", "auth_token", "org", "projects", "ca_bundle", "custom_headers", "timeout",
          "retry_budget", "cwd", "dry_run", "debug", "allow_failure", "json")  # fmt: skip


def select(names: Iterable[str]) -> Iterator[Option]:
    """Options by key or by section name, in table order within a section."""
    for name in names:
        if name in BY_KEY:
            yield BY_KEY[name]
        elif name in SECTIONS:
            yield from (o for o in OPTIONS if o.section == name and o.flags)
        else:
            raise KeyError(name)


def action_default_text(option: Option) -> str:
    """The README's default column."""
    return f"`{option.action_default}`" if option.action_default is not None else ""


def inputs_table() -> str:
    """The README's table of action inputs, by section, with the CLI flag and env var."""
    lines = [
        "| input | CLI flag | env | default | meaning |",
        "|---|---|---|---|---|",
    ]
    for section in SECTIONS:
        rows = [o for o in OPTIONS if o.section == section and o.input]
        if not rows:
            continue
        lines.append(f"| **{section}** | | | | |")
        for o in rows:
            flag = f"`{o.flags[0]}`" if o.flags else ""
            env = f"`{o.env}`" if o.env else ""
            meaning = o.action_description.replace("|", "\\|")
            lines.append(f"| `{o.input}` | {flag} | {env} | {action_default_text(o)} | {meaning} |")
    return "\n".join(lines) + "\n"


# --- the action's words (flags and env vars named as inputs) -----------------------------


def action_spellings() -> dict[str, str]:
    """What each CLI spelling is called in the action: `--org` -> `org`, a switch ->
    `ignore_missing: true` (`--no-x` -> `x: false`), a flag without input -> its env var, an
    env var with an input -> the input. Short flags (`-o`) are left alone."""
    words: dict[str, str] = {}
    for o in OPTIONS:
        long = [f for f in o.flags if f.startswith("--")]
        if o.input is None or o.replaced_by:
            for flag in long if o.env else ():
                words[flag] = f"the env var {o.env}"
            continue
        for flag in long:
            if o.switch == "off" or flag.startswith("--no-"):
                words[flag] = f"{o.input}: false"
            elif o.switch in ("flag", "pair"):
                words[flag] = f"{o.input}: true"
                words[f"--no-{flag[2:]}"] = f"{o.input}: false"
            else:
                words[flag] = o.input
        if o.env:
            words[o.env] = o.input
    return words


@functools.cache
def _spelling() -> tuple[dict[str, str], re.Pattern[str]]:
    """The spellings and one regex over them, built on first use: compiling it costs
    ~20 ms, which the CLI's start-up (and `--help`) must not pay."""
    spellings = action_spellings()
    pattern = "|".join(
        rf"(?<![\w-]){re.escape(w)}(?![\w-])" for w in sorted(spellings, key=len, reverse=True)
    )
    return spellings, re.compile(pattern)


def action_words(message: str) -> str:
    """A message in the action's words; `set SENTRY_ORG or pass --org` -> `set the org
    input`. The one mapping the action's errors, warnings and summary go through."""
    spellings, spelling = _spelling()
    text = spelling.sub(lambda m: spellings[m.group(0)], message)
    return re.sub(r"\bset (\w+) or pass \1\b", r"set the \1 input", text)


if __name__ == "__main__":  # python -m sentry_release.config.options > table.md
    print(inputs_table(), end="")
