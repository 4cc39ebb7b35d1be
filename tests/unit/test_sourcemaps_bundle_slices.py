"""A file uploaded as it is on disk goes into the bundle in slices, never whole (#23); a
rewritten map is still made whole again; either way the bundle's bytes are the same."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import struct
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest

from sentry_release.config.settings import Settings, SourceMapOptions
from sentry_release.errors import SourceMapError
from sentry_release.sourcemaps.bundle import (
    BundleFile,
    BundleId,
    Deferred,
    bundle_path,
    manifest,
    spool_bundle,
)
from sentry_release.sourcemaps.collect import collect
from sentry_release.sourcemaps.paths import read_regular

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sourcemaps"
META: dict[str, object] = {"org": "o", "projects": ["p"], "release": "1", "dist": None}


def settings_for(root: Path, **options: object) -> Settings:
    opts = SourceMapOptions(paths=(Path("dist"),), **options)  # type: ignore[arg-type]
    return Settings(working_directory=root, sourcemaps=opts)


def zipfile_bundle(files: list[BundleFile]) -> bytes:
    """The bundle as zipfile writes it from bytes in memory."""
    ids = BundleId()
    for item in files:
        ids.add(item, item.content)
    body = manifest(files, debug_id=ids.value(), **META)  # type: ignore[arg-type]
    out = io.BytesIO()
    out.write(b"SYSB" + struct.pack("<I", 2))
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in [(bundle_path(f.url), f.content) for f in files] + [
            ("manifest.json", json.dumps(body).encode())
        ]:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return out.getvalue()


def test_files_kept_as_they_are_are_streamed_and_rewritten_maps_made_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(FIXTURES / "dist", tmp_path / "dist")
    files = collect(settings_for(tmp_path, strip_prefixes=("../",))).files
    streamed = {f.url for f in files if isinstance(f.source, Deferred) and f.source.crc}
    made = {f.url for f in files} - streamed
    assert streamed and made  # scripts as they are; maps the prefix strip rewrote
    assert all(url.endswith(".map") for url in made)
    expected = zipfile_bundle(sorted(files, key=lambda f: f.url))
    loaded: list[str] = []
    real = Deferred.load

    def load(self: Deferred) -> bytes:
        loaded.append(self.where)
        return real(self)

    monkeypatch.setattr(Deferred, "load", load)
    spooled, _id = spool_bundle(files, **META)  # type: ignore[arg-type]
    with spooled:
        assert spooled.read(0, spooled.size) == expected
    assert sorted(loaded) == sorted(f.local_path for f in files if f.url in made)


def test_the_crc_is_the_files() -> None:
    data = read_regular(FIXTURES / "dist" / "app.min.js")
    deferred = collect(settings_for(FIXTURES.parent / "sourcemaps")).files
    script = next(f for f in deferred if f.url.endswith("/app.min.js"))
    assert isinstance(script.source, Deferred)
    assert script.source.crc == zlib.crc32(data)


def one_streamed(root: Path, data: bytes) -> tuple[Path, list[BundleFile]]:
    (root / "dist").mkdir()
    target = root / "dist" / "big.js"
    target.write_bytes(data)
    files = collect(settings_for(root)).files
    assert isinstance(files[0].source, Deferred) and files[0].source.crc is not None
    return target, files


@pytest.mark.parametrize(
    "change",
    [
        lambda data: data[:-1] + b"!",  # same size, other bytes
        lambda data: data + b"more",  # grew
        lambda data: data[:-1],  # shrank
    ],
)
def test_a_streamed_file_that_changed_is_refused(tmp_path: Path, change: object) -> None:
    data = b"x();\n" * 300_000  # 1.5 MB: more than one slice
    target, files = one_streamed(tmp_path, data)
    target.write_bytes(change(data))  # type: ignore[operator]
    with pytest.raises(SourceMapError, match="big.js changed after it was checked"):
        spool_bundle(files, **META)  # type: ignore[arg-type]


def test_a_streamed_file_gone_is_refused(tmp_path: Path) -> None:
    target, files = one_streamed(tmp_path, b"x();\n")
    target.unlink()
    with pytest.raises(SourceMapError, match="big.js could not be read again"):
        spool_bundle(files, **META)  # type: ignore[arg-type]


def test_streaming_holds_a_slice_not_the_file(tmp_path: Path) -> None:
    size = 24 * 1024**2
    data = hashlib.sha256(b"seed").digest() * (size // 32)
    _target, files = one_streamed(tmp_path, data)
    del data
    tracemalloc.start()
    try:
        spooled, _id = spool_bundle(files, **META)  # type: ignore[arg-type]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    with spooled:
        assert spooled.size > size
    assert peak < 4 * 1024**2, peak  # read whole, the 24 MiB file would be traced
