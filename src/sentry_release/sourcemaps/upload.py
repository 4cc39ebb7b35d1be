"""upload-sourcemaps: collect, validate, bundle, then the chunk protocol (or legacy files).

Order of work: `collect` every file and validate it (exit 2 before any request), build one
deterministic bundle for all projects, run `chunks.upload_bundle` (assemble first, send only
missing chunks, poll), or `legacy.upload_legacy` on old self-hosted Sentry; then one table
and one summary line.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from sentry_release.config.settings import Settings
from sentry_release.errors import SourceMapError
from sentry_release.output import Output, human_bytes
from sentry_release.sentry.api import SentryApi
from sentry_release.sentry.models import ChunkOptions
from sentry_release.sourcemaps.bundle import spool_bundle
from sentry_release.sourcemaps.chunks import upload_bundle
from sentry_release.sourcemaps.collect import Collected, collect
from sentry_release.sourcemaps.discover import load_ignore_rules
from sentry_release.sourcemaps.inject import Planner
from sentry_release.sourcemaps.legacy import upload_legacy
from sentry_release.sourcemaps.paths import read_regular
from sentry_release.sourcemaps.preflight import preflight
from sentry_release.sourcemaps.validate import report, too_large


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
    bytes_reused: int = 0  # bundle bytes already on the server (chunks of earlier uploads)


def upload_sourcemaps(
    settings: Settings,
    client: SentryApi,
    version: str | None,
    out: Output,
    *,
    collected: Collected | None = None,
) -> UploadResult:
    """Collect (unless `run` already did), validate, bundle and upload source maps.

    The chunk-upload options (a GET that needs nothing local) are asked for in a thread once
    the walk found the paths sound, while the files are read and checked; their answer, or
    their error, is used where it always was: after validation, so bad input still exits 2
    (whatever the GET met), nothing is written before, and a dry run asks nothing.
    """
    if not settings.sourcemaps.paths:
        raise SourceMapError("no source map paths given: pass PATH (e.g. dist/)")
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="options") as pool:
        pending: list[Future[ChunkOptions | None]] = []

        def ask() -> None:  # asked only once `_upload` found the org set
            if not client.dry_run and not pending and settings.org is not None:
                pending.append(pool.submit(client.chunk_upload_options, settings.org))

        try:
            return _upload(settings, client, version, out, collected, ask, pending)
        finally:
            for future in pending:
                future.cancel()  # not started yet: never sent; else its answer is dropped


def _upload(
    settings: Settings,
    client: SentryApi,
    version: str | None,
    out: Output,
    collected: Collected | None,
    ask: Callable[[], None],
    pending: list[Future[ChunkOptions | None]],
) -> UploadResult:
    """One straight sequence: the files (collected and validated), the bundle, the send."""
    settings.require("auth_token", "org", "projects")
    assert settings.org is not None
    opts = settings.sourcemaps
    if collected is None:  # the GET goes out once the walk found no bad path (FIFO, /proc)
        collected = collect(settings, out=out, found_ok=ask)
    else:
        ask()  # `run` checked everything before its first request
    for line in collected.warnings:
        out.warn(line)
    warnings = [*collected.warnings, *report(collected.problems, strict=opts.strict, out=out)]
    for note in collected.notes:
        out.info(note)
    files = collected.files
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
    rows = tuple(
        UploadedFile(f.url, f.type, f.size, f.headers.get("debug-id"), f.headers.get("sourcemap"))
        for f in files
    )
    spool = partial(
        spool_bundle, org=settings.org, projects=settings.projects, release=version, dist=opts.dist
    )
    if client.dry_run:  # a dry run: the bundle is built (for its id and size), not sent
        preview, bundle_id = spool(files)
        with preview:
            size = len(preview)
        result = UploadResult(
            bundle_ids=(bundle_id,),
            files=len(files),
            bytes_total=size,
            warnings=tuple(warnings),
            table=rows,
            state="dry-run",
        )
        _report(out, result)
        return result
    ask()
    # One file at a time is read again (and checked against what validation saw) into the
    # spooled ZIP while the options GET is in flight; the chunks are read back when sent.
    bundle, bundle_id = spool(files)
    try:  # the spool is closed however this ends, whichever spool `bundle` is by then
        options = pending[0].result()
        if options is None or not options.artifact_bundles:
            out.info("This Sentry has no artifact bundle upload: using release files")
            sent, _new = upload_legacy(settings, client, version, files, out)
            result = UploadResult(
                files=len(files),
                bytes_total=sum(f.size for f in files),
                bytes_sent=sent,
                warnings=tuple(warnings),
                table=rows,
                legacy=True,
            )
            _report(out, result)
            return result
        limit = options.max_file_size
        late = [too_large(f.local_path, f.size, limit) for f in files if limit and f.size > limit]
        warnings += report(late, strict=opts.strict, out=out)
        if late:  # rare: bundle again without them
            big = {p.path for p in late}
            files = [f for f in files if f.local_path not in big]
            bundle.close()
            bundle, bundle_id = spool(files)
        if limit and len(bundle) > limit:
            raise SourceMapError(
                f"the bundle is {human_bytes(len(bundle))}, over Sentry's limit of "
                f"{human_bytes(limit)}: upload the directories in separate steps"
            )
        out.info(f"Bundled {len(files)} file(s) ({human_bytes(len(bundle))}), bundle {bundle_id}")
        done = upload_bundle(
            settings,
            client,
            version,
            bundle,
            options,
            out,
            sleep=client.transport.sleep,
            clock=client.transport.clock,
        )
    finally:
        bundle.close()
    result = UploadResult(
        bundle_ids=(bundle_id,),
        files=len(files),
        bytes_total=len(bundle),
        bytes_sent=done.bytes_sent,
        warnings=tuple(warnings),
        table=rows,
        chunks_total=done.chunks,
        chunks_sent=done.chunks_sent,
        state=done.state,
        bytes_reused=done.bytes_reused,
    )
    _report(out, result)
    return result


def prepare_upload(settings: Settings, out: Output) -> Collected | None:
    """For `run`, before the release exists: check the build files and collect the upload once.

    With inject on, inject is planned (nothing written) pair by pair and the files are
    collected as it will leave them, so an invalid map, a missing map, a FIFO or a read-only
    `dist/` stop the run before its first write. Only sizes, SHA-1s, URLs and headers are kept,
    and inject's plan (`Collected.inject_plan`: its checks are not made again): the inject
    step reads again only the files it writes, the upload step streams the files once more
    (as inject has then written them, or, in a dry run, as inject would write them), and each
    refuses a file that differs from what was checked here.
    """
    opts = settings.sourcemaps
    if not opts.paths:
        return None
    preflight(settings)
    cwd = settings.working_directory
    read: Callable[[Path], bytes] = read_regular
    planner = None
    if opts.inject:
        rules = load_ignore_rules(opts.ignore, cwd / opts.ignore_file if opts.ignore_file else None)
        planner = Planner.of(tuple(cwd / p for p in opts.paths), ignore=rules, inside=cwd)
        read = planner.read
    reread = read if settings.dry_run else read_regular
    collected = collect(settings, read=read, reread=reread)
    if planner is not None:
        planner.forget()  # no planned bytes kept while the release is created
        collected.inject_plan = planner
    if opts.strict:
        report(collected.problems, strict=True, out=out)
    return collected


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
        f"{human_bytes(result.bytes_sent)} sent, reused {human_bytes(result.bytes_reused)} "
        f"of {human_bytes(result.bytes_total)} from earlier uploads "
        f"({deduped}/{result.chunks_total} chunk(s) already on the server)"
        + (f", state {result.state}" if result.state else "")
    )
