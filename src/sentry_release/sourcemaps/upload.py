"""Artifact bundle upload over Sentry's chunk protocol (and the legacy release files path).

Order of work: discover and validate every file (exit 2 before any request), build one
deterministic bundle for all projects, ask the server which chunks it lacks (assemble first,
`artifact_bundles_v2`), send only those (gzipped, batched by the server's limits, in parallel),
assemble, and with `--wait` poll until Sentry reports `ok`. A chunk the server reports missing
after it was sent is sent again (bounded), so a chunk lost in transit does not fail the step.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from sentry_release.config.settings import Settings, SourceMapOptions
from sentry_release.errors import SourceMapError, UploadError
from sentry_release.output import Output, human_bytes
from sentry_release.paths import ensure_all_inside
from sentry_release.sentry.client import SentryClient
from sentry_release.sentry.models import AssembleState, ChunkOptions
from sentry_release.sourcemaps.bundle import (
    MINIFIED_SOURCE,
    SOURCE_MAP,
    BundleFile,
    ChunkRef,
    SpooledBundle,
    build_bundle,
    spool_bundle,
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
from sentry_release.sourcemaps.validate import Problem, missing_map, parse_map, report, too_large

DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024
MAX_RESEND_ROUNDS = 3
POLL_START, POLL_MAX = 0.1, 1.0
GZIP_LEVEL = 3  # fast, and most of gzip's gain on JavaScript and JSON


@dataclass(frozen=True)
class UploadedFile:
    """One row of the final table."""

    url: str
    type: str
    size: int
    debug_id: str | None
    sourcemap: str | None


@dataclass(frozen=True)
class UploadResult:
    """What upload-sourcemaps did."""

    bundle_ids: tuple[str, ...] = ()
    files: int = 0
    bytes_total: int = 0
    bytes_sent: int = 0
    warnings: tuple[str, ...] = field(default=())
    table: tuple[UploadedFile, ...] = ()
    chunks_total: int = 0
    chunks_sent: int = 0
    legacy: bool = False
    state: str = ""


# --- collecting files -------------------------------------------------------------------------


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


# --- the chunk protocol ---------------------------------------------------------------------


Chunk = tuple[str, "bytes | ChunkRef"]


def batches(
    chunks: Sequence[Chunk], *, per_request: int, max_size: int, workers: int
) -> list[list[Chunk]]:
    """Group chunks under the server's limits, spread so every worker gets a share."""
    spread = max(1, math.ceil(len(chunks) / max(workers, 1)))
    limit = max(1, min(per_request, spread))
    groups: list[list[Chunk]] = []
    current: list[Chunk] = []
    size = 0
    for item in chunks:
        if current and (len(current) >= limit or size + len(item[1]) > max_size):
            groups.append(current)
            current, size = [], 0
        current.append(item)
        size += len(item[1])
    if current:
        groups.append(current)
    return groups


def send_chunks(
    client: SentryClient,
    url: str,
    chunks: Sequence[Chunk],
    options: ChunkOptions,
    concurrency: int,
    progress: Callable[[int], None],
) -> int:
    """Compress and POST `chunks` in parallel batches; returns bytes put on the wire.

    Batches are cut on uncompressed size (never over the server's limit once gzipped) and
    each is compressed just before it is sent, so memory holds only the batches in flight.
    `progress` gets the uncompressed bytes of each finished batch.
    """
    use_gzip = "gzip" in options.compression
    field_name = "file_gzip" if use_gzip else "file"

    def encode(data: bytes | ChunkRef) -> bytes:
        raw = bytes(data)  # a spooled chunk is read from disk only now
        return gzip.compress(raw, GZIP_LEVEL, mtime=0) if use_gzip else raw

    workers = max(1, concurrency)
    groups = batches(
        chunks,
        per_request=options.chunks_per_request,
        max_size=options.max_request_size,
        workers=workers,
    )

    def post(group: list[Chunk]) -> int:
        payload = [(checksum, encode(data)) for checksum, data in group]
        client.upload_chunks(url, payload, field_name=field_name)
        progress(sum(len(d) for _c, d in group))
        return sum(len(d) for _c, d in payload)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="chunks") as pool:
        return sum(pool.map(post, groups))


def _assemble(
    client: SentryClient,
    settings: Settings,
    checksum: str,
    checksums: list[str],
    version: str | None,
) -> AssembleState:
    assert settings.org is not None
    return client.assemble_artifact_bundle(
        settings.org,
        checksum=checksum,
        chunks=checksums,
        projects=list(settings.projects),
        version=version,
        dist=settings.sourcemaps.dist,
    )


def upload_bundle(
    settings: Settings,
    client: SentryClient,
    version: str | None,
    bundle: SpooledBundle,
    options: ChunkOptions,
    out: Output,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[int, int, int, str]:
    """Run the chunk protocol for one bundle: `(bytes sent, chunks, chunks sent, state)`."""

    checksum, pieces = bundle.chunks(options.chunk_size)
    by_sum = dict(pieces)
    checksums = [c for c, _ in pieces]
    assert settings.org is not None
    url = options.url  # resolved by the API so the token stays on Sentry's origin
    concurrency = settings.sourcemaps.concurrency or options.concurrency
    v2 = options.accepts("artifact_bundles_v2")

    def assemble() -> tuple[AssembleState, list[str]]:
        """Ask Sentry to assemble; its answer and the chunks it still misses (deduplicated)."""
        answer = _assemble(client, settings, checksum, checksums, version)
        return answer, list(dict.fromkeys(answer.missing_chunks))

    if v2:
        response, missing = assemble()
    else:
        response, missing = AssembleState("not_found"), list(dict.fromkeys(checksums))
    sent_bytes = sent_chunks = 0
    rounds = 0
    while True:
        unknown = [c for c in missing if c not in by_sum]
        if unknown:
            raise UploadError(f"Sentry asked for chunks this bundle does not have: {unknown[0]}")
        if missing:
            rounds += 1
            if rounds > MAX_RESEND_ROUNDS:
                raise UploadError(
                    f"Sentry still misses {len(missing)} chunk(s) after {MAX_RESEND_ROUNDS} "
                    "attempts; check proxies between CI and Sentry"
                )
            todo = [(c, by_sum[c]) for c in missing]
            label = "Uploading" if rounds == 1 else "Re-sending missing chunks"
            bar = out.progress(label, sum(len(d) for _c, d in todo), "bytes")
            try:
                sent_bytes += send_chunks(client, url, todo, options, concurrency, bar.advance)
            finally:
                bar.close()
            sent_chunks += len(todo)
            response, missing = assemble()
            if missing:
                out.warn(f"Sentry reports {len(missing)} chunk(s) missing; sending them again")
                continue
        elif v2 and response.state == "not_found":
            response, missing = assemble()
            if missing:
                continue
        break
    state = response.state
    if response.failed:
        raise UploadError(f"Sentry failed to process the bundle: {response.detail or state}")
    # Accepted (created/assembling/ok with every chunk present) counts as uploaded: Sentry
    # assembles in the background, and some compatible servers (Bugsink) answer `created`
    # for ever. Waiting for `ok` is opt-in (--wait) and bounded.
    max_wait = options.max_wait or 300.0
    started = clock()
    delay = POLL_START
    while settings.sourcemaps.wait and state not in ("ok", "error"):
        if clock() - started > max_wait:
            raise UploadError(
                f"Sentry did not finish processing the bundle within {max_wait:.0f}s "
                f"(state {state}); pass --no-wait to not wait"
            )
        sleep(delay)
        delay = min(POLL_MAX, delay * 2)
        response, lost = assemble()
        state = response.state
        if lost:
            # Resumable here too: send what Sentry names, within the same bound on rounds.
            rounds += 1
            if rounds > MAX_RESEND_ROUNDS or any(c not in by_sum for c in lost):
                raise UploadError(
                    f"Sentry lost {len(lost)} chunk(s) while processing; run the upload again"
                )
            out.warn(f"Sentry reports {len(lost)} chunk(s) missing; sending them again")
            todo = [(c, by_sum[c]) for c in lost]
            sent_bytes += send_chunks(client, url, todo, options, concurrency, lambda _n: None)
            sent_chunks += len(todo)
            response, _lost = assemble()
            state = response.state
    if response.failed:
        raise UploadError(f"Sentry failed to process the bundle: {response.detail or state}")
    return sent_bytes, len(pieces), sent_chunks, state


def upload_legacy(
    settings: Settings,
    client: SentryClient,
    version: str | None,
    files: Sequence[BundleFile],
    out: Output,
) -> tuple[int, int]:
    """Old self-hosted Sentry: one release-file POST per file; `(bytes sent, files new)`."""
    if not version:
        raise SourceMapError(
            "this Sentry has no artifact bundle upload, so source maps need a release: "
            "pass VERSION or --release"
        )
    assert settings.org is not None
    org, project, release = settings.org, settings.projects[0], version
    bar = out.progress("Uploading release files", len(files), "files")

    def one(item: BundleFile) -> int:
        headers = {"Sourcemap": item.headers["sourcemap"]} if "sourcemap" in item.headers else {}
        if "debug-id" in item.headers:
            headers["debug-id"] = item.headers["debug-id"]
        created = client.upload_release_file(
            org,
            project,
            release,
            name=item.url,
            content=item.content,
            dist=settings.sourcemaps.dist,
            headers=headers,
        )
        bar.advance(1)
        return len(item.content) if created else -1

    workers = settings.sourcemaps.concurrency or 4
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="release-files") as pool:
        results = list(pool.map(one, files))
    bar.close()
    return sum(r for r in results if r > 0), sum(1 for r in results if r >= 0)


def upload_sourcemaps(
    settings: Settings, client: SentryClient, version: str | None, out: Output
) -> UploadResult:
    """Discover, validate, bundle and upload source maps for `version`."""
    opts = settings.sourcemaps
    if not opts.paths:
        raise SourceMapError("no source map paths given: pass PATH (e.g. dist/)")
    settings.require("auth_token", "org", "projects")
    assert settings.org is not None
    ensure_all_inside(opts.paths, settings.working_directory)
    collected = collect(settings, out=out)
    warnings = report(collected.problems, strict=opts.strict, out=out)
    for note in collected.notes:
        out.info(note)
    files = collected.files
    del collected  # `files` is the only holder of the bytes from here on
    if not files:
        if opts.ignore_empty:
            out.result("No source map files found; nothing uploaded (--ignore-empty)")
            return UploadResult(warnings=tuple(warnings))
        where = ", ".join(str(p) for p in opts.paths)
        raise SourceMapError(
            f"no files to upload under {where} (extensions {', '.join(opts.extensions)}): "
            "check the path or pass --ignore-empty"
        )
    if not version and not any("debug-id" in f.headers for f in files):
        raise SourceMapError(
            "cannot upload: no release given and no file carries a debug ID; pass VERSION "
            "or run `sentry-release inject` first"
        )
    if client.dry_run:
        preview, bundle_id = build_bundle(
            files, org=settings.org, projects=settings.projects, release=version, dist=opts.dist
        )
        result = UploadResult(
            bundle_ids=(bundle_id,),
            files=len(files),
            bytes_total=len(preview),
            warnings=tuple(warnings),
            table=_rows(files),
            state="dry-run",
        )
        _report(out, result)
        return result
    options = client.chunk_upload_options(settings.org)
    rows = _rows(files)
    if options is None or not options.accepts("artifact_bundles"):
        out.info("This Sentry has no artifact bundle upload: using release files")
        sent, _new = upload_legacy(settings, client, version, files, out)
        total = sum(len(f.content) for f in files)
        result = UploadResult(
            files=len(files),
            bytes_total=total,
            bytes_sent=sent,
            warnings=tuple(warnings),
            table=rows,
            legacy=True,
        )
        _report(out, result)
        return result
    limit = options.max_file_size
    if limit:
        late = [
            too_large(f.local_path, len(f.content), limit) for f in files if len(f.content) > limit
        ]
        warnings += report(late, strict=opts.strict, out=out)
        if late:
            big = {p.path for p in late}
            files = [f for f in files if f.local_path not in big]
    bundle, bundle_id = spool_bundle(
        files,
        org=settings.org,
        projects=settings.projects,
        release=version,
        dist=opts.dist,
        consume=True,
    )
    n_files = len(files)
    del files  # spool_bundle consumed the contents: they live in its file now
    with bundle:
        if limit and len(bundle) > limit:
            raise SourceMapError(
                f"the bundle is {human_bytes(len(bundle))}, over Sentry's limit of "
                f"{human_bytes(limit)}: upload the directories in separate steps"
            )
        out.info(f"Bundled {n_files} file(s) ({human_bytes(len(bundle))}), bundle {bundle_id}")
        sent, n_chunks, n_sent, state = upload_bundle(
            settings, client, version, bundle, options, out
        )
    result = UploadResult(
        bundle_ids=(bundle_id,),
        files=n_files,
        bytes_total=len(bundle),
        bytes_sent=sent,
        warnings=tuple(warnings),
        table=rows,
        chunks_total=n_chunks,
        chunks_sent=n_sent,
        state=state,
    )
    _report(out, result)
    return result


def _rows(files: Sequence[BundleFile]) -> tuple[UploadedFile, ...]:
    return tuple(
        UploadedFile(
            f.url, f.type, len(f.content), f.headers.get("debug-id"), f.headers.get("sourcemap")
        )
        for f in files
    )


TABLE_ROWS = 50  # a 2,000-file build gets a summary, not 2,000 lines


def _report(out: Output, result: UploadResult) -> None:
    shown = result.table[:TABLE_ROWS]
    out.table(
        ["file", "type", "size", "debug id", "sourcemap"],
        [
            [
                row.url,
                row.type,
                human_bytes(row.size),
                row.debug_id or "-",
                (row.sourcemap or "-") if len(row.sourcemap or "") < 60 else "(inline)",
            ]
            for row in shown
        ],
    )
    if len(result.table) > len(shown):
        out.result(f"... and {len(result.table) - len(shown)} more file(s)")
    if result.legacy:
        out.result(
            f"Uploaded {result.files} release file(s): {human_bytes(result.bytes_sent)} sent"
        )
        return
    if result.state == "dry-run":
        out.result(
            f"[dry-run] would upload {result.files} file(s) in bundle {result.bundle_ids[0]} "
            f"({human_bytes(result.bytes_total)})"
        )
        return
    deduped = result.chunks_total - result.chunks_sent
    out.result(
        f"Uploaded {result.files} file(s) in bundle {result.bundle_ids[0]}: "
        f"{human_bytes(result.bytes_sent)} sent of {human_bytes(result.bytes_total)} "
        f"({deduped}/{result.chunks_total} chunk(s) already on the server)"
        + (f", state {result.state}" if result.state else "")
    )
