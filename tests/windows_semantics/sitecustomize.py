"""Windows semantics for a Python on Linux (#27): loaded at start-up when this folder is on
PYTHONPATH (`tests/windows_semantics/mode.py` sets it for a subprocess).

What Windows lacks is made to lack here: `fcntl`, `pwd`, `grp`, `termios`, `resource` cannot
be imported, and `os` loses the POSIX-only functions and flags (`geteuid`, `fchown`,
`fchmod`, `O_NONBLOCK`, ...). What Windows has instead is given: an `msvcrt` whose
`locking` behaves as Windows' does (a lock per open handle, refused at once with OSError
under LK_NBLCK, released when the handle closes), built on the real `flock` taken before it
is hidden. sys.platform stays `linux`, so code that picks its branch by what the platform
has (not by its name) is what runs.
"""

from __future__ import annotations

import fcntl as _fcntl  # kept for the msvcrt stand-in before fcntl is hidden
import importlib.abc
import os
import sys

from fake_msvcrt import make as make_msvcrt

BLOCKED_MODULES = frozenset({"fcntl", "pwd", "grp", "termios", "resource", "posix_ipc"})
BLOCKED_OS = (
    "geteuid", "getegid", "getuid", "getgid", "fchown", "fchmod", "lchown", "chown",
    "getpwuid", "fork", "forkpty", "setsid", "killpg", "getpgid", "sync", "mkfifo",
    "O_NONBLOCK", "O_NOCTTY", "O_DIRECTORY", "O_NOFOLLOW",
)  # fmt: skip


class _Blocker(importlib.abc.MetaPathFinder):
    """Refuses the POSIX-only modules as a missing module (ModuleNotFoundError)."""

    def find_spec(self, name: str, path: object, target: object = None) -> None:
        if name.split(".")[0] in BLOCKED_MODULES:
            raise ModuleNotFoundError(f"No module named {name!r} (Windows semantics)", name=name)
        return None


for _name in BLOCKED_MODULES:
    sys.modules.pop(_name, None)
sys.meta_path.insert(0, _Blocker())
for _name in BLOCKED_OS:
    if hasattr(os, _name):
        delattr(os, _name)
# subprocess (and getpass) take an importable msvcrt for "this is Windows": they are loaded
# before the stand-in appears, so they keep their POSIX process code (this is still Linux).
import getpass  # noqa: E402, F401
import subprocess  # noqa: E402, F401

sys.modules["msvcrt"] = make_msvcrt(_fcntl)
os.environ["SENTRY_RELEASE_WINDOWS_SEMANTICS"] = "1"  # children and tests can tell
