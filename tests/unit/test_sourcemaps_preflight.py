"""Checks before the first write (#13.11): pure verdicts over file facts, and `run`'s entry."""

from __future__ import annotations

import io
import os
import shutil
import stat
from pathlib import Path

import pytest

from sentry_release.config.settings import Settings, SourceMapOptions
from sentry_release.errors import SourceMapError
from sentry_release.output import Output
from sentry_release.sourcemaps.preflight import FileFacts, problems
from sentry_release.sourcemaps.upload import prepare_upload

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sourcemaps"
REGULAR = stat.S_IFREG | 0o644


def test_a_clean_build_has_no_problems() -> None:
    facts = [FileFacts(Path("dist/a.js"), REGULAR, True, True), FileFacts(Path("dist/b"), 0, True)]
    assert problems(facts) == []


@pytest.mark.parametrize(
    ("fact", "expected"),
    [
        (
            FileFacts(Path("dist/p.js"), stat.S_IFIFO | 0o644, True),
            "dist/p.js is a FIFO, not a file",
        ),
        (FileFacts(Path("dist/d.js"), stat.S_IFCHR | 0o644, True), "dist/d.js is a device"),
        (FileFacts(Path("dist/s.js"), stat.S_IFSOCK | 0o644, True), "dist/s.js is a socket"),
        (
            FileFacts(Path(os.fsdecode(b"dist/caf\xe9.js")), REGULAR, False),
            "file name is not UTF-8: dist/caf\\xe9.js",
        ),
        (FileFacts(Path("dist/a.js"), REGULAR, True, False), "dist is not writable"),
    ],
    ids=["fifo", "device", "socket", "name", "read-only"],
)
def test_each_problem_is_one_line_naming_file_and_fix(fact: FileFacts, expected: str) -> None:
    (line,) = problems([fact])
    assert line.startswith(expected) and "\n" not in line
    assert "--ignore" in line or "--no-inject" in line


def test_a_read_only_folder_is_named_once() -> None:
    facts = [FileFacts(Path(f"dist/{n}.js"), REGULAR, True, False) for n in "abc"]
    assert len(problems(facts)) == 1


def settings_for(root: Path, *, inject: bool = True, dry_run: bool = False) -> Settings:
    opts = SourceMapOptions(paths=(Path("dist"),), inject=inject)
    return Settings(
        working_directory=root, sourcemaps=opts, org="o", projects=("p",), dry_run=dry_run
    )


def test_run_refuses_a_read_only_dist_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(FIXTURES / "dist", tmp_path / "dist")
    before = {p.name: p.read_bytes() for p in (tmp_path / "dist").iterdir()}
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if mode & os.W_OK else real(p, mode))
    out = Output(stdout=io.StringIO(), stderr=io.StringIO(), is_tty=False)
    with pytest.raises(SourceMapError) as info:
        prepare_upload(settings_for(tmp_path), out)
    assert "dist is not writable" in str(info.value) and info.value.exit_code == 2
    # without inject (or in a dry run) nothing will be written: no writability needed
    assert prepare_upload(settings_for(tmp_path, inject=False), out) is not None
    assert prepare_upload(settings_for(tmp_path, dry_run=True), out) is not None
    assert {p.name: p.read_bytes() for p in (tmp_path / "dist").iterdir()} == before


def test_run_collects_once_what_inject_will_write(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "dist", tmp_path / "dist")
    out = Output(stdout=io.StringIO(), stderr=io.StringIO(), is_tty=False)
    collected = prepare_upload(settings_for(tmp_path), out)
    assert collected is not None
    assert "//# debugId=" not in (tmp_path / "dist" / "app.min.js").read_text()
    # only sizes and SHA-1s were kept: before inject writes, the files differ from the plan
    with pytest.raises(SourceMapError, match="changed after it was checked") as info:
        _ = collected.files[0].content
    assert info.value.exit_code == 2
    from sentry_release.sourcemaps.inject import inject_paths

    inject_paths((tmp_path / "dist",), dry_run=False, out=out, inside=tmp_path)
    from sentry_release.sourcemaps.collect import collect

    planned = {f.url: bytes(f.content) for f in collected.files}  # read again, checked
    after = {f.url: bytes(f.content) for f in collect(settings_for(tmp_path)).files}
    assert planned == after
    assert any(b"//# debugId=" in data for data in planned.values())
