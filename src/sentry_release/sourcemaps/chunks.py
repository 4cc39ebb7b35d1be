"""Sentry's chunk protocol for one artifact bundle: try-assemble, upload missing, poll.

Order (sentry-cli's `upload_chunks` / `poll_assemble`, Sentry's
`api/endpoints/organization_artifactbundle_assemble.py` and `api/endpoints/chunk.py`): with
`artifact_bundles_v2` ask Sentry to assemble first and send only the chunks it names in
`missingChunks` (a re-run sends 0 bytes); chunks go gzipped, batched under the server's limits
and in parallel; then assemble again and, with `--wait`, poll until `ok` or `error`. Whenever
assemble names chunks again (a proxy dropped one after acknowledging it, or Sentry lost it
while processing) those are sent again through the same path, at most `MAX_RESEND_ROUNDS`
times in all.
"""

from __future__ import annotations

import gzip
import math
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sentry_release.config.settings import Settings
from sentry_release.errors import UploadError
from sentry_release.output import Output
from sentry_release.sentry.api import SentryApi
from sentry_release.sentry.models import AssembleState, ChunkOptions
from sentry_release.sourcemaps.bundle import ChunkRef, SpooledBundle

MAX_RESEND_ROUNDS = 3
POLL_START, POLL_MAX = 0.1, 1.0
GZIP_LEVEL = 3  # fast, and most of gzip's gain on JavaScript and JSON
SLICE = 1 << 20  # bytes of a spooled chunk read (and compressed) at once

Chunk = tuple[str, "bytes | ChunkRef"]


def batches(
    chunks: Sequence[Chunk], *, per_request: int, max_size: int, chunk_size: int
) -> list[list[Chunk]]:
    """Group chunks, in order, into as few requests as fixed `chunk_size` pieces would need.

    The count is the larger of the bytes over `chunk_size` and the chunks over `per_request`
    (Sentry's 64), so small chunks cut on file boundaries cost no more requests than the old
    fixed 8 MiB chunks. Each request takes its share of the bytes left, and more chunks when
    the requests left could not hold the rest; none exceeds `per_request` chunks or `max_size`
    bytes (Sentry's `maxRequestSize`, counted uncompressed as api/endpoints/chunk.py does).
    """
    total = sum(len(d) for _c, d in chunks)
    count = max(1, math.ceil(total / max(chunk_size, 1)), math.ceil(len(chunks) / per_request))
    groups: list[list[Chunk]] = []
    left, at = total, 0
    while at < len(chunks):
        requests_left = max(1, count - len(groups))
        share = left / requests_left
        current: list[Chunk] = []
        size = 0
        while at < len(chunks):
            length = len(chunks[at][1])
            if current and (len(current) >= per_request or size + length > max_size):
                break
            crowded = len(chunks) - at > (requests_left - 1) * per_request
            if current and not crowded and size + length / 2 > share:
                break
            current.append(chunks[at])
            size += length
            at += 1
        groups.append(current)
        left -= size
    return groups


def send_chunks(
    client: SentryApi,
    url: str,
    chunks: Sequence[Chunk],
    options: ChunkOptions,
    concurrency: int,
    progress: Callable[[int], None],
) -> int:
    """Compress and POST `chunks` in parallel batches; returns bytes put on the wire.

    Batches are cut on uncompressed size (`batches`): about one `chunkSize` each, so each
    worker holds about one chunk's worth, gzipped from the spool a slice at a time, whatever
    the size of the bundle. `progress` gets the uncompressed bytes of each finished batch.
    """
    field_name = "file_gzip" if options.gzip else "file"

    def encode(data: bytes | ChunkRef) -> bytes:
        if not options.gzip:
            return bytes(data)  # a spooled chunk is read from disk only now
        if isinstance(data, bytes):
            return gzip.compress(data, GZIP_LEVEL, mtime=0)
        packer = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # 31: a gzip member
        parts = [packer.compress(piece) for piece in data.slices(SLICE)]
        parts.append(packer.flush())
        return b"".join(parts)

    workers = max(1, concurrency)
    groups = batches(
        chunks,
        per_request=options.chunks_per_request,
        max_size=options.max_request_size,
        chunk_size=options.chunk_size,
    )

    def post(group: list[Chunk]) -> int:
        payload = [(checksum, encode(data)) for checksum, data in group]
        client.upload_chunks(url, payload, field_name=field_name)
        progress(sum(len(d) for _c, d in group))
        return sum(len(d) for _c, d in payload)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="chunks") as pool:
        return sum(pool.map(post, groups))


@dataclass(frozen=True)
class ChunkUpload:
    """What the chunk protocol did for one bundle."""

    bytes_sent: int
    chunks: int
    chunks_sent: int
    state: str
    bytes_reused: int = 0  # bundle bytes that did not travel: their chunks were on the server


def upload_bundle(
    settings: Settings,
    client: SentryApi,
    version: str | None,
    bundle: SpooledBundle,
    options: ChunkOptions,
    out: Output,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> ChunkUpload:
    """Run the chunk protocol for one bundle (see the module docstring)."""
    assert settings.org is not None
    org = settings.org
    checksum, pieces = bundle.chunks(options.chunk_size)
    by_sum = dict(pieces)
    checksums = [c for c, _ in pieces]
    url = options.url  # resolved by the API so the token stays on Sentry's origin
    concurrency = settings.sourcemaps.concurrency or options.concurrency

    asked_at = clock()

    def assemble() -> tuple[AssembleState, list[str]]:
        """Ask Sentry to assemble; its answer and the chunks it still misses (deduplicated)."""
        nonlocal asked_at
        asked_at = clock()
        answer = client.assemble_artifact_bundle(
            org,
            checksum=checksum,
            chunks=checksums,
            projects=list(settings.projects),
            version=version,
            dist=settings.sourcemaps.dist,
        )
        return answer, list(dict.fromkeys(answer.missing_chunks))

    if options.assemble_first:
        response, missing = assemble()
    else:
        missing = list(dict.fromkeys(checksums))
        response = AssembleState("not_found", tuple(missing))  # v1: every chunk goes first
    asked_again = not options.assemble_first
    sent_bytes = sent_chunks = rounds = 0
    sent: set[str] = set()
    started: float | None = None
    delay = POLL_START
    while True:
        state = response.state
        if response.failed and asked_again:
            break
        if missing:  # the one (re)send path: first upload, dropped chunks, chunks lost later
            if any(c not in by_sum for c in missing):
                unknown = next(c for c in missing if c not in by_sum)
                raise UploadError(f"Sentry asked for chunks this bundle does not have: {unknown}")
            rounds += 1
            if rounds > MAX_RESEND_ROUNDS:
                raise UploadError(
                    f"Sentry still misses {len(missing)} chunk(s) after {MAX_RESEND_ROUNDS} "
                    "attempts; check proxies between CI and Sentry"
                )
            if rounds > 1:
                out.warn(f"Sentry reports {len(missing)} chunk(s) missing; sending them again")
            todo = [(c, by_sum[c]) for c in missing]
            label = "Uploading" if sent_chunks == 0 else "Re-sending missing chunks"
            bar = out.progress(label, sum(len(d) for _c, d in todo), "bytes")
            try:
                sent_bytes += send_chunks(client, url, todo, options, concurrency, bar.advance)
            finally:
                bar.close()
            sent_chunks += len(todo)
            sent.update(missing)
            asked_again = True
        elif state == "not_found" and not asked_again:
            asked_again = True  # the first answer may predate chunks another run just sent
        elif not settings.sourcemaps.wait or state in ("ok", "error"):
            # Accepted (created/assembling/ok, every chunk present) counts as uploaded:
            # Sentry assembles in the background and some compatible servers (Bugsink)
            # answer `created` for ever. Waiting for `ok` is opt-in (--wait) and bounded.
            break
        else:
            started = clock() if started is None else started
            if clock() - started > options.max_wait:
                raise UploadError(
                    f"Sentry did not finish processing the bundle within "
                    f"{options.max_wait:.0f}s (state {state}); pass --no-wait to not wait"
                )
            # `delay` apart from one poll's start to the next: a round trip longer than the
            # delay (a far runner) is wait enough, so the server sees no more polls than before
            sleep(max(0.0, delay - (clock() - asked_at)))
            delay = min(POLL_MAX, delay * 2)
        response, missing = assemble()
    if response.failed:
        raise UploadError(f"Sentry failed to process the bundle: {response.detail or state}")
    reused = sum(len(ref) for c, ref in pieces if c not in sent)
    return ChunkUpload(sent_bytes, len(pieces), sent_chunks, state, reused)
