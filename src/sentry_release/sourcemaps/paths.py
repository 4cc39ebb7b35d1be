"""The file-access policy for everything the tool reads from the build.

Who controls what (docs/security.md): the paths on the command line (or the `sourcemaps`
input) come from the workflow author and are taken as given; what is found under them, and
every path a source map names in `sources`, comes from the repository or a pull request and
is read only when it resolves (symlinks followed) inside a root: the working directory or a
directory the user named. `/proc`, `/sys` and `/dev` are never read (a map naming
`/proc/self/environ` would upload the token), and only regular files are opened, never FIFOs,
devices or sockets (a FIFO in `dist/` would hang the step).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sentry_release.errors import ConfigError
from sentry_release.sourcemaps.memory import TooBigForMemory, ensure_fits
from sentry_release.sourcemaps.portable import read_flags

NEVER_READ = (Path("/proc"), Path("/sys"), Path("/dev"))


class NotRegularFile(OSError):
    """A FIFO, device, socket or directory where a file was expected (never opened)."""

    def __init__(self, mode: int, path: Path | str) -> None:
        super().__init__(errno.EINVAL, f"{file_kind(mode)}, not a file", str(path))
        self.mode = mode  # st_mode as found, links followed


# Sentry refuses any file over `system.maximum-file-size` (2 GiB by default,
# sentry/options/defaults.py; `maxFileSize` in api/endpoints/chunk.py): a build file larger
# than that cannot be uploaded, so it is never read into memory either.
MAX_FILE_SIZE = 2**31


class TooLarge(OSError):
    """A file over `MAX_FILE_SIZE` (refused by its size, never read)."""


class OutsideRoot(OSError):
    """A path that resolves outside every root, or into /proc, /sys or /dev."""


def file_kind(mode: int) -> str:
    """`a FIFO`, `a device`, ...: what a non-regular file is, for messages."""
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a regular file"


def is_never_read(resolved: Path) -> bool:
    """Whether a resolved path lies in /proc, /sys or /dev."""
    return any(resolved == top or top in resolved.parents for top in NEVER_READ)


def open_regular(path: Path | str) -> BinaryIO:
    """A regular file opened for reading, anything else refused before it is opened.

    The type is checked with `stat` (which never blocks), the file is opened non-blocking
    and checked again on the descriptor, so a file swapped for a FIFO in between cannot hang.
    """
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise NotRegularFile(st.st_mode, path)
    handle = os.fdopen(os.open(path, read_flags()), "rb")
    try:
        mode = os.fstat(handle.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(mode, path)
    except BaseException:
        handle.close()
        raise
    return handle


def read_regular(path: Path | str, *, limit: int | None = None) -> bytes:
    """Read a regular file (`open_regular`), at most `limit` bytes.

    Read whole, a file over Sentry's limit raises TooLarge and one whose check would not fit
    in the memory left raises `memory.TooBigForMemory`, both before a byte is read.
    """
    with open_regular(path) as handle:
        if limit is not None:
            return handle.read(limit)
        size = os.fstat(handle.fileno()).st_size
        if size > MAX_FILE_SIZE:
            raise TooLarge(errno.EFBIG, "over Sentry's 2 GiB file limit", str(path))
        ensure_fits(path, size)
        return handle.read()


@dataclass(frozen=True)
class FileAccess:
    """Roots (resolved) under which build files may be read."""

    roots: tuple[Path, ...]

    @classmethod
    def for_paths(cls, cwd: Path | str, paths: Iterable[Path | str] = ()) -> FileAccess:
        """The working directory plus every directory the user named (a file: its folder).

        A named path is the user's choice and is taken as given, wherever it leads, except
        into /proc, /sys or /dev (ConfigError, exit 2).
        """
        base = Path(cwd).resolve()
        roots = [base]
        for path in paths:
            resolved = named(path, base)
            is_file = resolved.exists() and not resolved.is_dir()
            roots.append(resolved.parent if is_file else resolved)
        return cls(tuple(dict.fromkeys(roots)))

    def resolve(self, path: Path | str) -> Path | None:
        """`path` with symlinks resolved if it is inside a root and readable there, else None."""
        try:
            resolved = Path(path).resolve()
        except (OSError, RuntimeError):  # a symlink loop
            return None
        if is_never_read(resolved):
            return None
        if any(resolved == root or root in resolved.parents for root in self.roots):
            return resolved
        return None

    def read(self, path: Path | str, *, limit: int | None = None) -> bytes:
        """The bytes of a regular file inside a root; OutsideRoot / NotRegularFile otherwise."""
        resolved = self.resolve(path)
        if resolved is None:
            raise OutsideRoot(errno.EACCES, "outside the working directory", str(path))
        return read_regular(resolved, limit=limit)

    def first_outside(
        self, root: Path, linked: Sequence[Path], every: Sequence[Path]
    ) -> Path | None:
        """The first file found under `root` that resolves outside every root, or None.

        Only links lead out of a root: with `root` inside, only `linked` (the files reached
        through a symlink, a file's own or a folder's) are resolved; else `every` file is.
        """
        suspects = linked if self.resolve(root) is not None else every
        return next((path for path in suspects if self.resolve(path) is None), None)

    def source_text(self, path: Path) -> tuple[str | None, str | None]:
        """A source a map names: `(text, None)` if it may be read, else `(None, why or None)`.

        `why` says what to warn about (outside the roots, a FIFO, a device, too large for the
        memory left); a folder or a file that is not UTF-8 is left out without a word.
        """
        if self.resolve(path) is None:
            return None, "lies outside the working directory"
        try:
            return read_regular(path).decode("utf-8"), None
        except NotRegularFile as exc:
            return None, None if stat.S_ISDIR(exc.mode) else f"is {file_kind(exc.mode)}"
        except TooBigForMemory:
            return None, "is larger than the memory left allows"
        except (OSError, UnicodeDecodeError):
            return None, None


def named(path: Path | str, base: Path) -> Path:
    """A path the user named, resolved against `base`; only /proc, /sys, /dev are refused."""
    given = Path(path).expanduser()
    resolved = (given if given.is_absolute() else base / given).resolve()
    if is_never_read(resolved):
        raise ConfigError(
            f"source map path {str(path)!r} leads into {resolved}, which is never read: "
            "pass the build output directory"
        )
    return resolved


def ensure_all_named(paths: Sequence[Path | str], cwd: Path | str) -> tuple[Path, ...]:
    """Every path the user named, resolved; only /proc, /sys and /dev are refused."""
    base = Path(cwd).resolve()
    return tuple(named(p, base) for p in paths)
