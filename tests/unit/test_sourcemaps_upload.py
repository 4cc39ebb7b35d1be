"""Pure pieces of the upload: batching under server limits, map rewriting."""

from __future__ import annotations

from pathlib import Path

from sentry_release.config.settings import SourceMapOptions
from sentry_release.sentry.models import ChunkOptions
from sentry_release.sourcemaps.chunks import batches
from sentry_release.sourcemaps.collect import rewrite_map


def chunks(*sizes: int) -> list[tuple[str, bytes]]:
    return [(f"{i:040x}", b"x" * size) for i, size in enumerate(sizes)]


def test_batches_need_no_more_requests_than_fixed_chunks_and_respect_limits() -> None:
    # 10 chunks of 10 bytes, 3 per request: the count decides (4 requests, balanced)
    groups = batches(chunks(*[10] * 10), per_request=3, max_size=1000, chunk_size=1000)
    assert [len(g) for g in groups] == [3, 2, 3, 2]
    # the bytes decide: 180 bytes with chunk_size 100 is 2 requests, balanced by bytes
    groups = batches(chunks(60, 60, 60), per_request=64, max_size=1000, chunk_size=100)
    assert [len(g) for g in groups] == [2, 1]
    # many small chunks of a small upload share one request (as one fixed chunk would)
    groups = batches(chunks(*[1] * 8), per_request=64, max_size=1000, chunk_size=1000)
    assert [len(g) for g in groups] == [8]
    assert [c for g in groups for c, _ in g] == [c for c, _ in chunks(*[1] * 8)]
    # no request over maxRequestSize, however the bytes balance
    groups = batches(chunks(*[40] * 6), per_request=64, max_size=100, chunk_size=1000)
    assert all(sum(len(d) for _c, d in g) <= 100 for g in groups) and len(groups) == 3


def test_rewrite_inlines_local_sources_and_strips_prefixes(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.js").write_text("let a = 1;\n")
    parsed = {"version": 3, "sources": ["src/a.js", "webpack://x/b.js"], "mappings": "AAAA"}
    out = rewrite_map(parsed, tmp_path, tmp_path, SourceMapOptions(strip_prefixes=("src/",)))
    assert out is not None
    assert out["sourcesContent"] == ["let a = 1;\n", None]
    assert out["sources"] == ["a.js", "webpack://x/b.js"]


def test_rewrite_leaves_complete_maps_alone(tmp_path: Path) -> None:
    parsed = {"version": 3, "sources": ["a.js"], "sourcesContent": ["x"], "mappings": "AAAA"}
    assert rewrite_map(parsed, tmp_path, tmp_path, SourceMapOptions()) is None


def test_send_chunks_posts_gzip_parts_named_by_sha1() -> None:
    import gzip
    import hashlib

    import responses

    from sentry_release.sentry.api import SentryApi
    from sentry_release.sourcemaps.chunks import send_chunks
    from sentry_standin.chunks import parse_multipart

    data = [bytes([i]) * 1000 for i in range(5)]
    pieces = [(hashlib.sha1(d).hexdigest(), d) for d in data]
    received: list[tuple[str, str | None, bytes]] = []
    url = "https://sentry.example.com/api/0/organizations/o/chunk-upload/"

    def record(request: object) -> tuple[int, dict[str, str], str]:
        body = request.body  # type: ignore[attr-defined]
        ctype = request.headers["Content-Type"]  # type: ignore[attr-defined]
        received.extend(parse_multipart(ctype, body))
        return 200, {}, "{}"

    with responses.RequestsMock() as mock:
        mock.add_callback("POST", url, callback=record)
        client = SentryApi("https://sentry.example.com/", "tok")
        options = ChunkOptions.parse(
            {"url": url, "compression": ["gzip"], "chunksPerRequest": 2, "maxRequestSize": 10**6}
        )
        wire = send_chunks(client, url, pieces, options, 3, lambda n: None)
        assert len(mock.calls) == 3
    assert {f for _n, f, _p in received} == {c for c, _ in pieces}
    assert all(name == "file_gzip" for name, _f, _p in received)
    assert {hashlib.sha1(gzip.decompress(p)).hexdigest() for _n, _f, p in received} == {
        c for c, _ in pieces
    }
    assert wire == sum(len(p) for _n, _f, p in received)


def test_batches_of_many_small_chunks_need_exactly_the_fixed_chunk_count() -> None:
    # ~350 chunks of ~130 KB (46 MB): 6 requests, as six 8 MiB chunks needed, each <= 64
    sizes = [(i * 7919) % 260_000 + 1_000 for i in range(350)]
    groups = batches(chunks(*sizes), per_request=64, max_size=32 << 20, chunk_size=8 << 20)
    assert len(groups) == -(-sum(sizes) // (8 << 20)) == 6
    assert all(len(g) <= 64 for g in groups)
    assert [c for g in groups for c, _ in g] == [c for c, _ in chunks(*sizes)]
