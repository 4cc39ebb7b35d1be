"""The settings model: one frozen Settings object for a run, and the option groups it holds.
`config/build.py` builds it from raw values (`from_values`); this module imports neither the
option table nor the gate's checks, so the config package has no import cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sentry_release.config.connection import (
    DEFAULT_URL,
    Connection,
)
from sentry_release.errors import ConfigError

DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRY_BUDGET = 120.0  # seconds one API call may spend retrying
DEFAULT_STEP_TIMEOUT = 1800.0  # seconds one step may take (a 1 GB upload at 20 Mbit/s: ~7 min)
COMMIT_MODES = ("auto", "local", "manual", "skip")


@dataclass(frozen=True, kw_only=True)
class CommitOptions:
    """How the release learns its commits (set-commits)."""

    mode: str = "auto"
    specs: tuple[str, ...] = ()  # manual: owner/repo@SHA or owner/repo@PREV..SHA
    ignore_missing: bool = False
    ignore_empty: bool = False  # no new commits is expected: an info line, not a warning
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
    poll: float = 10.0
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
