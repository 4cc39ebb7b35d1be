"""Path safety: files the tool reads for upload must stay inside the working directory.

A source-map path like `../../etc` or a symlink in `dist/` pointing at `~/.ssh` would
otherwise upload files the user never meant to publish. Pure apart from resolving links.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sentry_release.errors import ConfigError


def ensure_inside(path: Path | str, root: Path | str, *, name: str = "path") -> Path:
    """`path` resolved (symlinks followed, relative to `root`); ConfigError when it leaves `root`.

    The check runs on the resolved path, so a link inside `root` whose target is outside is
    refused just like `../outside`. The path need not exist (resolution is non-strict).
    """
    base = Path(root).resolve()
    given = Path(path).expanduser()
    candidate = (given if given.is_absolute() else base / given).resolve()
    if candidate != base and base not in candidate.parents:
        via = " through a symlink" if _has_symlink(given, base) else ""
        raise ConfigError(
            f"{name} {str(path)!r} leads{via} outside the working directory {base}: "
            "pass a path inside it (or set working_directory / --cwd)"
        )
    return candidate


def _has_symlink(path: Path, base: Path) -> bool:
    """Whether any existing component of `path` (under `base`) is a symlink."""
    current = path if path.is_absolute() else base / path
    for part in (current, *current.parents):
        if part == base or base not in part.parents:
            break
        if part.is_symlink():
            return True
    return False


def ensure_all_inside(
    paths: Iterable[Path | str], root: Path | str, *, name: str = "source map path"
) -> tuple[Path, ...]:
    """`ensure_inside` for every path the user gave (checked before any request is sent)."""
    return tuple(ensure_inside(p, root, name=name) for p in paths)
