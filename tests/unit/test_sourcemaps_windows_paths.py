"""Source maps with Windows inputs (#27), on this machine: bundle URLs from Windows-style
paths (drive letters, backslashes) are POSIX-style and the bundle is byte for byte the one
built from the same files on Linux; a pair of files differing only in case; CRLF bundles and
maps through inject and collect."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest

from sentry_release.config.settings import Settings, SourceMapOptions
from sentry_release.output import Output
from sentry_release.sourcemaps.bundle import BundleFile, spool_bundle
from sentry_release.sourcemaps.collect import collect, file_url
from sentry_release.sourcemaps.inject import inject_paths
from sentry_release.sourcemaps.vlq import decode_mappings, encode_mappings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sourcemaps"
WIN = PureWindowsPath
META: dict[str, object] = {"org": "acme", "projects": ["web"], "release": "1.0", "dist": None}


def settings_for(root: Path, *paths: str, prefix: str = "~") -> Settings:
    return Settings(
        working_directory=root,
        sourcemaps=SourceMapOptions(paths=tuple(Path(p) for p in paths), url_prefix=prefix),
    )


def quiet() -> Output:
    return Output(stdout=io.StringIO(), stderr=io.StringIO(), is_tty=False)


def bundle_bytes(files: list[BundleFile]) -> bytes:
    spooled, _ = spool_bundle(files, **META)  # type: ignore[arg-type]
    with spooled:
        return spooled.read(0, spooled.size)


@pytest.mark.parametrize(
    ("path", "root", "url"),
    [
        (WIN(r"C:\work\dist\js\app.js"), WIN(r"C:\work\dist"), "~/js/app.js"),
        (WIN(r"D:\a\b\dist\app.js.map"), WIN("D:/a/b/dist"), "~/app.js.map"),
        (WIN(r"\\server\share\dist\x\y.js"), WIN(r"\\server\share\dist"), "~/x/y.js"),
        (PurePosixPath("/work/dist/js/app.js"), PurePosixPath("/work/dist"), "~/js/app.js"),
        # on POSIX a backslash is a character of the name, as sentry-cli keeps it there
        (PurePosixPath("/work/dist/a\\b.js"), PurePosixPath("/work/dist"), "~/a\\b.js"),
    ],
)  # fmt: skip
def test_urls_are_posix_style_whatever_the_separator(
    path: PurePosixPath | PureWindowsPath, root: PurePosixPath | PureWindowsPath, url: str
) -> None:
    assert file_url("~/", path.relative_to(root), "") == url


def test_a_bundle_from_a_windows_path_list_equals_the_linux_one_byte_for_byte(
    tmp_path: Path,
) -> None:
    shutil.copytree(FIXTURES / "dist", tmp_path / "dist" / "js")
    (tmp_path / "dist" / "index.min.js").write_text("console.log(1);\n")
    linux = collect(settings_for(tmp_path, "dist", prefix="~/static")).files
    assert len(linux) >= 4
    by_url = {f.url: f for f in linux}
    root = PureWindowsPath(r"C:\Users\runneradmin\work\web\dist")
    windows = []
    for f in reversed(linux):  # another listing order too
        rel = PurePosixPath(f.url.removeprefix("~/static/"))
        windows_path = root.joinpath(*rel.parts)  # C:\...\dist\js\app.min.js
        url = file_url("~/static", windows_path.relative_to(root), "")
        assert "\\" not in url and url in by_url
        windows.append(BundleFile(url, f.type, f.content, f.headers, str(windows_path)))
    built = bundle_bytes(windows)
    assert built == bundle_bytes(linux)
    names = zipfile.ZipFile(io.BytesIO(built[8:])).namelist()
    assert "files/_/_/static/js/app.min.js" in names


def test_a_pair_differing_only_in_case_are_two_files_in_a_stable_order(tmp_path: Path) -> None:
    """A case-sensitive checkout can hold both; a case-insensitive one (Windows, macOS) holds
    one. Both go up under their own URL, in one order whatever the listing order."""
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "app.js").write_text("var lower = 1;\n")
    (dist / "App.js").write_text("var upper = 1;\n")
    files = collect(settings_for(tmp_path, "dist")).files
    assert sorted(f.url for f in files) == ["~/App.js", "~/app.js"]
    contents = {f.url: f.content for f in files}
    assert contents["~/app.js"] != contents["~/App.js"]
    assert bundle_bytes(files) == bundle_bytes(list(reversed(files)))


CODE = ['"use strict";', "var total=add(1,2);", "render(total);"]


def crlf_build(dist: Path) -> None:
    """A bundle and map as a CRLF checkout (core.autocrlf) leaves them."""
    dist.mkdir(parents=True)
    js = "\r\n".join(CODE) + "\r\n//# sourceMappingURL=app.js.map\r\n"
    mappings = encode_mappings([[(0, 0, i, 0)] for i in range(len(CODE))])
    source_map = {"version": 3, "sources": ["app.ts"], "names": [], "mappings": mappings}
    (dist / "app.js").write_bytes(js.encode())
    (dist / "app.js.map").write_bytes(
        json.dumps(source_map, indent=1).replace("\n", "\r\n").encode()
    )


def test_inject_into_a_crlf_bundle_and_map(tmp_path: Path) -> None:
    dist = tmp_path / "work" / "dist"
    crlf_build(dist)
    result = inject_paths((dist,), dry_run=False, out=quiet(), inside=dist.parent)
    assert [(f.path.name, f.changed) for f in result.files] == [("app.js", True)]
    text = (dist / "app.js").read_bytes().decode()
    source_map = json.loads((dist / "app.js.map").read_text())
    debug_id = source_map["debug_id"]
    assert f"//# debugId={debug_id}" in text
    assert "//# sourceMappingURL=app.js.map\r\n" in text  # the reference kept, CRLF kept
    lines = [line.rstrip("\r") for line in text.split("\n")]
    for generated_line, segments in enumerate(decode_mappings(source_map["mappings"])):
        for segment in segments:  # the code at each mapped position is the line it came from
            assert lines[generated_line][segment[0] :].startswith(CODE[segment[2]][:8])
    again = inject_paths((dist,), dry_run=False, out=quiet(), inside=dist.parent)
    assert [f.changed for f in again.files] == [False]  # its debugId comment is found again
    assert [f.debug_id for f in again.files] == [debug_id]


def test_collect_pairs_a_crlf_bundle_with_its_map(tmp_path: Path) -> None:
    crlf_build(tmp_path / "dist")
    collected = collect(settings_for(tmp_path, "dist"))
    assert not collected.problems, collected.problems
    by_url = {f.url: f for f in collected.files}
    assert by_url["~/app.js"].headers.get("sourcemap") == "app.js.map"
    assert by_url["~/app.js.map"].type == "source_map"
