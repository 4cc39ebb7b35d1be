"""Collect the files to upload: discover, classify, associate, validate, rewrite maps.

No network. Each map is parsed once and, only when it helps, rewritten: `sourcesContent`
filled from local files (inside the file-access root, `paths.py`) and `--strip-prefix` /
`--strip-common-prefix` applied to `sources`; otherwise its bytes go up untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePath, PurePosixPath
from typing import Any

from sentry_release.config.settings import Settings, SourceMapOptions
from sentry_release.output import Output
from sentry_release.sourcemaps.bundle import (
    MINIFIED_SOURCE,
    SOURCE_MAP,
    BundleFile,
    Changed,
    Deferred,
)
from sentry_release.sourcemaps.discover import (
    associate,
    debug_id_of_js,
    debug_id_of_map,
    is_remote,
    is_sourcemap,
    load_ignore_rules,
    sourcemap_location,
    walk,
)
from sentry_release.sourcemaps.inject import INTERRUPTED, PENDING_KEY, Planner
from sentry_release.sourcemaps.memory import TooBigForMemory, out_of_memory
from sentry_release.sourcemaps.paths import MAX_FILE_SIZE, FileAccess, read_regular
from sentry_release.sourcemaps.preflight import check
from sentry_release.sourcemaps.validate import Problem, missing_map, parse_map, too_large


def file_url(prefix: str, rel: str | PurePath, suffix: str) -> str:
    """A file's URL in the bundle: `prefix/rel suffix`. `rel` is relative to its search root,
    POSIX-style whatever the platform's separator: `FoundFile.rel` is joined with `/`, and a
    path is turned into its POSIX form (`PureWindowsPath("js\\app.js")` -> `js/app.js`), as
    sentry-cli's `path_as_url` does on Windows (src/utils/fs.rs)."""
    prefix = prefix[:-1] if prefix.endswith("/") else prefix
    text = rel.as_posix() if isinstance(rel, PurePath) else rel
    return f"{prefix}/{text}{suffix}"


def _strip(sources: list[Any], prefixes: Sequence[str], common: bool) -> list[Any]:
    paths = [s for s in sources if isinstance(s, str)]
    wanted = list(prefixes)
    if common and len(paths) > 1:
        shared = os.path.commonpath(paths) if all(p.startswith("/") for p in paths) else ""
        if not shared:
            parts = [p.split("/") for p in paths]
            head: list[str] = []
            for segs in zip(*[p[:-1] for p in parts], strict=False):
                if len(set(segs)) != 1:
                    break
                head.append(segs[0])
            shared = "/".join(head)
        if shared:
            wanted.append(shared.rstrip("/") + "/")
    out: list[Any] = []
    for source in sources:
        if isinstance(source, str):
            for prefix in wanted:
                if prefix and source.startswith(prefix):
                    source = source[len(prefix) :].lstrip("/")
                    break
        out.append(source)
    return out


def rewrite_map(
    parsed: dict[str, Any],
    map_dir: Path,
    cwd: Path,
    opts: SourceMapOptions,
    *,
    access: FileAccess | None = None,
    left_out: Callable[[str, str], None] = lambda source, why: None,
) -> dict[str, Any] | None:
    """Inline sourcesContent from local files and strip source prefixes; None if unchanged.

    A source is looked up next to the map, then under the working directory, and read only
    when `access` (default: the working directory) allows it; one outside, in /proc, or a FIFO
    is left out and reported through `left_out(source, why)`.
    """
    if "sections" in parsed:
        return None  # indexed maps go up as they are; Sentry flattens them
    sources = parsed.get("sources")
    if not isinstance(sources, list):
        return None
    out = dict(parsed)
    changed = False
    if opts.strip_prefixes or opts.strip_common_prefix:
        stripped = _strip(sources, opts.strip_prefixes, opts.strip_common_prefix)
        if stripped != sources:
            out["sources"] = stripped
            changed = True
    contents = parsed.get("sourcesContent")
    contents = list(contents) if isinstance(contents, list) else []
    contents += [None] * (len(sources) - len(contents))
    root = parsed.get("sourceRoot")
    root = root if isinstance(root, str) and "://" not in root else ""
    access = access if access is not None else FileAccess.for_paths(cwd)
    inlined = False
    for i, source in enumerate(sources):
        if contents[i] is not None or not isinstance(source, str) or "://" in source:
            continue
        rel = str(PurePosixPath(root) / source) if root else source
        for base in (map_dir, cwd):
            candidate = base / rel
            try:
                if not candidate.exists():
                    continue
            except (OSError, ValueError):  # a NUL byte, a name too long
                break
            text, why = access.source_text(candidate)
            if why is not None:
                left_out(source, why)
            if text is not None:
                contents[i] = text
                inlined = True
            break
    if inlined:
        out["sourcesContent"] = contents
    return out if changed or inlined else None


def _record(
    left_out: dict[str, tuple[str, list[Path]]], map_path: Path, source: str, why: str
) -> None:
    """`left_out(source, why)` for one map: remembers every map that names each source."""
    left_out.setdefault(source, (why, []))[1].append(map_path)


@dataclass
class Collected:
    """Files ready to bundle plus what validation found.

    Each file's bytes are a `Deferred`: validation kept only their size and SHA-1, and the
    bundle reads (and rewrites) them again one at a time, a file kept as it is in slices, so
    memory does not grow with the build.
    """

    files: list[BundleFile]
    problems: list[Problem]
    notes: list[str]
    warnings: list[str] = field(default_factory=list)
    # `run`: inject's plan the files were collected from (as inject will leave them); its
    # inject step writes from it, reading no file it has not to write
    inject_plan: Planner | None = None

    def take_plan(self) -> Planner | None:
        """`inject_plan`, handed over once (not kept while the upload runs)."""
        plan, self.inject_plan = self.inject_plan, None
        return plan


def _dump(parsed: dict[str, Any]) -> bytes:
    return json.dumps(parsed, separators=(",", ":"), ensure_ascii=False).encode()


def _map_bytes(
    read: Callable[[Path], bytes], cwd: Path, opts: SourceMapOptions, access: FileAccess, path: Path
) -> bytes:
    """A map's bytes as uploaded, again (the rewrite is deterministic)."""
    data = read(path)
    parsed, problem = parse_map(str(path), data)
    if problem is not None or parsed is None:
        raise Changed(str(path))
    new = rewrite_map(parsed, path.parent, cwd, opts, access=access)
    return _dump(new) if new is not None else data


def collect(
    settings: Settings,
    *,
    out: Output | None = None,
    read: Callable[[Path], bytes] = read_regular,
    reread: Callable[[Path], bytes] | None = None,
    found_ok: Callable[[], None] = lambda: None,
) -> Collected:
    """Discover, classify, associate and validate the files to upload (no network).

    One file is read at a time; each map is parsed, checked and (when it helps) rewritten, and
    only its size and SHA-1 are kept. `read` lets `run` collect before inject has written, from
    inject's planned contents; `reread` (default `read`) is what the bundle reads later, e.g.
    the files on disk once inject has written them (they must then match what was planned).
    `found_ok` is called once the walk found no bad path, before any file is read.

    In order: the roots (a named path into /proc is refused first), the walk under them (one
    `FileAccess` handed down, also to `rewrite_map`), the preflight, then per file: its URL,
    its size, its bytes, its validation, its rewrite; then the association of bundles to maps.
    """
    opts = settings.sourcemaps
    cwd = settings.working_directory
    again = reread or read
    as_is = again is read_regular  # the bundle reads the files on disk: a file kept as it is
    # there is streamed into the bundle in slices (`Deferred.crc`), not read whole again
    access = FileAccess.for_paths(cwd, opts.paths)
    rules = load_ignore_rules(
        opts.ignore,
        (cwd / opts.ignore_file) if opts.ignore_file is not None else None,
    )
    found = walk([cwd / p for p in opts.paths], opts.extensions, rules, access=access)
    check(found, inject=False)
    found_ok()
    left_out: dict[str, tuple[str, list[Path]]] = {}  # source -> (why, maps naming it)
    problems: list[Problem] = []
    notes: list[str] = []
    unusable: list[str] = []  # maps already reported: bundles naming them add no 2nd problem
    seen: dict[str, Path] = {}
    maps: dict[str, BundleFile] = {}
    scripts: list[tuple[str, Path, Deferred, str | None, str | None]] = []
    bar = out.progress("Reading files", len(found), "files") if out is not None else None
    for f in found:
        if bar is not None:
            bar.advance()
        path = f.path
        url = file_url(opts.url_prefix, f.rel, opts.url_suffix)
        if url in seen and seen[url] != path:
            problems.append(Problem(str(path), f"has the same URL {url} as {seen[url]}"))
            continue
        seen[url] = path
        size = _size(path)
        if size > MAX_FILE_SIZE:  # refused by its size: never read (a 3 GB file, #23)
            problems.append(too_large(str(path), size, MAX_FILE_SIZE))
            unusable.append(url)
            continue
        try:  # a file refused by the memory left, or that exhausts it, is one problem
            data = read(path)
        except TooBigForMemory as exc:
            problems.append(Problem(str(path), str(exc.strerror)))
            unusable.append(url)
            continue
        except OSError as exc:
            problems.append(Problem(str(path), f"cannot read ({exc.strerror}); fix or remove it"))
            unusable.append(url)
            continue
        except MemoryError:
            problems.append(Problem(str(path), out_of_memory(size)))
            unusable.append(url)
            continue
        upload = data  # the bytes that go up, as validated now
        try:
            produce = partial(again, path)  # ... and as the bundle reads them again later
            if path.name.endswith(".map") or is_sourcemap(data):
                parsed, problem = parse_map(str(path), data)
                if problem:
                    problems.append(problem)
                    unusable.append(url)
                    continue
                assert parsed is not None
                if PENDING_KEY in parsed:
                    problems.append(Problem(str(path), INTERRUPTED))
                    unusable.append(url)
                    continue
                new = rewrite_map(
                    parsed,
                    path.parent,
                    cwd,
                    opts,
                    access=access,
                    left_out=partial(_record, left_out, path),
                )
                if new is not None:  # else uploaded as it is: read again, no parse
                    upload = _dump(new)
                    produce = partial(_map_bytes, again, cwd, opts, access, path)
                del new
                map_id = debug_id_of_map(parsed)
                del parsed
                source = _deferred(upload, produce, path, as_is=as_is and upload is data)
                map_headers = {"debug-id": map_id} if map_id else {}
                maps[url] = BundleFile(url, SOURCE_MAP, source, map_headers, str(path))
            else:
                source = _deferred(upload, produce, path, as_is=as_is)
                # searched in the bytes: a bundle is never held twice (as bytes and as text)
                scripts.append((url, path, source, sourcemap_location(data), debug_id_of_js(data)))
        except MemoryError:
            problems.append(Problem(str(path), out_of_memory(size)))
            unusable.append(url)
        finally:
            del data, upload  # dropped before the next file is read
    if bar is not None:
        bar.close()
    locations = {url: location for url, _p, _d, location, _id in scripts}
    refs = associate([s[0] for s in scripts], sorted([*maps, *unusable]), locations)
    files: list[BundleFile] = list(maps.values())
    for url, path, source, location, own_id in scripts:
        headers: dict[str, str] = {}
        if own_id:
            headers["debug-id"] = own_id
        ref = refs.get(url)
        if ref is not None:
            headers["sourcemap"] = ref.reference
            if ref.inline is not None:  # checked as a map file is: Sentry will read it
                where = f"{path} (inline source map)"
                try:
                    inline_problem = parse_map(where, ref.inline)[1]
                except MemoryError:
                    inline_problem = Problem(where, out_of_memory(len(ref.inline)))
                if inline_problem is not None:
                    problems.append(inline_problem)
            # a data URL sentry-cli cannot decode still travels as the `sourcemap` header
            if ref.inline is None and ref.url is None and not ref.reference.startswith("data:"):
                problems.append(missing_map(str(path), ref.reference))
        elif location and not is_remote(location) and not location.startswith("data:"):
            problems.append(missing_map(str(path), location))
        elif path.suffix in (".js", ".mjs", ".cjs"):
            notes.append(f"{path}: no source map found (uploaded without one)")
        files.append(BundleFile(url, MINIFIED_SOURCE, source, headers, str(path)))
    files.sort(key=lambda f: f.url)
    warnings = [
        f"source {source!r} named by {where[0]}"
        + (f" (and {len(where) - 1} more map(s))" if len(where) > 1 else "")
        + f" {why}: left out of sourcesContent"
        for source, (why, where) in sorted(left_out.items())
    ]
    return Collected(files, problems, notes, warnings)


def _deferred(upload: bytes, produce: Callable[[], bytes], path: Path, *, as_is: bool) -> Deferred:
    """What the bundle keeps of a file: size, SHA-1, how to make it again; and, when its bytes
    are the file on disk as it is (`as_is`), the CRC-32 its ZIP header needs before streaming."""
    crc = zlib.crc32(upload) if as_is else None
    return Deferred(len(upload), hashlib.sha1(upload).hexdigest(), produce, str(path), crc)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # reported by the read that follows
