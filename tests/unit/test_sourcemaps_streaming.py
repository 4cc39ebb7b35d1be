"""The upload streams: one file's bytes at a time, the same bundle bytes as building it whole,
and a file that changes after it was checked is refused (#16)."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import struct
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

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

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sourcemaps"


def bundle_debug_id(files: list[BundleFile]) -> str:
    """The bundle id of `files` in the order given, from their bytes in memory."""
    ids = BundleId()
    for item in files:
        ids.add(item, item.content)
    return ids.value()


def whole_zip(files: list[BundleFile], **meta: object) -> bytes:
    """The bundle built by zipfile with every file in memory: files in URL order, then the
    manifest (last, so that its changes touch only the last chunks)."""
    ordered = sorted(files, key=lambda f: f.url)
    debug_id = bundle_debug_id(ordered)
    body = manifest(ordered, debug_id=debug_id, **meta)  # type: ignore[arg-type]
    out = io.BytesIO()
    out.write(b"SYSB" + struct.pack("<I", 2))
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in [(bundle_path(f.url), f.content) for f in ordered] + [
            ("manifest.json", json.dumps(body).encode())
        ]:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return out.getvalue()


def settings_for(root: Path) -> Settings:
    return Settings(working_directory=root, sourcemaps=SourceMapOptions(paths=(Path("dist"),)))


def test_streamed_bundle_has_the_bytes_of_the_whole_build(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "dist", tmp_path / "dist")
    files = collect(settings_for(tmp_path)).files
    assert files and all(isinstance(f.source, Deferred) for f in files)
    meta: dict[str, object] = {"org": "o", "projects": ["p"], "release": "1", "dist": None}
    spooled, debug_id = spool_bundle(files, **meta)  # type: ignore[arg-type]
    with spooled:
        streamed = spooled.read(0, spooled.size)
    in_memory = [BundleFile(f.url, f.type, f.content, f.headers, f.local_path) for f in files]
    assert streamed == whole_zip(in_memory, **meta)
    assert debug_id == bundle_debug_id(sorted(in_memory, key=lambda f: f.url))
    listed = zipfile.ZipFile(io.BytesIO(streamed[8:]))
    assert listed.testzip() is None  # the patched manifest's CRC is right
    assert json.loads(listed.read("manifest.json"))["debug_id"] == debug_id


def _made(index: int, size: int) -> bytes:
    seed = hashlib.sha256(str(index).encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def _deferred_files(count: int, size: int) -> list[BundleFile]:
    files = []
    for i in range(count):
        data = _made(i, size)
        source = Deferred(size, hashlib.sha1(data).hexdigest(), lambda i=i: _made(i, size))
        files.append(BundleFile(f"~/f{i:04d}.js", "minified_source", source, {}, f"f{i}.js"))
        del data
    return files


def _peak_of_bundling(count: int, size: int) -> int:
    files = _deferred_files(count, size)
    tracemalloc.start()
    try:
        spooled, _id = spool_bundle(files, org="o", projects=["p"], release="1", dist=None)
        spooled.close()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_bundling_memory_does_not_grow_with_the_number_of_files() -> None:
    size = 256 * 1024
    few, many = _peak_of_bundling(8, size), _peak_of_bundling(160, size)
    # 160 files are 40 MiB: holding them (as before) would trace > 40 MiB at the peak
    assert many < 8 * size + 2 * 1024 * 1024, many
    assert many - few < 2 * size, (few, many)


def test_a_file_changed_after_the_checks_is_refused(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "dist", tmp_path / "dist")
    files = collect(settings_for(tmp_path)).files
    target = tmp_path / "dist" / "app.min.js"
    target.write_bytes(target.read_bytes() + b"\n// rebuilt\n")
    with pytest.raises(SourceMapError, match="app.min.js changed after it was checked") as info:
        spool_bundle(files, org="o", projects=["p"], release="1", dist=None)
    assert info.value.exit_code == 2
    target.unlink()
    with pytest.raises(SourceMapError, match="app.min.js could not be read again"):
        spool_bundle(files, org="o", projects=["p"], release="1", dist=None)


def test_inject_refuses_a_bundle_changed_between_planning_and_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sentry_release.output import Output
    from sentry_release.sourcemaps import inject

    (tmp_path / "dist").mkdir()
    for name in ("app.min.js", "app.min.js.map", "sibling.min.js", "sibling.min.js.map"):
        shutil.copy(FIXTURES / "dist" / name, tmp_path / "dist" / name)
    target = tmp_path / "dist" / "sibling.min.js"
    real = inject.Planner.of

    def then_rebuilt(*args: Any, **kwargs: Any) -> inject.Planner:
        planned = real(*args, **kwargs)  # every file read and checked
        target.write_text(target.read_text() + "\nrebuilt();\n")
        return planned

    monkeypatch.setattr(inject.Planner, "of", then_rebuilt)
    out = Output(stdout=io.StringIO(), stderr=io.StringIO(), is_tty=False)
    with pytest.raises(SourceMapError, match="sibling.min.js changed after it was checked"):
        inject.inject_paths((tmp_path / "dist",), dry_run=False, out=out, inside=tmp_path)
    assert target.read_text().endswith("rebuilt();\n")  # the rebuild is not overwritten


def test_the_marked_map_is_the_final_map_with_the_mark_last() -> None:
    from sentry_release.sourcemaps.discover import MapRef
    from sentry_release.sourcemaps.inject import PENDING_KEY, dump_map, plan_file

    js = (FIXTURES / "dist" / "app.min.js").read_bytes()
    raw = (FIXTURES / "dist" / "app.min.js.map").read_bytes()
    change = plan_file(Path("app.min.js"), js, MapRef("app.min.js.map", "app.min.js.map"), raw)
    assert change.map_bytes is not None and change.marked_map is not None
    final = json.loads(change.map_bytes)
    assert change.marked_map == dump_map({**final, PENDING_KEY: True})
