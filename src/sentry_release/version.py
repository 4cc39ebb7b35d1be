"""Release name derivation: a pure function of its inputs (explicit, env, CI, git, manifests).

By default the name is what `sentry-cli releases propose-version` prints (sentry-cli 3.x,
`src/utils/releases.rs` `detect_release_name` and `src/utils/vcs.rs` `find_head_sha`), so the
release this tool creates is the release an SDK or bundler plugin reporting the commit sha sends
events to. Other schemes are opt-in through `release_from` (`tag`, `describe`, `package`).

The caller gathers what a scheme needs (`inputs_needed`) and passes it in: this module reads no
file, runs no git and looks at no environment of its own.
"""

from __future__ import annotations

import fnmatch
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sentry_release.errors import ConfigError

MAX_LENGTH = 200
BAD_CHARS = ("/", "\\", "\n", "\r", "\t", "\x0b", "\x0c")
RESERVED = (".", "..", "latest")
TAG_REF_PREFIX = "refs/tags/"

RELEASE_FROM = ("sha", "describe", "tag", "package")
# Platform variables sentry-cli reads before git, in its order (`detect_release_name`).
# Cordova's config.xml and Xcode's Info.plist (macOS builds) come between them in sentry-cli and
# are out of scope here; the Gradle files are read (`gradle_release_name`).
PLATFORM_VARIABLES: tuple[tuple[str, str], ...] = (
    ("SOURCE_VERSION", "Heroku"),
    ("HEROKU_BUILD_COMMIT", "Heroku"),
    ("HEROKU_SLUG_COMMIT", "Heroku"),
    ("CODEBUILD_RESOLVED_SOURCE_VERSION", "AWS CodeBuild"),
    ("CIRCLE_SHA1", "CircleCI"),
    ("CF_PAGES_COMMIT_SHA", "Cloudflare Pages"),
)
# ... and the one it reads after the Gradle files, before git.
LATE_PLATFORM_VARIABLES: tuple[tuple[str, str], ...] = (("GAE_DEPLOYMENT_ID", "App Engine"),)
# A tag that names a version: `v1.2.0`, `1.2`, `web@1.4.0`, `2026.11.26` (not `latest`, `nightly`).
VERSION_TAG = re.compile(r"^(?:[^@\s]+@)?[vV]?\d")
SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
GRADLE_APP_ID = re.compile(r"""applicationId\s+["']([^"']*)["']""")
GRADLE_VERSION = re.compile(r"""versionName\s+["']([^"']*)["']""")


@dataclass(frozen=True)
class ProposedVersion:
    """A release name, where it came from (shown to the user), and what to warn about."""

    version: str
    source: str
    warnings: tuple[str, ...] = field(default=(), compare=False)


def validate_release_name(version: str) -> str:
    """Return the name if Sentry would accept it, else raise one line saying which rule failed.

    Sentry's rules: `src/sentry/models/release.py` `Release.is_valid_version`.
    """
    if not version or not version.strip():
        raise ConfigError("release name is empty: pass a version or set SENTRY_RELEASE")
    if version != version.strip():
        raise ConfigError(f"release name {version!r} has leading or trailing whitespace: trim it")
    if version.lower() in RESERVED:
        raise ConfigError(f"release name {version!r} is reserved by Sentry: choose another name")
    if len(version) > MAX_LENGTH:
        raise ConfigError(
            f"release name is {len(version)} characters; Sentry allows at most {MAX_LENGTH}"
        )
    for char in BAD_CHARS:
        if char in version:
            raise ConfigError(
                f"release name {version!r} contains {char!r}, which Sentry does not allow "
                "(no slashes, backslashes, tabs or newlines)"
            )
    return version


def is_valid_release_name(version: str) -> bool:
    """`validate_release_name` as a yes/no."""
    try:
        validate_release_name(version)
    except ConfigError:
        return False
    return True


def strip_tag_ref(ref: str) -> str:
    """`refs/tags/v1.2` -> `v1.2`."""
    return ref[len(TAG_REF_PREFIX) :] if ref.startswith(TAG_REF_PREFIX) else ref


def apply_prefix(version: str, prefix: str) -> str:
    """Prepend a prefix (`web@`) unless the name already carries it."""
    if not prefix or version.startswith(prefix):
        return version
    return prefix + version


def _version_key(tag: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders `v1.10` after `v1.9`."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"[.\-+@_]", tag))


def tag_matches(tag: str, pattern: str | None) -> bool:
    """The glob when one is given (`web@*`), else: the tag names a version."""
    if pattern is not None:
        return fnmatch.fnmatchcase(tag, pattern)
    return VERSION_TAG.match(tag) is not None


def pick_tag(tags: Sequence[str], pattern: str | None) -> str | None:
    """The highest tag that matches (the glob, or version-like) and Sentry would accept."""
    usable = [t for t in tags if tag_matches(t, pattern) and is_valid_release_name(t)]
    return max(usable, key=_version_key) if usable else None


def resolve_scheme(release_from: str | None, tag_pattern: str | None) -> str:
    """`release_from`, defaulting to `tag` when only a tag pattern is given, else `sha`."""
    if release_from is None:
        return "tag" if tag_pattern else "sha"
    if release_from not in RELEASE_FROM:
        raise ConfigError(
            f"release_from must be one of {', '.join(RELEASE_FROM)}, got {release_from!r}"
        )
    return release_from


def inputs_needed(
    *,
    explicit: str | None,
    environ: Mapping[str, str],
    release_from: str | None = None,
    tag_pattern: str | None = None,
) -> frozenset[str]:
    """What the caller must gather for `derive_version`: a subset of `event`, `gradle`, `head`,
    `tags`, `describe`, `package`. Nothing when the name is given; only what the scheme reads."""
    if explicit or environ.get("SENTRY_RELEASE", "").strip():
        return frozenset()
    scheme = resolve_scheme(release_from, tag_pattern)
    needed = {"describe"} if scheme == "describe" else {"package"} if scheme == "package" else set()
    if scheme == "tag":
        needed.add("tags")
    if scheme in ("sha", "tag") and not platform_version(environ):
        needed |= {"event", "gradle", "head"}
    return frozenset(needed)


# --- the default: sentry-cli propose-version ---------------------------------------------------


def platform_version(environ: Mapping[str, str]) -> ProposedVersion | None:
    """The first platform variable sentry-cli reads before any file (Heroku, CodeBuild, ...)."""
    for name, platform in PLATFORM_VARIABLES:
        if environ.get(name):
            return ProposedVersion(environ[name], f"{name} ({platform})")
    return None


def gradle_release_name(app_build_gradle: str | None) -> str | None:
    """`applicationId@versionName` from an Android app's `app/build.gradle`, as sentry-cli
    reads it (`infer_gradle_release_name`: both must be present)."""
    if not app_build_gradle:
        return None
    app_id = GRADLE_APP_ID.search(app_build_gradle)
    version = GRADLE_VERSION.search(app_build_gradle)
    return f"{app_id[1]}@{version[1]}" if app_id and version else None


def pull_request_head(event: Mapping[str, object] | None) -> str | None:
    """`pull_request.head.sha` of the GitHub event payload (any event that carries one, as
    sentry-cli reads it since 2.56; it ignores GITHUB_EVENT_NAME)."""
    pull = event.get("pull_request") if event else None
    head = pull.get("head") if isinstance(pull, dict) else None
    sha = head.get("sha") if isinstance(head, dict) else None
    return sha if isinstance(sha, str) and SHA.match(sha) else None


def sentry_cli_version(
    environ: Mapping[str, str],
    *,
    event: Mapping[str, object] | None,
    gradle_app: str | None,
    head_sha: str | None,
) -> ProposedVersion | None:
    """`sentry-cli releases propose-version` without SENTRY_RELEASE: platform variables, the
    Gradle files, App Engine, a pull request's head sha, else HEAD."""
    proposed = platform_version(environ)
    if proposed is not None:
        return proposed
    gradle = gradle_release_name(gradle_app)
    if gradle:
        return ProposedVersion(gradle, "app/build.gradle")
    for name, platform in LATE_PLATFORM_VARIABLES:
        if environ.get(name):
            return ProposedVersion(environ[name], f"{name} ({platform})")
    pr_head = pull_request_head(event)
    if pr_head:
        return ProposedVersion(pr_head, "pull request head")
    return ProposedVersion(head_sha, "HEAD commit") if head_sha else None


# --- opt-in schemes ---------------------------------------------------------------------------


def tag_version(
    environ: Mapping[str, str], tags_at_head: Sequence[str], pattern: str | None
) -> tuple[ProposedVersion | None, list[str]]:
    """The pushed tag, else the highest matching tag at HEAD; tags Sentry would refuse are
    skipped with a warning, never an error."""
    warnings: list[str] = []
    what = f"tag_pattern {pattern!r}" if pattern else "a version (v1.2.3, web@1.2.3)"
    ref = environ.get("GITHUB_REF", "")
    pushed = strip_tag_ref(ref) if ref.startswith(TAG_REF_PREFIX) else None
    if pushed and tag_matches(pushed, pattern) and is_valid_release_name(pushed):
        return ProposedVersion(pushed, "pushed tag (GITHUB_REF)"), warnings
    matching = [t for t in tags_at_head if tag_matches(t, pattern)]
    refused = [t for t in matching if not is_valid_release_name(t)]
    if refused:
        warnings.append(
            f"tag {', '.join(refused)} matches {what} but is not a valid Sentry release name "
            "(slash, reserved word): skipped"
        )
    tag = pick_tag(tags_at_head, pattern)
    usable = [t for t in matching if t not in refused]
    if tag is not None and len(usable) > 1:
        others = ", ".join(t for t in sorted(usable, key=_version_key) if t != tag)
        warnings.append(
            f"several tags at HEAD match {what}: taking {tag} (the highest), not {others}; "
            "narrow tag_pattern to choose"
        )
    if tag is None:
        warnings.append(
            f"release_from tag: no tag at HEAD matches {what}; naming the release as "
            "sentry-cli propose-version does"
        )
        return None, warnings
    return ProposedVersion(tag, "git tag at HEAD"), warnings


def manifest_version(package_json: str | None, pyproject_toml: str | None) -> ProposedVersion:
    """`name@version` from package.json, else pyproject.toml (`[project]`, else
    `[tool.poetry]`): Sentry's recommended `my-app@1.2.3` form."""
    if package_json is not None:
        try:
            data = json.loads(package_json)
        except ValueError as exc:
            raise ConfigError(f"package.json is not valid JSON ({exc}): fix it") from None
        return _name_at_version(data if isinstance(data, dict) else {}, "package.json")
    if pyproject_toml is not None:
        data = _parse_toml(pyproject_toml)
        table = data.get("project")
        if not isinstance(table, dict) or "name" not in table:
            tool = data.get("tool")
            poetry = tool.get("poetry") if isinstance(tool, dict) else None
            table = poetry if isinstance(poetry, dict) else table
        if isinstance(table, dict) and "version" in (table.get("dynamic") or ()):
            raise ConfigError(
                "pyproject.toml declares a dynamic version: use release_from: tag or describe, "
                "or pass release"
            )
        return _name_at_version(table if isinstance(table, dict) else {}, "pyproject.toml")
    raise ConfigError(
        "release_from: package needs a package.json or pyproject.toml in the working directory: "
        "set working_directory, or pass release"
    )


def _name_at_version(table: Mapping[str, Any], source: str) -> ProposedVersion:
    name, version = table.get("name"), table.get("version")
    if not isinstance(name, str) or not name or not isinstance(version, str) or not version:
        raise ConfigError(
            f"{source} has no name and version to name the release: add them, or pass release"
        )
    return ProposedVersion(f"{name}@{version}", source)


def _parse_toml(text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib

        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"pyproject.toml is not valid TOML ({exc}): fix it") from None
    return _parse_toml_tables(text)  # pragma: no cover - Python 3.10


def _parse_toml_tables(text: str) -> dict[str, Any]:
    """Python 3.10 has no tomllib: the string keys of `[project]` and `[tool.poetry]`."""
    data: dict[str, Any] = {}
    table: dict[str, Any] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        header = re.fullmatch(r"\[\s*([\w.-]+)\s*\]", line)
        if header:
            node = data
            for part in header[1].split("."):
                node = node.setdefault(part, {})
            table = node
            continue
        pair = re.fullmatch(r"""([\w-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|\[(.*)\])\s*(?:#.*)?""", line)
        if table is not None and pair:
            if pair[4] is not None:
                table[pair[1]] = re.findall(r"""["']([^"']*)["']""", pair[4])
            else:
                table[pair[1]] = pair[2] if pair[2] is not None else pair[3]
    return data


# --- the one entry point ----------------------------------------------------------------------


def derive_version(
    *,
    explicit: str | None,
    environ: Mapping[str, str],
    head_sha: str | None = None,
    release_from: str | None = None,
    tags_at_head: Sequence[str] = (),
    tag_pattern: str | None = None,
    describe: str | None = None,
    package_json: str | None = None,
    pyproject_toml: str | None = None,
    gradle_app: str | None = None,
    prefix: str = "",
    event: Mapping[str, object] | None = None,
) -> ProposedVersion:
    """Explicit > SENTRY_RELEASE > the opt-in scheme (`release_from`) > sentry-cli's
    propose-version (platform variables, Gradle, a pull request's head sha, HEAD)."""
    warnings: list[str] = []
    proposed: ProposedVersion | None = None
    scheme = resolve_scheme(release_from, tag_pattern)
    if explicit:
        proposed = ProposedVersion(strip_tag_ref(explicit), "explicit")
    elif environ.get("SENTRY_RELEASE", "").strip():
        proposed = ProposedVersion(
            strip_tag_ref(environ["SENTRY_RELEASE"].strip()), "SENTRY_RELEASE"
        )
    elif scheme == "tag":
        proposed, warnings = tag_version(environ, tags_at_head, tag_pattern)
    elif scheme == "describe":
        if not describe:
            raise ConfigError("release_from describe: git describe found no commit: commit first")
        proposed = ProposedVersion(describe, "git describe")
    elif scheme == "package":
        proposed = manifest_version(package_json, pyproject_toml)
    if tag_pattern and scheme in ("sha", "package"):
        warnings.append(f"tag_pattern is not used with release_from {scheme}")
    if proposed is None:
        proposed = sentry_cli_version(
            environ, event=event, gradle_app=gradle_app, head_sha=head_sha
        )
    if proposed is None:
        raise ConfigError(
            "cannot derive a release name: pass a version, set SENTRY_RELEASE, or run inside a "
            "git checkout with at least one commit"
        )
    version = apply_prefix(proposed.version, prefix)
    return ProposedVersion(validate_release_name(version), proposed.source, tuple(warnings))


def parse_event(text: str | None) -> dict[str, object] | None:
    """The GitHub event payload (GITHUB_EVENT_PATH's text); None when absent or not JSON
    (sentry-cli panics on a malformed file; a runner never writes one)."""
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
