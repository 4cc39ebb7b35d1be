"""Whether a build file fits in the memory this process can still use, before it is read.

A file is read whole only where its whole content must be parsed (a map's JSON, a bundle's
`sourceMappingURL` and `//# debugId=`), and parsing costs several times its size. A file
under Sentry's 2 GiB limit may still be larger than the runner's memory (a 1.5 GB map in a 1 GB
container): it is refused by its size with one line naming it, the memory left, and the fix,
before anything is written, instead of ending in a MemoryError or the OOM killer.

The memory left is the smallest known of: the kernel's MemAvailable (`/proc/meminfo`; else
`SC_AVPHYS_PAGES`), the cgroup's limit minus its working set (v2 `memory.max` -
(`memory.current` - `inactive_file`), v1 `memory.limit_in_bytes` - (`memory.usage_in_bytes` -
`total_inactive_file`): page cache the kernel can drop is not counted, as `docker stats` does
not), and RLIMIT_AS / RLIMIT_DATA minus VmSize / VmData (`/proc/self/status`). Unknown
everywhere: no check (a MemoryError that still happens is reported alike, `out_of_memory`).
The pure functions take the numbers; `headroom()` is the thin edge that reads them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from sentry_release.errors import SourceMapError
from sentry_release.output import human_bytes

# Peak memory of checking one file, as a multiple of its size (peak RSS over the process's
# own, `upload-sourcemaps --dry-run`, #23): a map is held as bytes, as the decoded JSON text,
# as the parsed strings, and its `mappings` again as ASCII bytes and as their translations for
# `validate.check_mappings`: 7.0x for a 100 MB map that is all `mappings`, 4.1x for one that is
# half `sourcesContent`; a 100 MB bundle 1.9x to upload, 6.7x to inject (its bytes, its text,
# the injected text and its bytes). Non-ASCII text costs more (Python keeps up to 4 bytes per
# character): left to `out_of_memory`.
PARSE_FACTOR = 8
# Below this need the memory is not looked at: reading /proc per file would cost more than
# it saves, and a process with less than this left cannot start the upload anyway.
FLOOR = 64 * 1024**2


class Headroom(NamedTuple):  # not a dataclass: no code generated at import
    """Bytes this process can still allocate, and which limit says so."""

    bytes: int
    limit: str  # "available memory", "the cgroup's memory limit", "RLIMIT_AS", "RLIMIT_DATA"


def smallest(candidates: Mapping[str, int | None]) -> Headroom | None:
    """The smallest known headroom (negative counts as 0); None when none is known."""
    known = [(max(0, value), name) for name, value in candidates.items() if value is not None]
    if not known:
        return None
    value, name = min(known, key=lambda pair: pair[0])
    return Headroom(value, name)


def left(limit: int | None, used: int | None) -> int | None:
    """`limit - used`, or None when either is unknown (no limit)."""
    return None if limit is None or used is None else limit - used


def needed(size: int, factor: int = PARSE_FACTOR) -> int:
    """Peak bytes of reading and checking a file of `size` bytes."""
    return size * factor


def refusal(path: str, size: int, room: Headroom | None, factor: int = PARSE_FACTOR) -> str | None:
    """Why the file cannot be read (a line without the path), or None if it fits or the
    headroom is unknown. A need of exactly the headroom still fits."""
    need = needed(size, factor)
    if room is None or need <= room.bytes:
        return None
    return (
        f"is {human_bytes(size)}; checking it needs about {human_bytes(need)} of memory, but "
        f"this process can use {human_bytes(room.bytes)} more ({room.limit}): exclude it with "
        "--ignore, or run with more memory"
    )


class TooBigForMemory(OSError):
    """A file refused by its size against the memory left (never read); `strerror` is the
    line without the path."""


def ensure_fits(path: Path | str, size: int, factor: int = PARSE_FACTOR) -> None:
    """Raise TooBigForMemory when `size` x `factor` exceeds the headroom (looked up only for
    a need over FLOOR)."""
    if needed(size, factor) < FLOOR:
        return
    why = refusal(str(path), size, headroom(), factor)
    if why is not None:
        raise TooBigForMemory(0, why, str(path))


def out_of_memory(size: int | None) -> str:
    """The line (without the path) for a MemoryError met while reading or checking a file."""
    what = f"is {human_bytes(size)} and " if size is not None else ""
    return (
        f"{what}ran out of memory while being read or checked: exclude it with --ignore, "
        "or run with more memory"
    )


@contextmanager
def reading(path: Path | str) -> Iterator[None]:
    """Turn a MemoryError inside into a SourceMapError (exit 2) naming `path`."""
    try:
        yield
    except MemoryError:
        raise SourceMapError(f"{path}: {out_of_memory(_size(path))}") from None


def _size(path: Path | str) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


# The edge: numbers from the kernel. Each reader returns None for what it cannot learn.


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def _fields(text: str | None, scale: int = 1) -> dict[str, int]:
    """`Key: 123 kB` / `key 123` lines as {key: value x scale}."""
    out: dict[str, int] = {}
    for line in (text or "").splitlines():
        parts = line.replace(":", " ").split()
        if len(parts) >= 2 and parts[1].isdigit():
            out[parts[0]] = int(parts[1]) * scale
    return out


def _number(text: str | None) -> int | None:
    """A cgroup file's number; None for `max`, a missing file or garbage."""
    value = (text or "").strip()
    return int(value) if value.isdigit() else None


def mem_available() -> int | None:
    """MemAvailable (Linux), else the free physical pages (`sysconf`), else None."""
    meminfo = _fields(_read_text("/proc/meminfo"), 1024)
    if "MemAvailable" in meminfo:
        return meminfo["MemAvailable"]
    if sys.platform == "win32":  # no sysconf
        return None
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def cgroup_left(root: str = "/sys/fs/cgroup") -> int | None:
    """The cgroup's limit minus its working set (v2, else v1); None without a limit."""
    v2 = left(
        _number(_read_text(f"{root}/memory.max")), _number(_read_text(f"{root}/memory.current"))
    )
    if v2 is not None:
        return v2 + _fields(_read_text(f"{root}/memory.stat")).get("inactive_file", 0)
    v1 = f"{root}/memory"
    limit = _number(_read_text(f"{v1}/memory.limit_in_bytes"))
    used = _number(_read_text(f"{v1}/memory.usage_in_bytes"))
    room = left(limit, used)
    if room is None:
        return None
    return room + _fields(_read_text(f"{v1}/memory.stat")).get("total_inactive_file", 0)


def rlimit_left() -> dict[str, int | None]:
    """RLIMIT_AS minus VmSize and RLIMIT_DATA minus VmData (None: no limit, or unknown)."""
    if sys.platform == "win32":  # no resource limits of this kind
        return {}
    import resource

    status = _fields(_read_text("/proc/self/status"), 1024)
    out: dict[str, int | None] = {}
    for name, key in (("RLIMIT_AS", "VmSize"), ("RLIMIT_DATA", "VmData")):
        soft = resource.getrlimit(getattr(resource, name))[0]
        limit = None if soft == resource.RLIM_INFINITY else soft
        out[name] = left(limit, status.get(key))
    return out


def headroom() -> Headroom | None:
    """The memory this process can still use, as the kernel tells it now."""
    return smallest(
        {
            "available memory": mem_available(),
            "the cgroup's memory limit": cgroup_left(),
            **rlimit_left(),
        }
    )
