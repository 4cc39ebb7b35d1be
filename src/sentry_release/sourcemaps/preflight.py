"""Checks on the build files that run before the first write (#13.11).

`run` calls `preflight(settings)` before it creates the release, and `collect` and `inject`
apply the same `problems()` to what they find, so a FIFO in `dist/` (which would hang a
reader), a file name that is not UTF-8 (Sentry's URLs are UTF-8) or a read-only `dist/` (inject
would fail half-way) end the step with exit 2 and one line, before anything is sent or written.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sentry_release.config.settings import Settings
from sentry_release.errors import SourceMapError
from sentry_release.sourcemaps.discover import JS_EXTENSIONS, FoundFile, load_ignore_rules, walk
from sentry_release.sourcemaps.paths import FileAccess, ensure_all_named, file_kind


@dataclass(frozen=True)
class FileFacts:
    """What the checks need to know about one found file."""

    path: Path
    mode: int  # 0: cannot be stat'ed (left to the reader, which names the OS error)
    name_utf8: bool
    dir_writable: bool | None = None  # None: not checked (nothing will be written)


def shown(path: Path) -> str:
    """A path for a message, with undecodable bytes as escapes (printing never fails)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def problems(facts: Sequence[FileFacts]) -> list[str]:
    """One line per problem, naming the file and the fix; pure."""
    found: list[str] = []
    read_only: set[Path] = set()
    for fact in facts:
        if not fact.name_utf8:
            found.append(
                f"file name is not UTF-8: {shown(fact.path)}: rename it or exclude it with --ignore"
            )
        elif fact.mode and not stat.S_ISREG(fact.mode):
            found.append(
                f"{fact.path} is {file_kind(fact.mode)}, not a file: remove it or exclude it "
                "with --ignore"
            )
        elif fact.dir_writable is False and fact.path.parent not in read_only:
            read_only.add(fact.path.parent)
            found.append(
                f"{shown(fact.path.parent)} is not writable, so inject cannot add debug IDs: "
                "make the build output writable, or inject at build time and pass --no-inject"
            )
    return found


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def facts_of(
    found: Sequence[FoundFile],
    *,
    inject: bool,
    writable: Callable[[Path], bool] = lambda d: os.access(d, os.W_OK | os.X_OK),
) -> list[FileFacts]:
    """Facts for found files; with `inject`, whether the folders of its files are writable."""
    dirs: dict[Path, bool] = {}
    out: list[FileFacts] = []
    for f in found:
        writable_dir: bool | None = None
        if inject and f.path.name.endswith(tuple(f".{e}" for e in (*JS_EXTENSIONS, "map"))):
            if f.path.parent not in dirs:
                dirs[f.path.parent] = writable(f.path.parent)
            writable_dir = dirs[f.path.parent]
        out.append(FileFacts(f.path, f.mode, _utf8(str(f.path)), writable_dir))
    return out


def check(found: Sequence[FoundFile], *, inject: bool) -> None:
    """SourceMapError (exit 2) naming the first problem, if any."""
    lines = problems(facts_of(found, inject=inject))
    if lines:
        more = f" (and {len(lines) - 1} more problem(s))" if len(lines) > 1 else ""
        raise SourceMapError(lines[0] + more)


def preflight(settings: Settings) -> None:
    """Check the source map paths of `settings` before the release is created; no writes."""
    opts = settings.sourcemaps
    if not opts.paths:
        return
    cwd = settings.working_directory
    roots = ensure_all_named(opts.paths, cwd)
    rules = load_ignore_rules(
        opts.ignore, (cwd / opts.ignore_file) if opts.ignore_file is not None else None
    )
    extensions = sorted({*opts.extensions, *JS_EXTENSIONS, "map"})
    found = walk(list(roots), extensions, rules, access=FileAccess.for_paths(cwd, opts.paths))
    check(found, inject=opts.inject and not settings.dry_run)
