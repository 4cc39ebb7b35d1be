"""Windows' `msvcrt.locking`, played with `flock` on Linux: a lock per open handle, refused at
once with OSError under LK_NBLCK, released by LK_UNLCK or when the handle closes. No side
effects on import (the sitecustomize and the unit tests build one)."""

from __future__ import annotations

import errno
import types
from typing import Any


def make(fcntl: Any) -> types.ModuleType:
    """An `msvcrt` module whose `locking` uses the given (real) fcntl."""
    module = types.ModuleType("msvcrt", __doc__)
    module.LK_UNLCK, module.LK_LOCK, module.LK_NBLCK = 0, 1, 2  # type: ignore[attr-defined]
    module.LK_RLCK, module.LK_NBRLCK = 3, 4  # type: ignore[attr-defined]

    def locking(fd: int, mode: int, nbytes: int) -> None:
        if mode == 0:  # LK_UNLCK
            fcntl.flock(fd, fcntl.LOCK_UN)
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OSError(errno.EACCES, "Permission denied") from None  # as Windows says

    module.locking = locking  # type: ignore[attr-defined]
    return module
