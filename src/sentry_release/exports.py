"""The release name handed to the rest of a job: `SENTRY_RELEASE` (and the variables a bundler
reads, such as `VITE_SENTRY_RELEASE`) as GITHUB_ENV lines or `NAME=value` lines, and the
runner's `name<<DELIM` blocks both file commands take. Pure text; the front doors write it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping

from sentry_release.errors import ConfigError

# What a build and the SDKs read (sentry-cli, @sentry/vite-plugin, sentry_sdk.init all take
# SENTRY_RELEASE), and what the full step reads back to create exactly that release.
RELEASE_ENV = "SENTRY_RELEASE"
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def export_names(extra: Iterable[str] = ()) -> tuple[str, ...]:
    """SENTRY_RELEASE, then the further variables asked for (space or comma separated,
    repeats dropped); a name a shell cannot export is refused."""
    names = [RELEASE_ENV]
    for item in extra:
        for name in item.replace(",", " ").split():
            if not ENV_NAME.fullmatch(name):
                raise ConfigError(
                    f"--env-name {name!r} is not an environment variable name: use letters, "
                    "digits and _ (VITE_SENTRY_RELEASE)"
                )
            if name.upper().startswith("GITHUB_") or name in ("PATH", "NODE_OPTIONS"):
                raise ConfigError(
                    f"--env-name {name!r} is reserved by the runner: pick another name"
                )
            if name not in names:
                names.append(name)
    return tuple(names)


def release_env(version: str, names: Iterable[str]) -> dict[str, str]:
    """Each variable set to the release name."""
    return {name: version for name in names}


def env_lines(values: Mapping[str, str]) -> str:
    """`NAME=value` lines (`--format env`: for `>> "$GITHUB_ENV"`, a .env file or `export`).
    Release names hold no newline or tab (`version.validate_release_name`)."""
    return "".join(f"{name}={value}\n" for name, value in values.items())


def file_commands(values: Mapping[str, str], delimiter: str | None = None) -> str:
    """`name<<DELIM` heredoc blocks, as GITHUB_OUTPUT and GITHUB_ENV take them: safe for
    values with newlines (the delimiter never occurs in the value)."""
    blocks = []
    for name, value in values.items():
        delim = delimiter or f"ghadelimiter_{uuid.uuid4()}"
        while delim in value:
            delim = f"ghadelimiter_{uuid.uuid4()}"
        blocks.append(f"{name}<<{delim}\n{value}\n{delim}\n")
    return "".join(blocks)
