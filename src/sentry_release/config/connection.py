"""The connection: where to talk to Sentry and as whom.

Resolved the way sentry-cli resolves it: flag > env var > `.sentryclirc` (working dir, then
home); an org auth token (`sntrys_…`) carries its own URL and org, which win over the others
(with a warning) because the token only works there.

One difference (issue #13, item 2): a `.sentryclirc` inside the checkout is repository content,
which a pull request can change, so its `url` does not choose where the token goes in the
action unless the `trust_sentryclirc_url` input says so; the CLI honours it, with a warning.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sentry_release.config.parse import split_list
from sentry_release.errors import ConfigError
from sentry_release.redact import register_secret

DEFAULT_URL = "https://sentry.io/"
# What a `url` from a `.sentryclirc` inside the working tree does: "trust" it (the action with
# trust_sentryclirc_url), "warn" and use it (the CLI, as sentry-cli), or "ignore" it (the action).
RcUrlPolicy = Literal["trust", "warn", "ignore"]
ORG_TOKEN_PREFIX = "sntrys_"


def is_loopback(host: str | None) -> bool:
    """localhost, 127.0.0.0/8 and ::1: plain http there never leaves the machine."""

    if not host:
        return False
    if host.rstrip(".").lower() == "localhost":
        return True
    import ipaddress  # here, not at import: start-up of every command (and --help)

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
    import base64
    import binascii
    import json

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
        import configparser

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
            ("defaults", "custom_header", "custom_header"),
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
    tree: Path | None = None,
    tree_url: RcUrlPolicy = "warn",
    home: Path | None = None,
) -> Connection:
    """sentry-cli's precedence: explicit > .sentryclirc > default; an org token's url/org win."""
    rc_paths = tuple(rc_paths)
    rc = read_sentryclirc(rc_paths)
    warnings: list[str] = []
    token = (token or "").strip() or rc.get("token") or None
    url = (url or "").strip() or rc_url(rc_paths, tree, tree_url, warnings, home) or DEFAULT_URL
    org = (org or "").strip() or rc.get("org") or None
    project_list = split_list(projects) or split_list(rc.get("project"))
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


def rc_url(
    paths: Iterable[Path],
    tree: Path | None,
    policy: RcUrlPolicy,
    warnings: list[str],
    home: Path | None = None,
) -> str | None:
    """The `url` of the first rc file that sets one, as `policy` treats files inside `tree`
    (appending the one warning it gives); home's rc file is the user's, never the tree's."""
    home_rc = (home / ".sentryclirc").resolve() if home is not None else None
    root = tree.resolve() if tree is not None else None
    for path in paths:
        url = read_sentryclirc([path]).get("url")
        if not url:
            continue
        where = path.resolve()
        in_tree = root is not None and where != home_rc and root in where.parents
        if in_tree and policy == "ignore":
            warnings.append(
                f"ignoring url {url} set by {path}: a file in the workspace does not choose "
                "where the token goes; set the url input, or trust_sentryclirc_url: true"
            )
            continue
        if in_tree and policy == "warn":
            warnings.append(
                f"{path} in the working tree sets url {url}: the auth token is sent there "
                "(as sentry-cli does); pass --url or set SENTRY_URL to choose it yourself"
            )
        return url
    return None


def default_rc_paths(cwd: Path, home: Path | None) -> tuple[Path, ...]:
    """`.sentryclirc` in the working dir, then in home."""
    paths = [cwd / ".sentryclirc"]
    if home is not None:
        paths.append(home / ".sentryclirc")
    return tuple(paths)


# --- custom headers (sentry-cli: --header, CUSTOM_HEADER, `[defaults] custom_header`) ----

# Headers the client sets itself: a custom one would break the request or the auth.
RESERVED_HEADERS = frozenset({"authorization", "content-type", "content-length", "host"})
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 token


def parse_headers(raw: str | Iterable[str] | None) -> dict[str, str]:
    """`Name: value` lines (sentry-cli's format; src/config.rs get_default_headers) as a
    mapping; a line that is not one is an error naming the fix."""
    lines = (
        raw.splitlines() if isinstance(raw, str) else [s for r in raw or () for s in r.splitlines()]
    )
    headers: dict[str, str] = {}
    for line in (line.strip() for line in lines):
        if not line:
            continue
        name, colon, value = line.partition(":")
        name, value = name.strip(), value.strip()
        if not colon or not HEADER_NAME.match(name):
            shown = name[:40] if colon else "(no colon)"
            raise ConfigError(
                f"custom header {shown!r} is not `Name: value`: write it as "
                "X-Proxy-Auth: secret (--header / CUSTOM_HEADER)"
            )
        if name.lower() in RESERVED_HEADERS:
            raise ConfigError(
                f"custom header {name} is set by sentry-release itself: drop it from "
                "--header / CUSTOM_HEADER"
            )
        register_secret(value)  # a proxy's credential must not reach the log
        headers[name] = value
    return headers


def resolve_headers(raw: str | Iterable[str] | None, rc_paths: Iterable[Path]) -> dict[str, str]:
    """Explicit headers (flag, input or CUSTOM_HEADER), else `.sentryclirc`'s, as
    sentry-cli: the environment replaces the file's header, it does not add to it."""
    explicit = parse_headers(raw)
    return explicit or parse_headers(read_sentryclirc(rc_paths).get("custom_header"))
