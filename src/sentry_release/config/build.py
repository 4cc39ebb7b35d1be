"""Settings built from raw values keyed by the option names of `config/options.py`
(click's parsed options or the action's inputs): parsing, validation and defaults, once,
for both front doors. The models live in `config/settings.py`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from sentry_release.config.connection import (
    default_rc_paths,
    resolve_connection,
    resolve_headers,
)
from sentry_release.config.gate import validate_policy
from sentry_release.config.options import OPTIONS, Option
from sentry_release.config.parse import (
    check_deploy_name,
    check_environment,
    check_sentry_url,
    check_slug,
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
from sentry_release.config.settings import (
    DEFAULT_TIMEOUT,
    CommitOptions,
    DeployOptions,
    GatePolicy,
    Settings,
    SourceMapOptions,
)
from sentry_release.errors import ConfigError
from sentry_release.redact import register_secret

CONNECTION_FIELDS = ("url", "auth_token", "org", "projects", "custom_headers")


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


SETTLE_SHARE = 0.5  # a settle period not given is at most this share of a short window


def derive_settle(gate: GatePolicy, explicit: Mapping[str, Any]) -> GatePolicy:
    """A window shorter than the default settle periods (60 s, 90 s) gets settle periods of
    half the window, and one shorter than the default bucket (60 s) a bucket as long as the
    window, unless they were given: a short window is a request for speed, and `--window 30s`
    (or the gate_window input) alone must be enough to ask for it."""
    limit = gate.window * SETTLE_SHARE
    settle, sessions, bucket = gate.settle, gate.settle_sessions, gate.bucket
    if explicit.get("settle") is None:
        settle = min(settle, limit)
    if explicit.get("settle_sessions") is None:
        sessions = min(sessions, limit)
    if explicit.get("bucket") is None and gate.window > 0:
        bucket = min(bucket, gate.window)
    return replace(gate, settle=settle, settle_sessions=sessions, bucket=bucket)


def check_ca_bundle(path: str) -> None:
    """A CA bundle must hold a certificate (a garbled file fails every TLS handshake alike)."""
    import ssl

    try:
        ssl.create_default_context(cafile=path)
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise ConfigError(
            f"CA bundle {path} holds no usable certificate ({exc.__class__.__name__}): pass a "
            "PEM file with the CA that signed Sentry's certificate (--ca-bundle / "
            "SENTRY_CA_BUNDLE)"
        ) from None


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
    check_deploy_name(deploy.name)
    gate = derive_settle(GatePolicy(**parsed["gate"]), values)
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
        check_ca_bundle(ca_bundle)
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
    check_sentry_url(connection.url)
    check_slug(connection.org, "organization")
    for project in connection.projects:
        check_slug(project, "project")
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
