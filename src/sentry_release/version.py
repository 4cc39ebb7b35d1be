"""Release name derivation: a pure function of its inputs (explicit, env, CI, git)."""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sentry_release.errors import ConfigError

MAX_LENGTH = 200
BAD_CHARS = ("/", "\\", "\n", "\r", "\t", "\x0b", "\x0c")
RESERVED = (".", "..", "latest")
TAG_REF_PREFIX = "refs/tags/"


@dataclass(frozen=True)
class ProposedVersion:
    """A release name and where it came from (shown to the user)."""

    version: str
    source: str


def validate_release_name(version: str) -> str:
    """Return the name if Sentry would accept it, else raise one line saying which rule failed."""
    if not version or not version.strip():
        raise ConfigError("release name is empty: pass a version or set SENTRY_RELEASE")
    if version != version.strip():
        raise ConfigError(f"release name {version!r} has leading or trailing whitespace: trim it")
    if version in RESERVED:
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


def pick_tag(tags: Sequence[str], pattern: str | None) -> str | None:
    """The highest tag at HEAD that matches the glob (monorepos: `web@*`)."""
    matching = [t for t in tags if pattern is None or fnmatch.fnmatchcase(t, pattern)]
    if not matching:
        return None
    return max(matching, key=_version_key)


def ci_version(
    environ: Mapping[str, str], event: Mapping[str, object] | None
) -> ProposedVersion | None:
    """What the CI run says: a pushed tag, or a pull request's head sha."""
    ref = environ.get("GITHUB_REF", "")
    if ref.startswith(TAG_REF_PREFIX) and environ.get("GITHUB_REF_TYPE", "tag") == "tag":
        return ProposedVersion(strip_tag_ref(ref), "GITHUB_REF tag")
    if environ.get("GITHUB_EVENT_NAME", "").startswith("pull_request") and event:
        pull = event.get("pull_request")
        if isinstance(pull, dict):
            head = pull.get("head")
            if isinstance(head, dict) and isinstance(head.get("sha"), str):
                return ProposedVersion(head["sha"], "pull request head")
    return None


def derive_version(
    *,
    explicit: str | None,
    environ: Mapping[str, str],
    head_sha: str | None,
    tags_at_head: Sequence[str] = (),
    tag_pattern: str | None = None,
    prefix: str = "",
    event: Mapping[str, object] | None = None,
) -> ProposedVersion:
    """Explicit > SENTRY_RELEASE > CI (tag push, PR head) > exact tag at HEAD > HEAD sha."""
    proposed: ProposedVersion | None = None
    if explicit:
        proposed = ProposedVersion(strip_tag_ref(explicit), "explicit")
    elif environ.get("SENTRY_RELEASE", "").strip():
        proposed = ProposedVersion(
            strip_tag_ref(environ["SENTRY_RELEASE"].strip()), "SENTRY_RELEASE"
        )
    else:
        proposed = ci_version(environ, event)
        if proposed is None:
            tag = pick_tag(tags_at_head, tag_pattern)
            if tag is not None:
                proposed = ProposedVersion(tag, "git tag at HEAD")
            elif head_sha:
                proposed = ProposedVersion(head_sha, "HEAD commit")
    if proposed is None:
        raise ConfigError(
            "cannot derive a release name: pass a version, set SENTRY_RELEASE, or run inside a "
            "git checkout with at least one commit"
        )
    version = apply_prefix(proposed.version, prefix)
    return ProposedVersion(validate_release_name(version), proposed.source)


def read_event(environ: Mapping[str, str]) -> dict[str, object] | None:
    """The GitHub event payload, when the runner provides one."""
    path = environ.get("GITHUB_EVENT_PATH")
    if not path:
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
