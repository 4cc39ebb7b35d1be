"""The settings model: one frozen Settings object for a run, and `from_values`, which builds
it from raw values keyed by the option names of `config/options.py` (click's parsed options
or the action's inputs), so parsing, validation and defaults exist once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sentry_release.config.connection import (
    DEFAULT_URL,
    Connection,
    default_rc_paths,
    is_loopback,
    resolve_connection,
    resolve_headers,
)
from sentry_release.config.gate import validate_policy
from sentry_release.config.options import OPTIONS, Option
from sentry_release.config.parse import (
    check_environment,
    check_urls,
    parse_bool,
    parse_choice,
    parse_duration,
    parse_expected_status,
    parse_float,
    parse_int,
    parse_time,
    split_list,
)
from sentry_release.errors import ConfigError
from sentry_release.redact import register_secret

DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRY_BUDGET = 120.0  # seconds one API call may spend retrying
DEFAULT_STEP_TIMEOUT = 1800.0  # seconds one step may take (a 1 GB upload at 20 Mbit/s: ~7 min)
COMMIT_MODES = ("auto", "local", "manual", "skip")
# Resolved by config/connection.py (flag/input/env, then .sentryclirc), not by parse_value.
CONNECTION_FIELDS = ("url", "auth_token", "org", "projects", "custom_headers")
__all__ = [  # parse and connection names were public here before config/ was split
    "DEFAULT_URL",
    "Settings",
    "from_values",
    "is_loopback",
    "parse_bool",
    "parse_duration",
    "parse_time",
    "split_list",
]


@dataclass(frozen=True, kw_only=True)
class CommitOptions:
    """How the release learns its commits (set-commits)."""

    mode: str = "auto"
    specs: tuple[str, ...] = ()  # manual: owner/repo@SHA or owner/repo@PREV..SHA
    ignore_missing: bool = False
    initial_depth: int = 20
    remote: str = "origin"


@dataclass(frozen=True, kw_only=True)
class SourceMapOptions:
    """What to inject and upload, and how strictly."""

    paths: tuple[Path, ...] = ()
    inject: bool = True
    dist: str | None = None
    url_prefix: str = "~"
    url_suffix: str = ""
    strip_prefixes: tuple[str, ...] = ()
    strip_common_prefix: bool = False
    extensions: tuple[str, ...] = ("js", "cjs", "mjs", "map", "jsbundle", "bundle")
    ignore: tuple[str, ...] = ()
    ignore_file: Path | None = None
    ignore_empty: bool = False
    strict: bool = True
    wait: bool = False
    concurrency: int | None = None  # None: the server's advertised concurrency


@dataclass(frozen=True, kw_only=True)
class GatePolicy:
    """When the deploy gate passes or fails; every number is a flag and an action input."""

    enabled: bool = False
    grace: float = 0.0
    window: float = 600.0
    settle: float = 60.0
    poll: float = 30.0
    timeout: float | None = None
    query: str = "is:unresolved issue.category:error level:[error,fatal]"
    min_events: int = 3
    min_users: int = 1
    max_new_issues: int = 0
    fail_fast: bool = True  # fatal/unhandled issues above the floors fail at once
    max_ratio: float = 1.5
    alpha: float = 0.01
    min_errors: int = 10
    min_excess: int = 5
    health_urls: tuple[str, ...] = ()
    health_status: str = "2xx"
    health_body: str | None = None
    health_successes: int = 3
    health_timeout: float = 10.0
    health_any_redirect: bool = False  # redirects to another origin are followed when asked
    on_inconclusive: str = "pass"
    on_api_error: str = "fail"
    dry_run: bool = False
    report_only: tuple[str, ...] = ()  # rules shown but never deciding
    settle_sessions: float = 90.0  # session aggregates arrive later than error events
    bucket: float = 60.0  # the sequential test's time bucket
    auth_token: str | None = field(default=None, repr=False)  # SENTRY_GATE_AUTH_TOKEN


@dataclass(frozen=True, kw_only=True)
class DeployOptions:
    """The deploy record: where, what, when."""

    enabled: bool = True
    environment: str | None = None
    name: str | None = None
    url: str | None = None
    started: datetime | None = None
    finished: datetime | None = None
    # Sent as the deploy's `projects` only when named: Sentry checks that field with
    # project-level access, which org:ci tokens lack (`release_deploys.py`).
    projects: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything one run needs; built by `from_values` for both front doors, never mutated."""

    url: str = DEFAULT_URL
    auth_token: str | None = field(default=None, repr=False)
    org: str | None = None
    projects: tuple[str, ...] = ()
    release: str | None = None  # explicit release name; None derives it from git/CI
    release_prefix: str = ""
    tag_pattern: str | None = None
    release_from: str | None = None  # sha | describe | tag | package (version.RELEASE_FROM)
    working_directory: Path = field(default_factory=Path.cwd)
    release_url: str | None = None
    create: bool = True
    finalize: bool = True
    commits: CommitOptions = field(default_factory=CommitOptions)
    sourcemaps: SourceMapOptions = field(default_factory=SourceMapOptions)
    deploy: DeployOptions = field(default_factory=DeployOptions)
    gate: GatePolicy = field(default_factory=GatePolicy)
    dry_run: bool = False
    debug: bool = False
    json_output: bool = False  # one JSON object on stdout instead of lines
    timeout: float = DEFAULT_TIMEOUT
    retry_budget: float = DEFAULT_RETRY_BUDGET
    step_timeout: float = DEFAULT_STEP_TIMEOUT  # every request and retry of one step
    ca_bundle: str | None = None
    # The action lets a `.sentryclirc` in the workspace set the URL only when this is on.
    trust_sentryclirc_url: bool = False
    check: bool = False  # run `check` first (the action's `check` input)
    allow_failure: bool = False  # a failed release step warns and exits 0 (not the gate)
    # Sent with every request to Sentry's origin only (transport.is_trusted); may be secret.
    custom_headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    warnings: tuple[str, ...] = ()

    def with_changes(self, **changes: Any) -> Settings:
        """A copy with some fields replaced (settings stay immutable)."""
        return replace(self, **changes)

    def require(self, *names: str) -> None:
        """Fail with one clear line when a value the command needs is missing."""
        fixes = {
            "auth_token": "auth token is missing: set SENTRY_AUTH_TOKEN or pass --auth-token",
            "org": "organization is missing: set SENTRY_ORG or pass --org",
            "projects": "project is missing: set SENTRY_PROJECT or pass --project",
            "environment": "environment is missing: set SENTRY_ENVIRONMENT or pass --env",
        }
        for name in names:
            if name == "auth_token" and self.dry_run:
                continue  # a dry run without a token (a fork's pull request) sends nothing
            value = self.deploy.environment if name == "environment" else getattr(self, name)
            if not value:
                raise ConfigError(fixes[name])

    @classmethod
    def from_connection(cls, connection: Connection, **values: Any) -> Settings:
        """Combine a resolved connection with the remaining values."""
        return cls(
            url=connection.url,
            auth_token=connection.token,
            org=connection.org,
            projects=connection.projects,
            warnings=connection.warnings + tuple(values.pop("warnings", ())),
            **values,
        )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def parse_value(option: Option, value: Any) -> Any:
    """One raw value (a string, click's parsed value or None) as its option's type; unset
    values become the option's default."""
    default = option.default
    name = option.name
    if option.kind == "bool":
        return parse_bool(value, name=name, default=bool(default))
    if option.kind == "list":
        return split_list(value)
    if option.kind == "int":
        base = default if isinstance(default, int) else 0
        return parse_int(value, name=name, default=base, minimum=int(option.minimum))
    if option.kind == "float":
        assert isinstance(default, float)
        return parse_float(value, name=name, default=default, minimum=option.minimum)
    if option.kind == "duration":
        seconds = parse_duration(value, name=name)
        return default if seconds is None else seconds
    if option.kind == "time":
        return parse_time(_text(value), name=name)
    if option.kind == "choice":
        assert isinstance(default, str)
        return parse_choice(_text(value), name=name, choices=option.choices, default=default)
    text = _text(value)
    return default if text is None else text


# Values whose parsed form needs one more turn before it fits its Settings field.
ADJUST: dict[str, Callable[[Any], Any]] = {
    "sourcemaps": lambda paths: tuple(Path(p) for p in paths),
    "ext": lambda exts: tuple(e.lstrip(".") for e in exts) or SourceMapOptions().extensions,
    "ignore_file": lambda path: Path(path) if path else None,
    "concurrency": lambda number: number or None,  # 0: the server's advertised concurrency
    "timeout": lambda seconds: seconds or DEFAULT_TIMEOUT,
}


def from_values(
    values: Mapping[str, Any],
    *,
    cwd: Path,
    home: Path | None = None,
    action: bool = False,
) -> Settings:
    """Build Settings from raw values keyed by option names (`config/options.py`).

    Both front doors end here: the CLI passes click's parsed options, the action passes its
    INPUT_* strings under the same names, so validation and defaults exist once. `action`
    says the action is the front door: a `.sentryclirc` in the workspace (`cwd`) then sets no
    URL unless `trust_sentryclirc_url` is on.
    """
    workdir = Path(_text(values.get("cwd")) or cwd)
    if not workdir.is_absolute():
        workdir = (cwd / workdir).resolve()
    if not workdir.is_dir():
        raise ConfigError(f"working directory does not exist: {workdir}")
    parsed: dict[str, dict[str, Any]] = {"": {}}
    for option in OPTIONS:
        if option.field is None or option.field in CONNECTION_FIELDS:
            continue
        value = parse_value(option, values.get(option.key))
        value = ADJUST[option.key](value) if option.key in ADJUST else value
        group, _, name = option.field.rpartition(".")
        parsed.setdefault(group, {})[name] = value
    commits = CommitOptions(**parsed["commits"], remote=_text(values.get("remote")) or "origin")
    if commits.mode == "manual" and not commits.specs:
        raise ConfigError(
            "set_commits is manual but no commit was given: pass --commit owner/repo@SHA "
            "(or the repo and commit inputs)"
        )
    deploy = DeployOptions(**parsed["deploy"])
    check_environment(deploy.environment)
    gate = GatePolicy(**parsed["gate"])
    gate = replace(gate, report_only=tuple(r.strip().lower() for r in gate.report_only))
    register_secret(gate.auth_token)
    if gate.alpha >= 1:
        raise ConfigError(f"alpha must be between 0 and 1, got {gate.alpha}")
    if gate.enabled:
        validate_policy(gate, values)
        if not deploy.environment:
            raise ConfigError(
                "the deploy gate needs an environment: set SENTRY_ENVIRONMENT or pass --env"
            )
        parse_expected_status(gate.health_status)
        check_urls(gate.health_urls)
    top = parsed[""]
    ca_bundle = top.pop("ca_bundle")
    if ca_bundle is not None:
        bundle = (workdir / ca_bundle).expanduser()
        if not bundle.is_file():
            raise ConfigError(f"CA bundle not found: {ca_bundle} (--ca-bundle / SENTRY_CA_BUNDLE)")
        ca_bundle = str(bundle)
    connection = resolve_connection(
        url=_text(values.get("url")),
        token=_text(values.get("auth_token")),
        org=_text(values.get("org")),
        projects=values.get("projects"),
        rc_paths=default_rc_paths(workdir, home),
        tree=cwd if action else workdir,
        home=home,
        tree_url=("trust" if top["trust_sentryclirc_url"] else "ignore") if action else "warn",
    )
    headers = resolve_headers(values.get("custom_headers"), default_rc_paths(workdir, home))
    return Settings.from_connection(
        connection,
        **top,
        custom_headers=headers,
        working_directory=workdir,
        commits=commits,
        sourcemaps=SourceMapOptions(**parsed["sourcemaps"]),
        deploy=deploy,
        gate=gate,
        ca_bundle=ca_bundle,
    )
