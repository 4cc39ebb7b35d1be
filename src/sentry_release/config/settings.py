"""One frozen Settings object, built from CLI flags/env or from GitHub action inputs.

Connection values are resolved the way sentry-cli resolves them: flag > env var >
`.sentryclirc` (working dir, then home); an org auth token (`sntrys_…`) carries its own URL
and org, which win over the others (with a warning) because the token only works there.
"""

from __future__ import annotations

import base64
import binascii
import configparser
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sentry_release.errors import ConfigError
from sentry_release.redact import register_secret

DEFAULT_URL = "https://sentry.io/"
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRY_BUDGET = 120.0  # seconds one API call may spend retrying
ORG_TOKEN_PREFIX = "sntrys_"
COMMIT_MODES = ("auto", "local", "manual", "skip")
TRUE_WORDS = ("true", "yes", "1", "on")
FALSE_WORDS = ("false", "no", "0", "off", "")
_DURATION_RE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


# --- value parsers (pure; each raises ConfigError naming the input and the fix) -------------


def parse_bool(value: str | bool | None, *, name: str, default: bool = False) -> bool:
    """Strict boolean: true/false/yes/no/1/0/on/off; anything else is an error."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    word = value.strip().lower()
    if word == "":
        return default
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def parse_duration(value: str | float | int | None, *, name: str) -> float | None:
    """Seconds from `90`, `90s`, `5m`, `1.5h`, `250ms`; negative or garbage is an error."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        if value.strip() == "":
            return None
        match = _DURATION_RE.match(value.lower())
        if not match:
            raise ConfigError(f"{name} must be a duration like 300, 300s, 5m or 1h, got {value!r}")
        seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    if seconds < 0:
        raise ConfigError(f"{name} must not be negative, got {value!r}")
    return seconds


def parse_time(value: str | None, *, name: str) -> datetime | None:
    """A point in time from unix seconds or ISO 8601 (`Z` allowed); naive means UTC."""
    if value is None or value.strip() == "":
        return None
    text = value.strip()
    try:
        if re.fullmatch(r"\d+(\.\d+)?", text):
            return datetime.fromtimestamp(float(text), tz=timezone.utc)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise ConfigError(
            f"{name} must be unix seconds or ISO 8601 (2024-05-01T12:00:00Z), got {value!r}"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def split_list(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Split space, comma or newline separated values; accepts repeated flags too."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value)
    out: list[str] = []
    for item in items:
        out.extend(part for part in re.split(r"[\s,]+", item) if part)
    return tuple(dict.fromkeys(out))


def parse_int(value: str | int | None, *, name: str, default: int, minimum: int = 0) -> int:
    """An integer input with a lower bound."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {number}")
    return number


def parse_float(
    value: str | float | None, *, name: str, default: float, minimum: float = 0.0
) -> float:
    """A decimal input with a lower bound."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if number < minimum or number != number:
        raise ConfigError(f"{name} must be at least {minimum}, got {value!r}")
    return number


def parse_choice(value: str | None, *, name: str, choices: Iterable[str], default: str) -> str:
    """One of a fixed set of words, case-insensitive."""
    if value is None or value.strip() == "":
        return default
    word = value.strip().lower()
    allowed = tuple(choices)
    if word not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return word


def is_loopback(host: str | None) -> bool:
    """localhost, 127.0.0.0/8 and ::1: plain http there never leaves the machine."""

    if not host:
        return False
    if host.rstrip(".").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- connection resolution --------------------------------------------------------------


@dataclass(frozen=True)
class TokenInfo:
    """What an org auth token says about itself."""

    url: str | None = None
    org: str | None = None
    region_url: str | None = None


def decode_org_token(token: str | None) -> TokenInfo:
    """Read the URL and org embedded in an org auth token (`sntrys_<base64 json>_<secret>`)."""
    if not token or not token.startswith(ORG_TOKEN_PREFIX):
        return TokenInfo()
    payload = token[len(ORG_TOKEN_PREFIX) :].split("_", 1)[0]
    try:
        raw = base64.b64decode(payload + "=" * (-len(payload) % 4), validate=False)
        data = json.loads(raw)
    except (binascii.Error, ValueError):
        return TokenInfo()
    if not isinstance(data, dict):
        return TokenInfo()
    return TokenInfo(
        url=data.get("url") or None,
        org=data.get("org") or None,
        region_url=data.get("region_url") or None,
    )


def read_sentryclirc(paths: Iterable[Path]) -> dict[str, str]:
    """Merge `[defaults] url/org/project` and `[auth] token` from rc files; earlier paths win."""
    found: dict[str, str] = {}
    for path in paths:
        if not path.is_file():
            continue
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError) as exc:
            problem = exc.__class__.__name__
            raise ConfigError(f"cannot read {path}: {problem}; fix or remove it") from None
        for section, key, name in (
            ("defaults", "url", "url"),
            ("defaults", "org", "org"),
            ("defaults", "project", "project"),
            ("auth", "token", "token"),
        ):
            value = parser.get(section, key, fallback=None)
            if value and name not in found:
                found[name] = value.strip()
    return found


@dataclass(frozen=True)
class Connection:
    """Where to talk to Sentry and as whom; resolved once for every front door."""

    url: str
    token: str | None
    org: str | None
    projects: tuple[str, ...]
    warnings: tuple[str, ...] = ()


def resolve_connection(
    *,
    url: str | None,
    token: str | None,
    org: str | None,
    projects: Iterable[str] | str | None,
    rc_paths: Iterable[Path] = (),
) -> Connection:
    """sentry-cli's precedence: explicit > .sentryclirc > default; an org token's url/org win."""
    rc = read_sentryclirc(rc_paths)
    token = (token or "").strip() or rc.get("token") or None
    url = (url or "").strip() or rc.get("url") or DEFAULT_URL
    org = (org or "").strip() or rc.get("org") or None
    project_list = split_list(projects) or split_list(rc.get("project"))
    warnings: list[str] = []
    info = decode_org_token(token)
    if info.org and org and info.org != org:
        warnings.append(
            f"the auth token belongs to organization {info.org!r}; using it instead of {org!r}"
        )
    if info.url and url != DEFAULT_URL and info.url.rstrip("/") != url.rstrip("/"):
        warnings.append(f"the auth token is for {info.url}; using it instead of {url}")
    register_secret(token)
    return Connection(
        url=(info.url or url).rstrip("/") + "/",
        token=token,
        org=info.org or org,
        projects=project_list,
        warnings=tuple(warnings),
    )


def default_rc_paths(cwd: Path, home: Path | None) -> tuple[Path, ...]:
    """`.sentryclirc` in the working dir, then in home."""
    paths = [cwd / ".sentryclirc"]
    if home is not None:
        paths.append(home / ".sentryclirc")
    return tuple(paths)


# --- the settings -----------------------------------------------------------------------


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
    wait: bool = True
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
    on_inconclusive: str = "pass"
    on_api_error: str = "fail"
    dry_run: bool = False
    json_output: bool = False
    # --- deploy gate, second generation (issue #14); one block so it can be moved
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


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything one run needs; built by `from_cli` or the action front door, never mutated."""

    url: str = DEFAULT_URL
    auth_token: str | None = field(default=None, repr=False)
    org: str | None = None
    projects: tuple[str, ...] = ()
    release: str | None = None  # explicit release name; None derives it from git/CI
    release_prefix: str = ""
    tag_pattern: str | None = None
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
    timeout: float = DEFAULT_TIMEOUT
    retry_budget: float = DEFAULT_RETRY_BUDGET
    ca_bundle: str | None = None
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


def environ_value(environ: Mapping[str, str], name: str) -> str | None:
    """An env var, with empty meaning unset (as the GitHub runner passes unset inputs)."""
    value = environ.get(name)
    return value if value not in (None, "") else None


def _text(values: Mapping[str, Any], key: str) -> str | None:
    value = values.get(key)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def from_values(
    values: Mapping[str, Any],
    *,
    cwd: Path,
    home: Path | None = None,
) -> Settings:
    """Build Settings from raw values keyed by canonical names.

    Both front doors end here: the CLI passes click's parsed options, the action passes its
    INPUT_* strings mapped to the same names, so validation and defaults exist once.
    """
    workdir = Path(_text(values, "cwd") or cwd)
    if not workdir.is_absolute():
        workdir = (cwd / workdir).resolve()
    if not workdir.is_dir():
        raise ConfigError(f"working directory does not exist: {workdir}")
    connection = resolve_connection(
        url=_text(values, "url"),
        token=_text(values, "auth_token"),
        org=_text(values, "org"),
        projects=values.get("projects"),
        rc_paths=default_rc_paths(workdir, home),
    )
    mode = parse_choice(
        _text(values, "commit_mode"), name="set_commits", choices=COMMIT_MODES, default="auto"
    )
    commits = CommitOptions(
        mode=mode,
        specs=split_list(values.get("commits")),
        ignore_missing=parse_bool(values.get("ignore_missing"), name="ignore_missing"),
        initial_depth=parse_int(
            values.get("initial_depth"), name="initial_depth", default=20, minimum=1
        ),
        remote=_text(values, "remote") or "origin",
    )
    if mode == "manual" and not commits.specs:
        raise ConfigError(
            "set_commits is manual but no commit was given: pass --commit owner/repo@SHA "
            "(or the repo and commit inputs)"
        )
    ignore_file = _text(values, "ignore_file")
    maps = SourceMapOptions(
        paths=tuple(Path(p) for p in split_list(values.get("sourcemaps"))),
        inject=parse_bool(values.get("inject"), name="inject", default=True),
        dist=_text(values, "dist"),
        url_prefix=_text(values, "url_prefix") or "~",
        url_suffix=_text(values, "url_suffix") or "",
        strip_prefixes=split_list(values.get("strip_prefix")),
        strip_common_prefix=parse_bool(
            values.get("strip_common_prefix"), name="strip_common_prefix"
        ),
        extensions=tuple(e.lstrip(".") for e in split_list(values.get("ext")))
        or SourceMapOptions().extensions,
        ignore=split_list(values.get("ignore")),
        ignore_file=Path(ignore_file) if ignore_file else None,
        ignore_empty=parse_bool(values.get("ignore_empty"), name="ignore_empty"),
        strict=parse_bool(values.get("strict"), name="strict", default=True),
        wait=parse_bool(values.get("wait"), name="wait", default=True),
        concurrency=parse_int(values.get("concurrency"), name="concurrency", default=0, minimum=0)
        or None,
    )
    deploy = DeployOptions(
        enabled=parse_bool(values.get("deploy"), name="deploy", default=True),
        environment=_text(values, "environment"),
        name=_text(values, "deploy_name"),
        url=_text(values, "deploy_url"),
        started=parse_time(_text(values, "started"), name="started_at"),
        finished=parse_time(_text(values, "finished"), name="finished_at"),
    )
    defaults = GatePolicy()

    def duration(key: str, default: float) -> float:
        value = parse_duration(values.get(key), name=key)
        return default if value is None else value

    gate = GatePolicy(
        enabled=parse_bool(values.get("gate"), name="gate"),
        grace=duration("grace", defaults.grace),
        window=duration("window", defaults.window),
        settle=duration("settle", defaults.settle),
        poll=duration("poll", defaults.poll),
        timeout=parse_duration(values.get("gate_timeout"), name="gate_timeout"),
        query=_text(values, "gate_query") or defaults.query,
        min_events=parse_int(
            values.get("min_events"), name="min_events", default=defaults.min_events
        ),
        min_users=parse_int(values.get("min_users"), name="min_users", default=defaults.min_users),
        max_new_issues=parse_int(
            values.get("max_new_issues"), name="max_new_issues", default=defaults.max_new_issues
        ),
        fail_fast=parse_bool(values.get("fail_fast"), name="fail_fast", default=defaults.fail_fast),
        max_ratio=parse_float(
            values.get("max_ratio"), name="max_error_ratio", default=defaults.max_ratio, minimum=1.0
        ),
        alpha=parse_float(values.get("alpha"), name="alpha", default=defaults.alpha, minimum=1e-9),
        min_errors=parse_int(
            values.get("min_errors"), name="min_errors", default=defaults.min_errors
        ),
        min_excess=parse_int(
            values.get("min_excess"), name="min_excess", default=defaults.min_excess
        ),
        health_urls=split_list(values.get("health_url")),
        health_status=_text(values, "health_status") or defaults.health_status,
        health_body=_text(values, "health_body"),
        health_successes=parse_int(
            values.get("health_successes"),
            name="health_successes",
            default=defaults.health_successes,
            minimum=1,
        ),
        health_timeout=duration("health_timeout", defaults.health_timeout),
        on_inconclusive=parse_choice(
            _text(values, "on_inconclusive"),
            name="on_inconclusive",
            choices=("pass", "fail"),
            default=defaults.on_inconclusive,
        ),
        on_api_error=parse_choice(
            _text(values, "on_api_error"),
            name="on_api_error",
            choices=("pass", "fail"),
            default=defaults.on_api_error,
        ),
        dry_run=parse_bool(values.get("gate_dry_run"), name="gate_dry_run"),
        json_output=parse_bool(values.get("json"), name="json"),
    )
    # --- deploy gate, second generation (issue #14): options and checks in one block
    gate = replace(
        gate,
        report_only=tuple(r.strip().lower() for r in split_list(values.get("report_only"))),
        settle_sessions=duration("settle_sessions", defaults.settle_sessions),
        bucket=duration("bucket", defaults.bucket),
        auth_token=_text(values, "gate_auth_token"),
    )
    register_secret(gate.auth_token)
    if gate.alpha >= 1:
        raise ConfigError(f"alpha must be between 0 and 1, got {gate.alpha}")
    if gate.enabled:
        from sentry_release.gate.policy import validate_policy

        validate_policy(gate, values)
        from sentry_release.gate.health import check_urls, parse_expected_status

        if not deploy.environment:
            raise ConfigError(
                "the deploy gate needs an environment: set SENTRY_ENVIRONMENT or pass --env"
            )
        parse_expected_status(gate.health_status)
        check_urls(gate.health_urls)
    timeout = parse_duration(values.get("timeout"), name="timeout")
    retry_budget = parse_duration(values.get("retry_budget"), name="retry_budget")
    ca_bundle = _text(values, "ca_bundle")
    if ca_bundle is not None and not (workdir / ca_bundle).expanduser().is_file():
        raise ConfigError(f"CA bundle not found: {ca_bundle} (--ca-bundle / SENTRY_CA_BUNDLE)")
    return Settings.from_connection(
        connection,
        release=values.get("release") or None,
        release_prefix=_text(values, "release_prefix") or "",
        tag_pattern=_text(values, "tag_pattern"),
        working_directory=workdir,
        release_url=_text(values, "release_url"),
        create=parse_bool(values.get("create"), name="create", default=True),
        finalize=parse_bool(values.get("finalize"), name="finalize", default=True),
        commits=commits,
        sourcemaps=maps,
        deploy=deploy,
        gate=gate,
        dry_run=parse_bool(values.get("dry_run"), name="dry_run"),
        debug=parse_bool(values.get("debug"), name="debug"),
        timeout=timeout if timeout else DEFAULT_TIMEOUT,
        retry_budget=DEFAULT_RETRY_BUDGET if retry_budget is None else retry_budget,
        ca_bundle=str((workdir / ca_bundle).expanduser()) if ca_bundle else None,
    )
