"""The chunk protocol as Sentry sees it (`chunks.upload_bundle` over HTTP, `responses`): the
order of the requests, which chunks travel in which request, the limits at their exact
boundaries, how many times lost chunks are sent again, and what the upload reports (bytes
sent, bytes reused). Sentry's rules: `api/endpoints/chunk.py` (64 chunks, 32 MiB per request)
and `organization_artifactbundle_assemble.py` (`missingChunks`)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import responses

from sentry_release.config.settings import Settings, SourceMapOptions
from sentry_release.errors import UploadError
from sentry_release.output import Output
from sentry_release.sentry.api import SentryApi
from sentry_release.sentry.models import ChunkOptions
from sentry_release.sourcemaps.bundle import BundleFile, SpooledBundle, spool_bundle
from sentry_release.sourcemaps.chunks import (
    MAX_RESEND_ROUNDS,
    ChunkUpload,
    batches,
    send_chunks,
    upload_bundle,
)
from sentry_standin.chunks import parse_multipart

BASE = "https://sentry.example.com/"
CHUNK_URL = BASE + "api/0/organizations/o/chunk-upload/"
ASSEMBLE_URL = BASE + "api/0/organizations/o/artifactbundle/assemble/"
CHUNK_SIZE = 4096
V2 = ("artifact_bundles", "artifact_bundles_v2")

Answer = Callable[[list[str]], dict[str, Any]]


def missing(pick: Callable[[list[str]], list[str]], state: str = "not_found") -> Answer:
    return lambda sums: {"state": state, "missingChunks": pick(sums)}


def state(name: str, detail: str | None = None) -> Answer:
    return lambda sums: {"state": name, "missingChunks": [], "detail": detail}


ALL = missing(lambda s: s)
OK = state("ok")


class Clock:
    """The run's clock: sleeps move it, and so does each assemble request (`rtt`)."""

    def __init__(self, start: float = 0.0, rtt: float = 0.0) -> None:
        self.now, self.rtt = start, rtt
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


class Sentry:
    """Answers assemble from a script and records every request, in order: `("assemble",
    chunks asked for)` or `("chunks", [(field, checksum, payload)...])`."""

    def __init__(
        self,
        mock: responses.RequestsMock,
        answers: list[Answer],
        clock: Clock | None,
        hold: float = 0.0,
    ) -> None:
        self.answers, self.clock = answers, clock
        self.log: list[tuple[str, Any]] = []
        self.bodies: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.in_flight = self.most_in_flight = 0
        self.started = 0  # chunk requests begun
        self.hold, self.another = hold, threading.Event()
        mock.add_callback("POST", ASSEMBLE_URL, callback=self.assemble)
        mock.add_callback("POST", CHUNK_URL, callback=self.chunks)

    def assemble(self, request: Any) -> tuple[int, dict[str, str], str]:
        self.bodies.append(json.loads(request.body))
        sums = self.bodies[-1]["chunks"]
        self.log.append(("assemble", sums))
        if self.clock is not None:
            self.clock.now += self.clock.rtt
        return 200, {}, json.dumps(self.answers.pop(0)(sums))

    def chunks(self, request: Any) -> tuple[int, dict[str, str], str]:
        self.log.append(("chunks", parse_multipart(request.headers["Content-Type"], request.body)))
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self.started += 1
            first = self.started == 1
            if not first:
                self.another.set()
        if first and self.hold:  # held: a request sent meanwhile would overlap it
            self.another.wait(self.hold)
        with self.lock:
            self.in_flight -= 1
        return 200, {}, "{}"

    @property
    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.log]

    @property
    def posts(self) -> list[list[str]]:
        """The checksums of each chunk request, in order."""
        return [[name for _f, name, _p in parts] for kind, parts in self.log if kind == "chunks"]


@pytest.fixture
def bundle(tmp_path: Path) -> Iterator[SpooledBundle]:
    # the 8-byte header, four files of 3000 bytes (each its own chunk: over chunk_size / 32),
    # the manifest and the central directory: 7 chunks
    files = [
        BundleFile(f"~/f{i}.js", "minified_source", hashlib.sha256(bytes([i])).digest() * 94)
        for i in range(4)
    ]
    spooled, _id = spool_bundle(
        files, org="o", projects=["p"], release="1", dist=None, chunk_size=CHUNK_SIZE
    )
    with spooled:
        yield spooled


def pieces(bundle: SpooledBundle) -> list[tuple[str, bytes]]:
    return [(c, bytes(ref)) for c, ref in bundle.chunks(CHUNK_SIZE)[1]]


def run(
    bundle: SpooledBundle,
    answers: list[Answer],
    *,
    wait: bool = False,
    accept: tuple[str, ...] = V2,
    compression: tuple[str, ...] = ("gzip",),
    clock: Clock | None = None,
    dist: str | None = None,
    tty: bool = False,
    hold: float = 0.0,
    **limits: Any,
) -> tuple[ChunkUpload | UploadError, Sentry, Output]:
    settings = Settings(
        org="o",
        projects=("p",),
        working_directory=Path("."),
        sourcemaps=SourceMapOptions(wait=wait, concurrency=1, dist=dist),
    )
    options = ChunkOptions(
        url=CHUNK_URL, chunk_size=CHUNK_SIZE, accept=accept, compression=compression, **limits
    )
    out = Output(stdout=io.StringIO(), stderr=io.StringIO(), is_tty=tty)
    timing: dict[str, Any] = {}
    if clock is not None:
        timing.update(clock=clock, sleep=clock.sleep)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        sentry = Sentry(mock, answers, clock, hold)
        client = SentryApi(BASE, "tok")
        try:
            done: ChunkUpload | UploadError = upload_bundle(
                settings, client, "1", bundle, options, out, **timing
            )
        except UploadError as error:
            done = error
    assert not sentry.answers, "every scripted answer was asked for"
    return done, sentry, out


def test_a_first_upload_assembles_sends_every_chunk_once_and_assembles_again(
    bundle: SpooledBundle,
) -> None:
    chunks = pieces(bundle)
    assert [len(d) for _c, d in chunks] == [8, 3053, 3053, 3053, 3053, 474, 325]
    done, sentry, out = run(bundle, [ALL, state("created")])
    sums = [c for c, _ in chunks]
    # 13019 bytes over a chunkSize of 4096: 4 requests of about a quarter each, in order
    assert sentry.kinds == ["assemble"] + ["chunks"] * 4 + ["assemble"]
    assert sentry.log[0][1] == sentry.log[-1][1] == sums
    assert sentry.posts == [sums[0:2], sums[2:3], sums[3:4], sums[4:7]]
    parts = [part for kind, p in sentry.log if kind == "chunks" for part in p]
    assert [(field, name) for field, name, _p in parts] == [("file_gzip", c) for c in sums]
    assert [gzip.decompress(p) for _f, _n, p in parts] == [d for _c, d in chunks]
    assert isinstance(done, ChunkUpload)
    assert done == ChunkUpload(
        bytes_sent=sum(len(p) for _f, _n, p in parts),
        chunks=7,
        chunks_sent=7,
        state="created",
        bytes_reused=0,
    )
    assert out.warnings == []


def test_only_the_chunks_sentry_names_travel_and_the_rest_count_as_reused(
    bundle: SpooledBundle,
) -> None:
    chunks = pieces(bundle)
    # named twice, in Sentry's order: each travels once, in that order
    named = missing(lambda s: [s[3], s[1], s[3]])
    done, sentry, _out = run(bundle, [named, OK], compression=())
    assert sentry.posts == [[chunks[3][0]], [chunks[1][0]]]  # 6106 bytes: two requests
    parts = [part for kind, p in sentry.log if kind == "chunks" for part in p]
    assert [(f, p) for f, _n, p in parts] == [("file", chunks[3][1]), ("file", chunks[1][1])]
    assert isinstance(done, ChunkUpload)
    sent = len(chunks[3][1]) + len(chunks[1][1])
    assert (done.bytes_sent, done.chunks_sent, done.state) == (sent, 2, "ok")
    assert done.bytes_reused == len(bundle) - sent


def test_a_rerun_sends_nothing_and_reuses_the_whole_bundle(bundle: SpooledBundle) -> None:
    done, sentry, _out = run(bundle, [state("created")])
    assert sentry.kinds == ["assemble"]
    assert done == ChunkUpload(0, 7, 0, "created", len(bundle))


def test_without_assemble_first_every_chunk_goes_before_the_one_assemble(
    bundle: SpooledBundle,
) -> None:
    done, sentry, _out = run(bundle, [state("created")], accept=("artifact_bundles",))
    assert sentry.kinds == ["chunks"] * 4 + ["assemble"]
    assert [c for p in sentry.posts for c in p] == [c for c, _ in pieces(bundle)]
    assert isinstance(done, ChunkUpload) and done.chunks_sent == 7 and done.bytes_reused == 0


def test_chunks_per_request_at_its_boundary(bundle: SpooledBundle) -> None:
    sums = [c for c, _ in pieces(bundle)]
    small = [sums[0], sums[5], sums[6]]  # 807 bytes: one request by size
    _done, sentry, _out = run(bundle, [missing(lambda s: small), OK], chunks_per_request=3)
    assert sentry.posts == [small]
    _done, sentry, _out = run(bundle, [missing(lambda s: small), OK], chunks_per_request=2)
    assert sentry.posts == [small[:2], small[2:]]
    assert sentry.kinds == ["assemble", "chunks", "chunks", "assemble"]
    _done, sentry, _out = run(bundle, [missing(lambda s: small), OK], chunks_per_request=1)
    assert sentry.posts == [[c] for c in small]


def test_max_request_size_at_its_boundary_counts_uncompressed_bytes(
    bundle: SpooledBundle,
) -> None:
    sums = [c for c, _ in pieces(bundle)]
    small = [sums[0], sums[5], sums[6]]  # 8 + 474 + 325 = 807 bytes, far less gzipped
    _done, sentry, _out = run(bundle, [missing(lambda s: small), OK], max_request_size=807)
    assert sentry.posts == [small]
    _done, sentry, _out = run(bundle, [missing(lambda s: small), OK], max_request_size=806)
    assert sentry.posts == [small[:2], small[2:]]


def test_requests_follow_chunk_size_at_its_boundary() -> None:
    def sizes(total: int, chunk_size: int) -> list[int]:
        parts = [(f"{i:040x}", b"x" * n) for i, n in enumerate([total // 2, total - total // 2])]
        groups = batches(parts, per_request=64, max_size=10**6, chunk_size=chunk_size)
        return [len(g) for g in groups]

    assert sizes(100, 100) == [2]
    assert sizes(101, 100) == [1, 1]


def test_lost_chunks_are_sent_again_until_sentry_has_them(bundle: SpooledBundle) -> None:
    chunks = pieces(bundle)
    lost = missing(lambda s: [s[2]])
    done, sentry, out = run(bundle, [ALL, lost, state("assembling")])
    assert sentry.kinds == ["assemble"] + ["chunks"] * 4 + ["assemble", "chunks", "assemble"]
    assert sentry.posts[4:] == [[chunks[2][0]]]
    assert out.warnings == ["Sentry reports 1 chunk(s) missing; sending them again"]
    wire = sum(len(p) for kind, parts in sentry.log if kind == "chunks" for _f, _n, p in parts)
    assert done == ChunkUpload(wire, 7, 8, "assembling", 0)


def test_lost_chunks_are_sent_at_most_three_times_in_all(bundle: SpooledBundle) -> None:
    assert MAX_RESEND_ROUNDS == 3
    chunks = pieces(bundle)
    lost = missing(lambda s: [s[0], s[5]])
    done, sentry, out = run(bundle, [ALL, lost, lost, lost])
    assert sentry.kinds == ["assemble"] + ["chunks"] * 4 + ["assemble", "chunks"] * 2 + ["assemble"]
    assert sentry.posts[4:] == [[chunks[0][0], chunks[5][0]]] * 2
    assert out.warnings == ["Sentry reports 2 chunk(s) missing; sending them again"] * 2
    assert isinstance(done, UploadError)
    assert str(done) == (
        "Sentry still misses 2 chunk(s) after 3 attempts; check proxies between CI and Sentry"
    )


def test_the_third_attempt_may_still_succeed(bundle: SpooledBundle) -> None:
    # a rerun that misses one chunk, lost twice on the way: three sends, then assembled
    chunks = pieces(bundle)
    lost = missing(lambda s: [s[4]])
    done, sentry, out = run(bundle, [lost, lost, lost, OK])
    assert sentry.kinds == ["assemble", "chunks"] * 3 + ["assemble"]
    assert sentry.posts == [[chunks[4][0]]] * 3
    assert out.warnings == ["Sentry reports 1 chunk(s) missing; sending them again"] * 2
    assert isinstance(done, ChunkUpload) and done.chunks_sent == 3 and done.state == "ok"
    assert done.bytes_reused == len(bundle) - len(chunks[4][1])


def test_a_chunk_the_bundle_does_not_have_is_refused_before_any_upload(
    bundle: SpooledBundle,
) -> None:
    stranger = missing(lambda s: [s[0], "f" * 40])
    done, sentry, _out = run(bundle, [stranger])
    assert sentry.kinds == ["assemble"]
    assert str(done) == f"Sentry asked for chunks this bundle does not have: {'f' * 40}"


def test_not_found_without_missing_chunks_is_asked_once_more_then_fails(
    bundle: SpooledBundle,
) -> None:
    gone = state("not_found", "bundle gone")
    done, sentry, _out = run(bundle, [gone, gone])
    assert sentry.kinds == ["assemble", "assemble"]
    assert str(done) == "Sentry failed to process the bundle: bundle gone"
    done, sentry, _out = run(bundle, [gone, state("created")])
    assert isinstance(done, ChunkUpload) and done.state == "created" and done.bytes_sent == 0


def test_an_error_after_the_upload_names_sentrys_detail_or_the_state(
    bundle: SpooledBundle,
) -> None:
    done, sentry, _out = run(bundle, [ALL, state("error", "invalid bundle")])
    assert sentry.kinds == ["assemble"] + ["chunks"] * 4 + ["assemble"]
    assert str(done) == "Sentry failed to process the bundle: invalid bundle"
    done, _sentry, _out = run(bundle, [ALL, state("error")], wait=True)
    assert str(done) == "Sentry failed to process the bundle: error"


def test_wait_polls_until_ok_with_doubling_delays_up_to_a_second(bundle: SpooledBundle) -> None:
    clock = Clock()
    answers = [ALL] + [state("assembling")] * 6 + [OK]
    done, sentry, _out = run(bundle, answers, wait=True, clock=clock)
    assert sentry.kinds == ["assemble"] + ["chunks"] * 4 + ["assemble"] * 7
    assert clock.sleeps == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert isinstance(done, ChunkUpload) and done.state == "ok"


def test_wait_gives_up_after_max_wait(bundle: SpooledBundle) -> None:
    clock = Clock()
    answers = [state("created")] * 6
    done, sentry, _out = run(bundle, answers, wait=True, clock=clock, max_wait=1.6)
    # polls at 0, 0.1, 0.3, 0.7, 1.5 (within 1.6: one more poll at 2.5), then over
    assert clock.sleeps == [0.1, 0.2, 0.4, 0.8, 1.0]
    assert sentry.kinds == ["assemble"] * 6
    assert str(done) == (
        "Sentry did not finish processing the bundle within 2s (state created); "
        "pass --no-wait to not wait"
    )


def test_wait_gives_up_once_more_than_max_wait_has_passed_since_the_first_poll(
    bundle: SpooledBundle,
) -> None:
    # a far Sentry: each assemble takes 1 s, so no sleep; the clock does not start at 0
    clock = Clock(start=100.0, rtt=1.0)
    done, sentry, _out = run(bundle, [state("created")] * 4, wait=True, clock=clock, max_wait=2)
    # answers at 101 (first poll), 102, 103 (2 s: not more than max_wait), 104 (3 s): over
    assert sentry.kinds == ["assemble"] * 4 and clock.sleeps == [0.0] * 3
    assert str(done).startswith("Sentry did not finish processing the bundle within 2s")


def test_an_error_in_the_first_answer_ends_the_wait_at_once(bundle: SpooledBundle) -> None:
    clock = Clock()
    done, sentry, _out = run(bundle, [state("error", "broken")], wait=True, clock=clock)
    assert sentry.kinds == ["assemble"] and clock.sleeps == []
    assert str(done) == "Sentry failed to process the bundle: broken"


def test_not_found_after_the_upload_fails_without_asking_again(bundle: SpooledBundle) -> None:
    done, sentry, _out = run(bundle, [ALL, state("not_found", "chunks expired")])
    assert sentry.kinds == ["assemble"] + ["chunks"] * 4 + ["assemble"]
    assert str(done) == "Sentry failed to process the bundle: chunks expired"


def test_assemble_names_the_bundle_its_chunks_projects_release_and_dist(
    bundle: SpooledBundle,
) -> None:
    checksum, refs = bundle.chunks(CHUNK_SIZE)
    whole = b"".join(bytes(ref) for _c, ref in refs)
    assert len(whole) == len(bundle) and checksum == hashlib.sha1(whole).hexdigest()
    _done, sentry, _out = run(bundle, [state("created")], dist="7")
    body = {"checksum": checksum, "chunks": [c for c, _ in refs], "projects": ["p"]}
    assert sentry.bodies == [{**body, "version": "1", "dist": "7"}]


def test_the_progress_bars_name_the_upload_and_the_resend_in_bytes(
    bundle: SpooledBundle,
) -> None:
    lost = missing(lambda s: [s[2]])
    _done, _sentry, out = run(bundle, [ALL, lost, OK], tty=True)
    assert isinstance(out.stderr, io.StringIO)
    stderr = out.stderr.getvalue()
    finals = [line.split("\r")[-1] for line in stderr.split("\n") if "\r" in line]
    assert finals == [
        f"[{'#' * 24}] Uploading: 12.7 KiB / 12.7 KiB (100%)",
        f"[{'#' * 24}] Re-sending missing chunks: 3.0 KiB / 3.0 KiB (100%)",
    ]


def test_a_chunk_in_memory_and_spooled_travel_as_the_same_gzip_bytes(
    bundle: SpooledBundle,
) -> None:
    # no timestamp, level 3: a chunk gzips to the same bytes whatever holds it, every run
    checksum, ref = bundle.chunks(CHUNK_SIZE)[1][1]
    options = ChunkOptions(url=CHUNK_URL, compression=("gzip",))
    wire: list[bytes] = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        sentry = Sentry(mock, [], None)
        client = SentryApi(BASE, "tok")
        for data in (ref, bytes(ref)):
            send_chunks(client, CHUNK_URL, [(checksum, data)], options, 1, lambda n: None)
            wire.append(sentry.log[-1][1][0][2])
    assert wire[0] == wire[1] == gzip.compress(bytes(ref), 3, mtime=0)
    assert wire[0][4:8] == b"\0\0\0\0"  # MTIME: none


def test_requests_follow_chunk_size_of_one_byte() -> None:
    parts = [(f"{i:040x}", b"x") for i in range(3)]
    assert len(batches(parts, per_request=64, max_size=10**6, chunk_size=1)) == 3


def test_a_large_first_chunk_does_not_cost_an_extra_request_when_the_count_is_tight() -> None:
    def shape(*sizes: int) -> list[int]:
        parts = [(f"{i:040x}", b"x" * n) for i, n in enumerate(sizes)]
        groups = batches(parts, per_request=2, max_size=10**6, chunk_size=10**6)
        assert [c for g in groups for c, _ in g] == [c for c, _ in parts]
        return [len(g) for g in groups]

    # 4 chunks, 2 per request: 2 requests, though the first chunk is most of the bytes
    assert shape(100, 1, 1, 1) == [2, 2]
    # 3 chunks: the big one alone, the small ones together (balanced by bytes)
    assert shape(100, 1, 1) == [1, 2]


def test_a_concurrency_of_one_sends_one_request_at_a_time(bundle: SpooledBundle) -> None:
    # run() sets --concurrency 1 (the server offers 8): the first of 7 chunk requests is held
    # for a moment, and no other starts while it is in flight
    _done, sentry, _out = run(bundle, [ALL, OK], chunks_per_request=1, hold=0.3)
    assert len(sentry.posts) == 7 and sentry.most_in_flight == 1
