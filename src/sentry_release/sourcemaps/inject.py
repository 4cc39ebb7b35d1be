"""Debug ID injection, compatible with `sentry-cli sourcemaps inject` (3.8).

The id: an id already in the map wins; else a UUID from the first 16 bytes of one SHA-1 over
the bundle's bytes and the map's bytes (for a data URL, the decoded map), each prefixed with a
tag and its length, with version-5 and variant bits set (sentry-cli 2.x hashed the map alone);
a bundle without a usable map hashes its own bytes.

Placement: with a regular map the registration snippet goes on its own line after any
hashbang, leading comments and a `"use strict";` prologue, and the map's mappings move down by
the inserted lines; with an indexed map the snippet goes first (after a hashbang, repeating a
"use ..." directive) and every section moves down one line; without a map the snippet goes at
the end, where it moves no mapping. Files that already carry a `//# debugId=` are left alone,
so a second run changes nothing.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentry_release.errors import SourceMapError
from sentry_release.output import Output
from sentry_release.sourcemaps.bundle import Changed
from sentry_release.sourcemaps.discover import (
    DATA_PREAMBLE,
    JS_EXTENSIONS,
    TEMP_MARK,
    TEMP_RE,
    FoundFile,
    IgnoreRules,
    MapRef,
    associate,
    debug_id_of_js,
    debug_id_of_map,
    is_sourcemap,
    sourcemap_location,
    walk,
)
from sentry_release.sourcemaps.memory import TooBigForMemory, reading
from sentry_release.sourcemaps.paths import FileAccess, read_regular
from sentry_release.sourcemaps.portable import FolderLock, keep_mode_and_owner, replace
from sentry_release.sourcemaps.preflight import check
from sentry_release.sourcemaps.validate import parse_map
from sentry_release.sourcemaps.vlq import shift_mappings

SNIPPET = (
    '!function(){try{var e="undefined"!=typeof window?window:"undefined"!=typeof global?global'
    ':"undefined"!=typeof globalThis?globalThis:"undefined"!=typeof self?self:{},n=(new e.Error)'
    '.stack;n&&(e._sentryDebugIds=e._sentryDebugIds||{},e._sentryDebugIds[n]="{id}")}catch(e){}}();'
)
DEBUG_ID_COMMENT = "//# debugId="
# Hashbang, then comments and blank space, then one string-literal statement ("use strict";).
PRE_INJECT_RE = re.compile(
    r"""^(#!.*[\n\r])?(?:\s+|/\*[\s\S]*?\*/|//.*[\n\r])*(?:"[^"]*";|'[^']*';[\n\r]?)?"""
)
# Beyond sentry-cli's pattern: further directives, and directives ended by a line break (ASI).
MORE_DIRECTIVES_RE = re.compile(
    r"""(?:[ \t]*(?:/\*[^\n]*?\*/[ \t]*)?(?:\r?\n)?)*?(?:"[^"\n]*"|'[^'\n]*')"""
    r"""[ \t]*(?:;[ \t]*|(?=\r?\n|$))"""
)
BOM = "\ufeff"
USE_DIRECTIVE_RE = re.compile(
    r"""^(?:\s+|/\*[\s\S]*?\*/|//.*[\n\r])*(?:(?P<d>"use [^"]*"|'use [^']*');?[\n\r]?)"""
)


@dataclass(frozen=True)
class InjectedFile:
    """One bundle that got (or already had) a debug id."""

    path: Path
    debug_id: str
    sourcemap: Path | None
    changed: bool


@dataclass(frozen=True)
class InjectResult:
    """What inject did."""

    files: tuple[InjectedFile, ...] = ()
    skipped: tuple[Path, ...] = field(default=())


# --- pure pieces ------------------------------------------------------------------------------


def _uuid_from_sha1(digest_bytes: bytes) -> str:
    digest = bytearray(digest_bytes[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(digest)))


def debug_id_from_bytes(data: bytes) -> str:
    """Id of a bundle without a map: SHA-1 of its bytes as a version-5 UUID (sentry-cli)."""
    return _uuid_from_sha1(hashlib.sha1(data).digest())


def debug_id_from_js_and_map(js: bytes, source_map: bytes) -> str:
    """Id of a bundle and its map, as sentry-cli 3.8 derives it.

    Both length-prefixed parts go into one SHA-1, so a map shared by two different bundles
    (or a bundle rebuilt against the same map) never yields the same id.
    """
    digest = hashlib.sha1()
    digest.update(b"js")
    digest.update(len(js).to_bytes(8, "little"))
    digest.update(js)
    digest.update(b"sourcemap")
    digest.update(len(source_map).to_bytes(8, "little"))
    digest.update(source_map)
    return _uuid_from_sha1(digest.digest())


def snippet(debug_id: str) -> str:
    """The one-line registration snippet for `debug_id`."""
    return SNIPPET.replace("{id}", debug_id)


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset)
    return line, offset - (text.rfind("\n", 0, offset) + 1)


def prologue_end(text: str) -> int:
    """Where the snippet may go: after a hashbang, comments and the directive prologue.

    sentry-cli's pattern first (so common files get its exact bytes), then any further
    directives and directives without a semicolon, which must stay first or strict mode is off.
    """
    end = PRE_INJECT_RE.match(text)
    offset = end.end() if end else 0
    while True:
        more = MORE_DIRECTIVES_RE.match(text, offset)
        if more is None or more.end() == offset:
            return offset
        offset = more.end()


def _split_bom(text: str) -> tuple[str, str]:
    """A UTF-8 BOM stays first and out of the columns (engines strip it before parsing)."""
    return (BOM, text[1:]) if text.startswith(BOM) else ("", text)


def inject_regular(text: str, debug_id: str) -> tuple[str, tuple[int, int, int]]:
    """Insert the snippet after the prologue; `(new text, (line, column, lines inserted))`."""
    bom, text = _split_bom(text)
    offset = prologue_end(text)
    injected = bom + (
        text[:offset]
        + "\n"
        + snippet(debug_id)
        + "\n"
        + text[offset:]
        + f"\n{DEBUG_ID_COMMENT}{debug_id}\n"
    )
    line, column = _position(text, offset)
    return injected, (line, column, 2)


def inject_at_start(text: str, debug_id: str) -> str:
    """Snippet first (after a hashbang, repeating a use directive): one line for indexed maps."""
    bom, text = _split_bom(text)
    hashbang = bom
    if text.startswith("#!"):
        cut = text.find("\n")
        cut = len(text) if cut == -1 else cut + 1
        hashbang, text = text[:cut], text[cut:]
    match = USE_DIRECTIVE_RE.match(text)
    directive = match.group("d") + ";" if match else ""
    return f"{hashbang}{directive}{snippet(debug_id)}\n{text}\n{DEBUG_ID_COMMENT}{debug_id}\n"


def _lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _is_map_comment(line: str) -> bool:
    return line.startswith(("//# sourceMappingURL=", "//@ sourceMappingURL="))


def inject_at_end(text: str, debug_id: str) -> str:
    """Snippet at the end, before a moved sourceMappingURL comment: no mapping moves."""
    lines = _lines(text)
    comment = None
    for i in range(len(lines) - 1, -1, -1):
        if _is_map_comment(lines[i]):
            comment = lines.pop(i)
            break
    tail = [snippet(debug_id)] + ([comment] if comment else []) + [DEBUG_ID_COMMENT + debug_id]
    return "".join(line + "\n" for line in [*lines, *tail])


def replace_map_url(text: str, new_url: str) -> str:
    """Rewrite the last sourceMappingURL comment (line-wise, as sentry-cli does)."""
    lines = _lines(text)
    for i in range(len(lines) - 1, -1, -1):
        if _is_map_comment(lines[i]):
            lines[i] = "//# sourceMappingURL=" + new_url
            return "".join(line + "\n" for line in lines)
    return text


def dump_map(parsed: dict[str, Any]) -> bytes:
    """Compact JSON as bundlers write it."""
    return json.dumps(parsed, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def adjust_map(
    parsed: dict[str, Any], debug_id: str, shift: tuple[int, int, int] | None
) -> dict[str, Any]:
    """The map with the debug id set and mappings (or sections) moved for the snippet."""
    out = dict(parsed)
    if "sections" in out:
        sections = []
        for section in out["sections"]:
            moved = dict(section)
            offset = dict(moved.get("offset") or {"line": 0, "column": 0})
            offset["line"] = int(offset.get("line", 0)) + 1
            moved["offset"] = offset
            sections.append(moved)
        out["sections"] = sections
    elif shift is not None:
        out["mappings"] = shift_mappings(str(out.get("mappings", "")), *shift)
    out.pop("debug_id", None)
    out.pop("debugId", None)
    out["debug_id"] = debug_id  # sentry-cli 2.x and Sentry's older readers
    out["debugId"] = debug_id  # the source map debug ID proposal / sentry-cli 3.x
    return out


PENDING_KEY = "x_sentry_release_pending"
INTERRUPTED = "an inject was interrupted while writing this map; run `sentry-release inject` again"
LOCK_WAIT = 300.0  # seconds another inject of the same folders may hold them


@dataclass(frozen=True)
class Change:
    """Planned new contents for one bundle (and its map).

    A pair is written in three steps so that a crash anywhere leaves a state the next run
    recognises: the new map marked with `PENDING_KEY`, then the bundle, then the map without
    the mark. A marked map is already shifted: a re-run finishes the bundle from the map's id
    and drops the mark, and never shifts the mappings again.
    """

    js_path: Path
    debug_id: str
    js_text: str | None  # None: unchanged
    map_path: Path | None = None
    map_bytes: bytes | None = None  # the final map
    marked_map: bytes | None = None  # written first; None when resuming an interrupted pair
    resumed: bool = False


def _parse_map(where: str, raw: bytes, js_path: Path) -> dict[str, Any]:
    """The parsed map, or SourceMapError naming it (the checks upload applies)."""
    parsed, problem = parse_map(where, raw)
    if problem is not None:
        raise SourceMapError(f"{problem} (referenced by {js_path})")
    assert parsed is not None
    return parsed


def _inject(text: str, debug_id: str, indexed: bool) -> tuple[str, tuple[int, int, int] | None]:
    if indexed:
        return inject_at_start(text, debug_id), None
    return inject_regular(text, debug_id)


def plan_file(
    js_path: Path, js_bytes: bytes, ref: MapRef | None, map_bytes: bytes | None
) -> Change:
    """Decide what injecting one bundle writes; pure, so tests and dry runs share it."""
    try:
        text = js_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise SourceMapError(f"{js_path} is not UTF-8: cannot inject a debug ID") from None
    existing = debug_id_of_js(text)
    raw_map = ref.inline if ref is not None and ref.inline is not None else map_bytes
    if ref is None or raw_map is None:
        if existing:
            return Change(js_path, existing, None)
        debug_id = debug_id_from_bytes(js_bytes)
        return Change(js_path, debug_id, inject_at_end(text, debug_id))
    where = "inline source map" if ref.inline is not None else str(ref.url)
    parsed = _parse_map(where, raw_map, js_path)
    map_path = Path(ref.url) if ref.inline is None and ref.url is not None else None
    if PENDING_KEY in parsed and map_path is not None:
        # An interrupted inject: the map is final but for the mark; finish the pair.
        final = dict(parsed)
        del final[PENDING_KEY]
        debug_id = debug_id_of_map(parsed) or existing or ""
        new_text = None if existing else _inject(text, debug_id, "sections" in parsed)[0]
        return Change(js_path, debug_id, new_text, map_path, dump_map(final), None, True)
    if existing:
        return Change(js_path, existing, None)
    own = debug_id_of_map(parsed)
    debug_id = own or debug_id_from_js_and_map(js_bytes, raw_map)
    new_text, shift = _inject(text, debug_id, "sections" in parsed)
    try:
        new_map = adjust_map(parsed, debug_id, shift)
    except ValueError as exc:  # mappings to shift past the inserted line, but unreadable
        raise SourceMapError(
            f"{where}: invalid mappings ({exc}), so they cannot be shifted for the debug ID "
            f"line of {js_path}: rebuild the map or leave the file out with --ignore"
        ) from None
    if map_path is None:
        encoded = base64.b64encode(dump_map(new_map)).decode("ascii")
        return Change(js_path, debug_id, replace_map_url(new_text, DATA_PREAMBLE + encoded))
    final_map = dump_map(new_map)
    # `dump_map({**new_map, PENDING_KEY: True})`, without encoding the map twice: compact JSON
    # of a non-empty object with one more key last (the id keys make it non-empty)
    marked = final_map[:-1] + b',"' + PENDING_KEY.encode() + b'":true}'
    return Change(js_path, debug_id, new_text, map_path, final_map, marked)


# --- I/O ----------------------------------------------------------------------------------------


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` through a temp file in its folder: never a half-written file.

    The temp file gets the original's mode and owner (where the platform has them) before it
    takes its place, and its name (`.NAME.sentry-release-XXXX.tmp`) is one discovery skips
    and the next inject sweeps. `portable.replace` waits out a program holding the target.
    """
    st = path.stat()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{TEMP_MARK}", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            keep_mode_and_owner(handle.fileno(), tmp, st)
            handle.write(data)
        replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def sweep_temp_files(directory: Path) -> int:
    """Remove temp files an earlier, killed inject left in `directory`; how many."""
    removed = 0
    with os.scandir(directory) as entries:
        for entry in entries:
            if TEMP_RE.match(entry.name) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed += 1
    return removed


@contextlib.contextmanager
def locked(directories: Sequence[Path], *, wait: float = LOCK_WAIT) -> Iterator[None]:
    """Hold an exclusive lock on each folder (in one global order, so no deadlock).

    Two injects of the same build output wait for each other instead of interleaving; nothing
    is created in the folder and nothing can be left behind (`portable.FolderLock`).
    """
    held: list[FolderLock] = []
    try:
        for directory in sorted({d.resolve() for d in directories}):
            lock = FolderLock(directory)
            deadline = time.monotonic() + wait
            while not lock.try_acquire():
                if time.monotonic() > deadline:
                    raise SourceMapError(
                        f"another inject has held {directory} for {wait:.0f}s: "
                        "wait for it to finish, or stop it"
                    ) from None
                time.sleep(0.02)
            held.append(lock)
        yield
    finally:
        for lock in held:
            lock.release()


def _read(path: Path) -> bytes:
    try:
        return read_regular(path)
    except TooBigForMemory as exc:
        raise SourceMapError(f"{path}: {exc.strerror}") from None
    except OSError as exc:
        raise SourceMapError(f"cannot read {path} ({exc.strerror}); fix or remove it") from None


@dataclass(frozen=True)
class _Bundle:
    """What planning one bundle needs besides its bytes (read again when planned)."""

    path: Path
    url: str
    ref: MapRef | None  # a data-URL map's bytes are not kept: decoded again when planned
    map_path: Path | None
    existing: str | None = None  # the debug id it already carries


Seen = tuple[int, bytes]  # a file's size and SHA-1 digest when `Planner.of` read it


def _seen(data: bytes) -> Seen:
    return len(data), hashlib.sha1(data).digest()


class Planner:
    """Inject planned one bundle (and its map) at a time, so memory never holds the build.

    `of` reads every file once, checks it (each map as upload checks it, each bundle for
    UTF-8: all that can make a plan fail) and keeps only what ties bundles to maps (kind,
    `sourceMappingURL`) and each file's size and SHA-1; `plan` reads a bundle and its map
    again, refuses either if it differs from what `of` read (`Changed`), and decides its
    `Change`; `read` gives a file as inject would leave it (for `run`, which collects before
    inject writes).
    """

    def __init__(
        self,
        bundles: Sequence[_Bundle],
        seen: dict[Path, Seen] | None = None,
        pending: frozenset[Path] = frozenset(),
    ) -> None:
        self.bundles = list(bundles)
        self._by_path = {b.path: b for b in self.bundles}
        self._by_map: dict[Path, list[_Bundle]] = {}
        for b in self.bundles:
            if b.map_path is not None:
                self._by_map.setdefault(b.map_path, []).append(b)
        self._cache: dict[Path, Change] = {}
        self._seen = seen if seen is not None else {}
        self._pending = pending  # maps an interrupted inject left marked
        self._ids: dict[Path, str] = {}  # the debug id each bundle was planned with

    @classmethod
    def of(
        cls,
        paths: Sequence[Path],
        extensions: Sequence[str] = JS_EXTENSIONS,
        ignore: IgnoreRules | None = None,
        inside: Path | None = None,
        *,
        found: Sequence[FoundFile] | None = None,
    ) -> Planner:
        """Find the bundles under `paths` and their maps (one read of each file, bytes dropped)."""
        if found is None:
            found = _find(paths, extensions, ignore, inside, writing=False)
        suffixes = tuple("." + e for e in extensions)
        maps: list[str] = []
        candidates: list[tuple[Path, str]] = []
        locations: dict[str, str | None] = {}
        inline: dict[str, MapRef | None] = {}
        problems: list[str] = []  # every map checked as upload checks it, before any write
        seen: dict[Path, Seen] = {}
        pending: set[Path] = set()
        existing: dict[str, str | None] = {}
        not_utf8: list[Path] = []
        for f in found:
            with reading(f.path):  # a MemoryError: exit 2 naming the file
                data = _read(f.path)
                seen[f.path] = _seen(data)
                url = f.path.as_posix()
                # A `.map` that is not a valid map is still the bundle's map, and refused here.
                if f.path.name.endswith(".map") or is_sourcemap(data):
                    maps.append(url)
                    parsed, problem = parse_map(str(f.path), data)
                    if problem is not None:
                        problems.append(str(problem))
                    elif parsed is not None and PENDING_KEY in parsed:
                        pending.add(f.path)
                    del parsed
                elif f.path.name.endswith(suffixes):
                    try:  # what `plan_file` refuses that no map check finds
                        data.decode("utf-8")
                    except UnicodeDecodeError:
                        not_utf8.append(f.path)
                    existing[url] = debug_id_of_js(data)
                    location = sourcemap_location(data)
                    if location is not None and location.startswith(DATA_PREAMBLE):
                        # decided alone (a data URL ties to no other file); its bytes are dropped
                        inline[url] = ref = associate([url], [], {url: location})[url]
                        location = None
                        if ref is not None and ref.inline is not None:
                            problem = parse_map(f"{f.path} (inline source map)", ref.inline)[1]
                            if problem is not None:
                                problems.append(str(problem))
                    candidates.append((f.path, url))
                    locations[url] = location
                del data
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise SourceMapError(f"{problems[0]}{more}: nothing was injected")
        if not_utf8:
            raise SourceMapError(f"{not_utf8[0]} is not UTF-8: cannot inject a debug ID")
        maps.sort()
        refs = associate([u for _p, u in candidates if u not in inline], maps, locations)
        bundles: list[_Bundle] = []
        for path, url in candidates:
            ref = inline[url] if url in inline else refs.get(url)
            if ref is not None and ref.inline is None and ref.url is None:
                ref = None  # the named map is not here: hash the bundle, like sentry-cli
            map_path = Path(ref.url) if ref is not None and ref.url is not None else None
            if ref is not None and ref.inline is not None:
                ref = MapRef(ref.reference, None, b"", ref.explicit)  # marker: decode again
            bundles.append(_Bundle(path, url, ref, map_path, existing.get(url)))
        return cls(bundles, seen, frozenset(pending))

    def _again(self, path: Path, *, check: bool) -> bytes:
        """A file read again; with `check`, refused (`Changed`) unless it is what `of` read."""
        data = _read(path)
        if check and path in self._seen and _seen(data) != self._seen[path]:
            raise Changed(str(path))
        return data

    def plan(self, path: Path, *, check: bool = True) -> Change:
        """The change for the bundle at `path`, from its bytes (and its map's) on disk now,
        which must be those `of` checked (`Changed` otherwise) unless `check` is False."""
        cached = self._cache.get(path)
        if cached is not None:
            return cached
        bundle = self._by_path[path]
        with reading(path):
            js = self._again(path, check=check)
        ref = bundle.ref
        if ref is not None and ref.inline is not None:
            location = sourcemap_location(js) or ""
            ref = associate([bundle.url], [], {bundle.url: location}).get(bundle.url)
        with reading(bundle.map_path or path):  # the map is the larger, when there is one
            map_bytes = None
            if bundle.map_path is not None:
                map_bytes = self._again(bundle.map_path, check=check)
            change = plan_file(path, js, ref, map_bytes)
        if len(self._cache) >= 4:  # a bundle and its map are asked for one after the other
            self._cache.pop(next(iter(self._cache)))
        self._cache[path] = change
        if check:
            self._ids[path] = change.debug_id
        return change

    def unchanged(self, group: Sequence[Path]) -> list[_Summary] | None:
        """What `of` saw of a group that inject leaves as it is (each bundle already has a
        debug id and no map is marked by an interrupted inject), or None: such a group is
        neither planned nor read again."""
        bundles = [self._by_path[path] for path in group]
        if any(not b.existing or b.map_path in self._pending for b in bundles):
            return None
        return [_Summary(b.path, b.existing or "", None, False, False, "") for b in bundles]

    def written_since(self, group: Sequence[Path]) -> list[_Summary] | None:
        """A group changed since it was checked, if the change is exactly what this plan would
        have written (another inject of the same files, e.g. a parallel `run`): it is left as
        it is, as `already has`; None otherwise."""
        out: list[_Summary] = []
        for path in group:
            self._cache.pop(path, None)
            change = self.plan(path, check=False)
            self._cache.pop(path, None)
            done = change.js_text is None and change.map_bytes is None
            if not done or change.debug_id != self._ids.get(path):
                return None
            out.append(_summary(change))
        return out

    def forget(self) -> None:
        """Drop the plans kept for `read`: the next `plan` reads the files again."""
        self._cache.clear()

    def read(self, path: Path) -> bytes:
        """`path` as inject will leave it (planned, nothing written); else its bytes on disk."""
        if path in self._by_path:
            text = self.plan(path).js_text
            if text is not None:
                return text.encode("utf-8")
        for bundle in reversed(self._by_map.get(path, [])):  # the last writer of a shared map
            change = self.plan(bundle.path)
            if change.map_path is not None and change.map_bytes is not None:
                return change.map_bytes
        return read_regular(path)

    def groups(self) -> list[list[Path]]:
        """Bundles in order, those sharing a map together (planned before any of them writes)."""
        done: set[Path] = set()
        out: list[list[Path]] = []
        for b in self.bundles:
            if b.path in done:
                continue
            group = self._by_map.get(b.map_path, [b]) if b.map_path is not None else [b]
            out.append([g.path for g in group])
            done.update(g.path for g in group)
        return out


def _find(
    paths: Sequence[Path],
    extensions: Sequence[str],
    ignore: IgnoreRules | None,
    inside: Path | None,
    *,
    writing: bool,
) -> list[FoundFile]:
    access = FileAccess.for_paths(inside, paths) if inside is not None else None
    found = walk(paths, [*extensions, "map"], ignore, access=access)
    check(found, inject=writing)
    return found


def write_change(change: Change) -> None:
    """Write one pair in the crash-safe order (see `Change`)."""
    if change.map_path is not None and change.marked_map is not None:
        atomic_write(change.map_path, change.marked_map)
    if change.js_text is not None:
        atomic_write(change.js_path, change.js_text.encode("utf-8"))
    if change.map_path is not None and change.map_bytes is not None:
        atomic_write(change.map_path, change.map_bytes)


def inject_paths(
    paths: tuple[Path, ...],
    *,
    dry_run: bool,
    out: Output,
    extensions: Sequence[str] = JS_EXTENSIONS,
    ignore: IgnoreRules | None = None,
    inside: Path | None = None,
    planner: Planner | None = None,
) -> InjectResult:
    """Inject debug IDs into every JS file under `paths` (with or without a source map).

    With `inside` (the working directory), nothing outside it and the named paths is read.
    Every problem is found before the first write (`Planner.of` reads and checks each file
    once); the folders are locked while planning and writing, and temp files of a killed
    earlier run are removed first. Each file inject writes is read once more under the lock
    and refused (`Changed`) unless it is byte for byte what was checked (size and SHA-1), so
    a plan never writes over a rebuild; a file left as it is is not read again. `planner`:
    `run`'s, made (and its files collected) before the release was created; then a file
    another inject wrote since, exactly as this one would have, is taken as it is.
    """
    found = _find(paths, extensions, ignore, inside, writing=not dry_run)
    folders = sorted({f.path.parent for f in found})
    if dry_run:
        planner = planner or Planner.of(paths, extensions, found=found)
        return _report(_summaries(planner), dry_run=True, out=out)
    given = planner is not None
    done: dict[Path, _Summary] = {}
    with locked(folders):
        for folder in folders:
            sweep_temp_files(folder)
        if planner is None:  # every file read and checked once, before the first write
            planner = Planner.of(paths, extensions, found=found)
        planner.forget()  # the writing pass reads each file it writes again, under the lock
        for group in planner.groups():
            kept = planner.unchanged(group)
            if kept is None:
                try:  # a shared map: all read first; `Changed` if not what was checked
                    changes = [planner.plan(path) for path in group]
                except Changed:
                    kept = planner.written_since(group) if given else None
                    if kept is None:
                        raise
            if kept is not None:
                done.update((s.path, s) for s in kept)
                continue
            for change in changes:
                try:
                    write_change(change)
                except OSError as exc:
                    raise SourceMapError(
                        f"cannot write {exc.filename or change.js_path}: {exc.strerror or exc}; "
                        "check that the build output is writable"
                    ) from exc
                done[change.js_path] = _summary(change)
    return _report([done[b.path] for b in planner.bundles], dry_run=False, out=out)


@dataclass(frozen=True)
class _Summary:
    """What the report says of one planned change (kept instead of its bytes)."""

    path: Path
    debug_id: str
    sourcemap: Path | None
    changed: bool
    resumed: bool
    digest: str  # SHA-1 of what would be written, to see a file change between the passes


def _summary(change: Change) -> _Summary:
    digest = hashlib.sha1()
    for part in (
        change.js_text.encode("utf-8") if change.js_text is not None else None,
        change.map_bytes,
    ):
        digest.update(b"-" if part is None else len(part).to_bytes(8, "little") + part)
    changed = change.js_text is not None or change.map_bytes is not None
    return _Summary(
        change.js_path,
        change.debug_id,
        change.map_path,
        changed,
        change.resumed,
        digest.hexdigest(),
    )


def _summaries(planner: Planner) -> list[_Summary]:
    out: list[_Summary] = []
    for b in planner.bundles:
        out.append(_summary(planner.plan(b.path)))
    return out


def _report(planned: Sequence[_Summary], *, dry_run: bool, out: Output) -> InjectResult:
    results: list[InjectedFile] = []
    skipped: list[Path] = []
    for item in planned:
        if item.resumed:
            verb = "would finish" if dry_run else "finished"
            out.info(f"{verb} the interrupted inject of {item.debug_id} into {item.path}")
        elif item.changed:
            verb = "would inject" if dry_run else "injected"
            target = f" (map {item.sourcemap})" if item.sourcemap else ""
            out.info(f"{verb} {item.debug_id} into {item.path}{target}")
        else:
            out.info(f"already has {item.debug_id}: {item.path}")
            skipped.append(item.path)
        results.append(InjectedFile(item.path, item.debug_id, item.sourcemap, item.changed))
    return InjectResult(tuple(results), tuple(skipped))
