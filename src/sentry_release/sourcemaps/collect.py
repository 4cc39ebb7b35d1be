"""Collect the files to upload: discover, classify, associate, validate, rewrite maps.

No network. Each map is parsed once and, only when it helps, rewritten: `sourcesContent`
filled from local files (inside the file-access root, `paths.py`) and `--strip-prefix` /
`--strip-common-prefix` applied to `sources`; otherwise its bytes go up untouched.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from sentry_release.config.settings import Settings, SourceMapOptions
from sentry_release.output import Output
from sentry_release.sourcemaps.bundle import MINIFIED_SOURCE, SOURCE_MAP, BundleFile
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
from sentry_release.sourcemaps.validate import Problem, missing_map, parse_map, too_large


def _url(prefix: str, rel: str, suffix: str) -> str:
    prefix = prefix[:-1] if prefix.endswith("/") else prefix
    return f"{prefix}/{rel}{suffix}"


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
    parsed: dict[str, Any], map_dir: Path, cwd: Path, opts: SourceMapOptions
) -> dict[str, Any] | None:
    """Inline sourcesContent from local files and strip source prefixes; None if unchanged."""
    if "sections" in parsed:
        return None  # indexed maps go up as they are; Sentry flattens them
    sources = parsed.get("sources")
    if not isinstance(sources, list):
        return None
    changed = False
    contents = parsed.get("sourcesContent")
    contents = list(contents) if isinstance(contents, list) else []
    contents += [None] * (len(sources) - len(contents))
    root = parsed.get("sourceRoot") or ""
    for i, source in enumerate(sources):
        if contents[i] is not None or not isinstance(source, str) or "://" in source:
            continue
        rel = str(PurePosixPath(root) / source) if root and "://" not in root else source
        for base in (map_dir, cwd):
            candidate = base / rel
            if candidate.is_file():
                try:
                    contents[i] = candidate.read_text(encoding="utf-8")
                    changed = True
                except (OSError, UnicodeDecodeError):
                    pass
                break
    out = dict(parsed)
    if changed:
        out["sourcesContent"] = contents
    if opts.strip_prefixes or opts.strip_common_prefix:
        stripped = _strip(sources, opts.strip_prefixes, opts.strip_common_prefix)
        if stripped != sources:
            out["sources"] = stripped
            changed = True
    return out if changed else None


@dataclass
class Collected:
    """Files ready to bundle plus what validation found."""

    files: list[BundleFile]
    problems: list[Problem]
    notes: list[str]


def collect(
    settings: Settings, *, max_file_size: int | None = None, out: Output | None = None
) -> Collected:
    """Discover, classify, associate and validate the files to upload (no network)."""
    opts = settings.sourcemaps
    cwd = settings.working_directory
    rules = load_ignore_rules(
        opts.ignore,
        (cwd / opts.ignore_file) if opts.ignore_file is not None else None,
    )
    found = walk([cwd / p for p in opts.paths], opts.extensions, rules, inside=cwd)
    problems: list[Problem] = []
    notes: list[str] = []
    entries: list[tuple[str, Path, bytes]] = []  # (url, path, bytes)
    unusable: list[str] = []  # maps already reported: bundles naming them add no 2nd problem
    seen: dict[str, Path] = {}
    bar = out.progress("Reading files", len(found), "files") if out is not None else None
    for f in found:
        if bar is not None:
            bar.advance()
        url = _url(opts.url_prefix, f.rel, opts.url_suffix)
        if url in seen and seen[url] != f.path:
            problems.append(Problem(str(f.path), f"has the same URL {url} as {seen[url]}"))
            continue
        seen[url] = f.path
        try:
            entries.append((url, f.path, f.path.read_bytes()))
        except OSError as exc:
            problems.append(Problem(str(f.path), f"cannot read ({exc.strerror}); fix or remove it"))
            unusable.append(url)
    if bar is not None:
        bar.close()
    # Each map is parsed, rewritten and dumped at once, and each script's text is read for its
    # two comments and dropped: only bytes stay, so memory holds the bundle set about once.
    maps: dict[str, BundleFile] = {}
    scripts: list[tuple[str, Path, bytes, str | None, str | None]] = []
    entries.reverse()  # pop() from the end walks them in order, releasing each as it goes
    while entries:
        url, path, data = entries.pop()
        if max_file_size and len(data) > max_file_size:
            problems.append(too_large(str(path), len(data), max_file_size))
            continue
        if path.name.endswith(".map") or is_sourcemap(data):
            parsed, problem = parse_map(str(path), data)
            if problem:
                problems.append(problem)
                unusable.append(url)
                continue
            assert parsed is not None
            map_headers: dict[str, str] = {}
            map_id = debug_id_of_map(parsed)
            if map_id:
                map_headers["debug-id"] = map_id
            new = rewrite_map(parsed, path.parent, cwd, opts)
            del parsed
            content = (
                json.dumps(new, separators=(",", ":"), ensure_ascii=False).encode()
                if new is not None
                else data
            )
            maps[url] = BundleFile(url, SOURCE_MAP, content, map_headers, str(path))
        else:
            text = data.decode("utf-8", "replace")
            scripts.append((url, path, data, sourcemap_location(text), debug_id_of_js(text)))
    locations = {url: location for url, _p, _d, location, _id in scripts}
    refs = associate([s[0] for s in scripts], sorted([*maps, *unusable]), locations)
    files: list[BundleFile] = list(maps.values())
    for url, path, data, location, own_id in scripts:
        headers: dict[str, str] = {}
        if own_id:
            headers["debug-id"] = own_id
        ref = refs.get(url)
        if ref is not None:
            headers["sourcemap"] = ref.reference
            if ref.inline is None and ref.url is None and not location_is_data(ref.reference):
                problems.append(missing_map(str(path), ref.reference))
        elif location and not is_remote(location) and not location.startswith("data:"):
            problems.append(missing_map(str(path), location))
        elif path.suffix in (".js", ".mjs", ".cjs"):
            notes.append(f"{path}: no source map found (uploaded without one)")
        files.append(BundleFile(url, MINIFIED_SOURCE, data, headers, str(path)))
    files.sort(key=lambda f: f.url)
    return Collected(files, problems, notes)


def location_is_data(reference: str) -> bool:
    """Data URLs that sentry-cli cannot decode still travel as the `sourcemap` header."""
    return reference.startswith("data:")
