"""upload-sourcemaps: collect, validate, bundle, then the chunk protocol (or legacy files).

Order of work: `collect` every file and validate it (exit 2 before any request), build one
deterministic bundle for all projects, run `chunks.upload_bundle` (assemble first, send only
missing chunks, poll), or `legacy.upload_legacy` on old self-hosted Sentry; then one table
and one summary line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sentry_release.config.settings import Settings
from sentry_release.errors import SourceMapError
from sentry_release.output import Output, human_bytes
from sentry_release.paths import ensure_all_named, read_regular
from sentry_release.sentry.api import SentryApi
from sentry_release.sourcemaps.bundle import BundleFile, build_bundle, spool_bundle
from sentry_release.sourcemaps.chunks import upload_bundle
from sentry_release.sourcemaps.collect import Collected, collect
from sentry_release.sourcemaps.discover import load_ignore_rules
from sentry_release.sourcemaps.inject import plan_paths
from sentry_release.sourcemaps.legacy import upload_legacy
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


def upload_sourcemaps(
    settings: Settings,
    client: SentryApi,
    version: str | None,
    out: Output,
    *,
    collected: Collected | None = None,
) -> UploadResult:
    """Collect (unless `run` already did), validate, bundle and upload source maps."""
    opts = settings.sourcemaps
    if not opts.paths:
        raise SourceMapError("no source map paths given: pass PATH (e.g. dist/)")
    settings.require("auth_token", "org", "projects")
    assert settings.org is not None
    if collected is None:
        ensure_all_named(opts.paths, settings.working_directory)
        collected = collect(settings, out=out)
    for line in collected.warnings:
        out.warn(line)
    warnings = [*collected.warnings, *report(collected.problems, strict=opts.strict, out=out)]
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
    if options is None or not options.artifact_bundles:
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
        done = upload_bundle(settings, client, version, bundle, options, out)
    result = UploadResult(
        bundle_ids=(bundle_id,),
        files=n_files,
        bytes_total=len(bundle),
        bytes_sent=done.bytes_sent,
        warnings=tuple(warnings),
        table=rows,
        chunks_total=done.chunks,
        chunks_sent=done.chunks_sent,
        state=done.state,
    )
    _report(out, result)
    return result


def prepare_upload(settings: Settings, out: Output) -> Collected | None:
    """For `run`, before the release exists: check the build files and collect the upload once.

    With inject on, inject is planned (nothing written) and the files are collected as it
    will leave them, so an invalid map, a missing map, a FIFO or a read-only `dist/` stop the
    run before its first write, and the upload step reuses this collection.
    """
    opts = settings.sourcemaps
    if not opts.paths:
        return None
    preflight(settings)
    cwd = settings.working_directory
    planned: dict[Path, bytes] = {}
    if opts.inject:
        rules = load_ignore_rules(opts.ignore, cwd / opts.ignore_file if opts.ignore_file else None)
        changes, _skipped = plan_paths(tuple(cwd / p for p in opts.paths), ignore=rules, inside=cwd)
        for change in changes:
            if change.js_text is not None:
                planned[change.js_path] = change.js_text.encode("utf-8")
            if change.map_path is not None and change.map_bytes is not None:
                planned[change.map_path] = change.map_bytes
    collected = collect(settings, read=lambda path: planned.pop(path, None) or read_regular(path))
    if opts.strict:
        report(collected.problems, strict=True, out=out)
    return collected


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
