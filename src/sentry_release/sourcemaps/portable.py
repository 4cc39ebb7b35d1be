"""What differs between POSIX and Windows when build files are rewritten in place: the
folder lock two injects share, the mode and owner a replaced file keeps, and `os.replace`
onto a file another program holds open. Each has a POSIX and a Windows branch, chosen by
what the platform has (not by its name), and the POSIX-only modules are imported only where
they are used: `import sentry_release.steps.pipeline` works without `fcntl`
(tests/unit/test_portable.py, and the whole inject/upload/run path under
`tests/windows_semantics/`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sentry_release.errors import SourceMapError

# os.replace onto a file another program holds open fails on Windows (an editor, a dev
# server's watcher, a virus scanner that opened it a moment ago): tried again a few times,
# 0.05 s doubling (1.55 s in all), then one line naming the file.
REPLACE_ATTEMPTS = 6
REPLACE_FIRST_WAIT = 0.05


class FolderLock:
    """An exclusive lock on one build folder, tried without blocking; nothing is left in the
    folder. POSIX: `flock` on the folder itself. Windows (no `fcntl`): `msvcrt.locking` on a
    lock file in the temp folder named after the folder's path (case-folded where the
    platform folds names), released by the system when the process ends."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._fd: int | None = None
        self._unlock: Callable[[int], None] | None = None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; False when another holder has it."""
        if sys.platform == "win32":
            return self._try_msvcrt()
        try:
            import fcntl
        except ImportError:  # a POSIX-less Python (the Windows-semantics test mode)
            return self._try_msvcrt()
        fd = os.open(self.directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd  # closing it releases the lock
        return True

    def _try_msvcrt(self) -> bool:
        msvcrt: Any = __import__("msvcrt")  # Windows only (typed Any: mypy's linux run)
        fd = os.open(lock_file(self.directory), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:  # EACCES / EDEADLOCK: another process holds it
            os.close(fd)
            return False
        self._fd = fd
        self._unlock = lambda held: msvcrt.locking(held, msvcrt.LK_UNLCK, 1)
        return True

    def release(self) -> None:
        """Give the lock back (closing the handle releases it on both platforms)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            if self._unlock is not None:
                with contextlib.suppress(OSError):
                    self._unlock(fd)
        finally:
            os.close(fd)


def lock_file(directory: Path) -> Path:
    """The Windows branch's lock file for `directory`: in the temp folder, so the build
    output never gets one; one name per folder however its path is spelled."""
    key = os.path.normcase(os.path.abspath(directory))
    digest = hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()[:20]
    return Path(tempfile.gettempdir()) / f"sentry-release-{digest}.lock"


def keep_mode_and_owner(fd: int, path: str, original: os.stat_result) -> None:
    """Give the temp file `path` (open as `fd`) the mode and owner of the file it replaces,
    where the platform has them: inside the action's container we run as root over files of
    the runner's user. Windows has no owners and only the read-only bit."""
    mode = stat.S_IMODE(original.st_mode)
    fchmod: Callable[[int, int], None] | None = getattr(os, "fchmod", None)
    if fchmod is not None:
        fchmod(fd, mode)
    else:
        os.chmod(path, mode)
    fchown: Callable[[int, int, int], None] | None = getattr(os, "fchown", None)
    geteuid: Callable[[], int] | None = getattr(os, "geteuid", None)
    getegid: Callable[[], int] | None = getattr(os, "getegid", None)
    if fchown is None or geteuid is None or getegid is None:
        return
    if (original.st_uid, original.st_gid) != (geteuid(), getegid()):
        with contextlib.suppress(PermissionError):  # not root: the file becomes ours
            fchown(fd, original.st_uid, original.st_gid)


def replace(source: str, target: Path, *, sleep: Callable[[float], None] | None = None) -> None:
    """`os.replace(source, target)`, tried again while another program holds the target
    open (Windows refuses then; POSIX never does), then one line naming it."""
    wait = REPLACE_FIRST_WAIT
    for attempt in range(REPLACE_ATTEMPTS):
        try:
            os.replace(source, target)
            return
        except PermissionError as exc:
            if attempt == REPLACE_ATTEMPTS - 1:
                raise SourceMapError(
                    f"cannot replace {target} ({exc.strerror or exc}): another program may "
                    "hold it open (an editor, a dev server, a virus scanner); close it and "
                    "run again"
                ) from None
            (sleep or time.sleep)(wait)
            wait *= 2


def read_flags() -> int:
    """`os.open` flags for reading a build file as it is: O_NONBLOCK where the platform has
    it (a FIFO then cannot hang the open), and O_BINARY on Windows, whose `os.open` is text
    mode by default (CRLF read as LF, Ctrl-Z as the end of the file: a minified bundle would
    be read, and injected, changed); O_NOCTTY and O_CLOEXEC where they exist."""
    flags = os.O_RDONLY
    for name in ("O_NONBLOCK", "O_BINARY", "O_NOCTTY", "O_CLOEXEC"):
        flags |= int(getattr(os, name, 0))
    return flags
