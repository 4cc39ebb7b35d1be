"""Chunks cut on bundle-entry boundaries (#23): an unchanged file keeps its chunk across
releases, a change disturbs only its neighbours, the bundle stays a valid deterministic ZIP."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

from sentry_release.sourcemaps.bundle import BundleFile, spool_bundle
from sentry_release.sourcemaps.layout import GROUP_FRACTION, chunk_ranges

CHUNK = 64 * 1024


def _file(name: str, size: int, version: int = 0) -> BundleFile:
    seed = hashlib.sha256(f"{name}/{version}".encode()).digest()
    data = (seed * (size // len(seed) + 1))[:size]
    return BundleFile(f"~/assets/{name}", "minified_source", data, {"debug-id": name})


def _build(files: list[BundleFile], release: str) -> tuple[bytes, list[tuple[str, int]]]:
    spooled, _id = spool_bundle(files, org="o", projects=["p"], release=release, dist=None,
                                chunk_size=CHUNK)  # fmt: skip
    with spooled:
        _sum, pieces = spooled.chunks(CHUNK)
        return spooled.read(0, spooled.size), [(c, len(r)) for c, r in pieces]


def _app(changed: str | None = None, extra: str | None = None) -> list[BundleFile]:
    sizes = {f"m{i:03d}.js": 300 + (i * 997) % 9000 for i in range(120)}
    sizes.update({"vendor.js": 150_000, "vendor.js.map": 400_000})
    if extra:
        sizes[extra] = 2_000
    return [_file(n, s, 1 if n == changed else 0) for n, s in sorted(sizes.items())]


def test_one_changed_file_resends_only_its_group_and_the_tail() -> None:
    _old, old_chunks = _build(_app(), "1.0")
    new, new_chunks = _build(_app(changed="m050.js"), "1.1")
    known = {c for c, _n in old_chunks}
    missing = [(c, n) for c, n in new_chunks if c not in known]
    total = sum(n for _c, n in new_chunks)
    # the changed file's group, the manifest and the central directory: nothing else
    assert len(missing) == 3 and missing[1:] == new_chunks[-2:], missing
    group = missing[0][1]  # m050.js is 2,850 bytes; its small neighbours may share its group
    assert 2_850 < group < 2_850 + 2 * 9_000 + CHUNK // GROUP_FRACTION
    assert sum(n for _c, n in missing) < total * 0.05
    # every chunk within the chunk size, in order, covering the whole bundle
    assert all(0 < n <= CHUNK for _c, n in new_chunks)
    assert total == len(new)


def test_an_added_file_disturbs_only_its_neighbours() -> None:
    _old, old_chunks = _build(_app(), "1.0")
    _new, new_chunks = _build(_app(extra="m050a.js"), "1.1")
    known = {c for c, _n in old_chunks}
    missing = [c for c, _n in new_chunks if c not in known]
    assert len(missing) <= 4, len(missing)  # its group (maybe split or merged) + the tail


def test_a_file_larger_than_the_chunk_size_is_split_from_its_own_start() -> None:
    _old, old_chunks = _build(_app(), "1.0")
    files = _app(extra="aaa-new.js")  # sorts first: shifts every byte after it
    _new, new_chunks = _build(files, "1.1")
    vendor_map = [c for c, n in old_chunks if n == CHUNK]
    assert len(vendor_map) >= 6  # 400 KB in 64 KiB pieces
    assert set(vendor_map) <= {c for c, _n in new_chunks}  # same pieces, new offsets


def test_the_bundle_is_a_valid_deterministic_zip_with_the_manifest_last() -> None:
    first, chunks = _build(_app(), "1.0")
    again, chunks_again = _build(list(reversed(_app())), "1.0")
    assert first == again and chunks == chunks_again
    assert first[:4] == b"SYSB"
    archive = zipfile.ZipFile(io.BytesIO(first[8:]))
    assert archive.testzip() is None
    names = archive.namelist()
    assert names[-1] == "manifest.json" and names[0] == "files/_/_/assets/m000.js"
    body = json.loads(archive.read("manifest.json"))
    assert body["release"] == "1.0" and len(body["files"]) == len(names) - 1


def test_ranges_are_a_pure_function_of_the_entries() -> None:
    entries = [(f"f{i}", f"{i:040x}", 1000 + i) for i in range(50)]
    ranges = chunk_ranges(8, entries, [300, 900], 10_000)
    assert ranges == chunk_ranges(8, entries, [300, 900], 10_000)
    assert ranges[-2:] == [(8 + sum(e[2] for e in entries), 300),
                           (8 + sum(e[2] for e in entries) + 300, 900)]  # fmt: skip
    ends = {o + n for o, n in ranges}
    starts, at = set(), 8
    for _n, _k, length in entries:
        starts.add(at)
        at += length
    assert ends - {at + 300, at + 1200} <= starts | {at}  # cut only between entries
