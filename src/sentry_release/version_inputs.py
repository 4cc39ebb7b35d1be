"""What the release naming reads (the event file, Gradle files, manifests, git), gathered for
the pure `version.derive_version`: only what the chosen scheme needs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sentry_release.errors import GitError
from sentry_release.git import GitRepo
from sentry_release.version import gradle_release_name, inputs_needed, parse_event


def _read(path: Path | str | None) -> str | None:
    if not path:
        return None
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def find_gradle_app(start: Path) -> str | None:
    """The first `app/build.gradle` next to a `build.gradle` that names the app, from `start`
    upwards (sentry-cli `infer_gradle_release_name`)."""
    for directory in (start, *start.parents):
        if (directory / "build.gradle").is_file():
            text = _read(directory / "app" / "build.gradle")
            if gradle_release_name(text):
                return text
    return None


def gather(
    *,
    explicit: str | None,
    environ: Mapping[str, str],
    release_from: str | None,
    tag_pattern: str | None,
    repo: GitRepo | None,
    workdir: Path,
) -> dict[str, Any]:
    """Keyword arguments for `derive_version` beyond the settings: what its scheme reads."""
    needed = inputs_needed(
        explicit=explicit, environ=environ, release_from=release_from, tag_pattern=tag_pattern
    )
    values: dict[str, Any] = {}
    if "event" in needed:
        values["event"] = parse_event(_read(environ.get("GITHUB_EVENT_PATH")))
    if "gradle" in needed:
        values["gradle_app"] = find_gradle_app(workdir)
    if repo is not None and "head" in needed:
        values["head_sha"] = repo.head_sha
    if repo is not None and "tags" in needed:
        values["tags_at_head"] = repo.tags_at_head()
    if repo is not None and "describe" in needed:
        match = ("--match", tag_pattern) if tag_pattern else ()
        try:
            values["describe"] = repo.git("describe", "--always", *match).strip() or None
        except GitError:
            values["describe"] = None
    if "package" in needed:
        values["package_json"] = _read(workdir / "package.json")
        values["pyproject_toml"] = _read(workdir / "pyproject.toml")
    return values
