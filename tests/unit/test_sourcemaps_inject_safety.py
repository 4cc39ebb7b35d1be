"""Inject under crashes and odd prologues (#13 items 4 and 8).

Crash safety is tested at deterministic kill points: every write of inject fails in turn
(`os.replace` raising at write N, or the process SIGKILLed there), then a plain re-run must
leave every file byte-identical to one uninterrupted inject, so every map decodes to the
right positions, and no temporary file may be left behind.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sentry_release.errors import SourceMapError
from sentry_release.output import Output
from sentry_release.sourcemaps.discover import walk
from sentry_release.sourcemaps.inject import inject_paths, inject_regular, locked, snippet
from sentry_release.sourcemaps.paths import FileAccess
from sentry_release.sourcemaps.vlq import decode_mappings, encode_mappings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sourcemaps"
ID = "11111111-2222-5333-8444-555555555555"


class Killed(BaseException):
    """Stands in for the process dying at a write."""


def quiet() -> Output:
    return Output(stdout=io.StringIO(), stderr=io.StringIO(), is_tty=False)


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def inject(directory: Path) -> None:
    inject_paths((directory,), dry_run=False, out=quiet(), inside=directory.parent)


@pytest.fixture
def reference(tmp_path: Path) -> dict[str, bytes]:
    """What one uninterrupted inject makes of the fixtures."""
    clean = tmp_path / "clean" / "dist"
    shutil.copytree(FIXTURES / "dist", clean)
    inject(clean)
    return snapshot(clean)


def count_writes(tmp_path: Path) -> int:
    probe = tmp_path / "probe" / "dist"
    shutil.copytree(FIXTURES / "dist", probe)
    calls = 0
    real = os.replace

    def counting(src: str, dst: str) -> None:
        nonlocal calls
        calls += 1
        real(src, dst)

    os.replace = counting  # type: ignore[assignment]
    try:
        inject(probe)
    finally:
        os.replace = real
    return calls


def test_a_crash_at_any_write_is_repaired_by_the_next_run(
    tmp_path: Path, reference: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    writes = count_writes(tmp_path)
    assert writes >= 6
    real = os.replace
    for kill_at in range(1, writes + 1):
        dist = tmp_path / f"run{kill_at}" / "dist"
        shutil.copytree(FIXTURES / "dist", dist)
        calls = 0

        def dying(src: str, dst: str, kill_at: int = kill_at) -> None:
            nonlocal calls
            calls += 1
            if calls == kill_at:
                raise Killed
            real(src, dst)

        monkeypatch.setattr(os, "replace", dying)
        with pytest.raises(Killed):
            inject(dist)
        monkeypatch.setattr(os, "replace", real)
        inject(dist)
        assert snapshot(dist) == reference, f"killed at write {kill_at}"


KILL_SCRIPT = """
import io, os, signal, sys
from pathlib import Path
from sentry_release.output import Output
from sentry_release.sourcemaps.inject import inject_paths
kill_at, calls, real = int(sys.argv[2]), [0], os.replace
def dying(src, dst):
    calls[0] += 1
    if calls[0] == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    real(src, dst)
os.replace = dying
dist = Path(sys.argv[1])
out = Output(stdout=io.StringIO(), stderr=io.StringIO(), is_tty=False)
inject_paths((dist,), dry_run=False, out=out, inside=dist.parent)
"""


@pytest.mark.parametrize("kill_at", [1, 2, 5])
def test_a_hard_kill_leaves_no_temp_file_after_the_next_run(
    tmp_path: Path, reference: dict[str, bytes], kill_at: int
) -> None:
    dist = tmp_path / "work" / "dist"
    shutil.copytree(FIXTURES / "dist", dist)
    killed = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, str(dist), str(kill_at)], capture_output=True
    )
    assert killed.returncode == -9, killed.stderr
    inject(dist)
    assert snapshot(dist) == reference


# --- prologue: BOM, directives, hashbang -------------------------------------------------------


@pytest.mark.parametrize(
    ("prologue", "lines"),
    [
        ('\ufeff"use strict";', 0),
        ('\ufeff"use strict"\n', 0),
        ("\ufeff'use strict';\n", 1),
        ('"use strict"\n', 0),
        ('#!/usr/bin/env node\n"use strict"\n', 1),
        ('"use client";\n"use strict";\n', 1),
    ],
    ids=["bom", "bom, no semicolon", "bom, single quotes", "no semicolon", "hashbang", "two"],
)
def test_snippet_goes_after_bom_hashbang_and_directives(prologue: str, lines: int) -> None:
    body = "var a=1;\nfoo(a);\n"
    text, (line, _column, added) = inject_regular(prologue + body, ID)
    head, rest = text.split(snippet(ID), 1)
    assert head.rstrip("\n") == prologue.rstrip("\n"), "the prologue stays first and whole"
    assert "var a=1;" in rest and added == 2
    assert line == lines


def test_maps_of_a_bom_bundle_still_point_at_the_right_code(tmp_path: Path) -> None:
    dist = tmp_path / "work" / "dist"
    dist.mkdir(parents=True)
    code = ['"use strict";', "var total=add(1,2);", "render(total);"]
    js = "\ufeff" + "\n".join(code) + "\n//# sourceMappingURL=app.js.map\n"
    # one segment at the start of each code line -> source line i, column 0
    mappings = encode_mappings([[(0, 0, i, 0)] for i in range(len(code))])
    source_map = {"version": 3, "sources": ["app.ts"], "names": [], "mappings": mappings}
    (dist / "app.js").write_text(js, encoding="utf-8")
    (dist / "app.js.map").write_text(json.dumps(source_map), encoding="utf-8")
    inject(dist)
    text = (dist / "app.js").read_text(encoding="utf-8")
    assert text.startswith('\ufeff"use strict";\n!function')
    lines = text.lstrip("\ufeff").split("\n")
    decoded = decode_mappings(json.loads((dist / "app.js.map").read_text())["mappings"])
    for generated_line, segments in enumerate(decoded):
        for segment in segments:
            # the generated text at each mapped position is the code line it came from
            assert lines[generated_line][segment[0] :].startswith(code[segment[2]][:8])


# --- lock and temp files --------------------------------------------------------------------------


def test_a_second_inject_of_the_same_folder_waits_then_gives_up_in_one_line(
    tmp_path: Path,
) -> None:
    dist = tmp_path / "work" / "dist"
    shutil.copytree(FIXTURES / "dist", dist)
    with locked([dist]):
        with pytest.raises(SourceMapError) as info, locked([dist / "."], wait=0.05):
            pass
        assert "another inject has held" in str(info.value)
        assert info.value.exit_code == 2
    with locked([dist], wait=0.05):  # released on exit
        pass


def test_temp_files_are_never_discovered_and_swept_by_the_next_inject(
    tmp_path: Path, reference: dict[str, bytes]
) -> None:
    dist = tmp_path / "work" / "dist"
    shutil.copytree(FIXTURES / "dist", dist)
    leftover = dist / ".app.min.js.sentry-release-abcd1234.tmp"
    leftover.write_text("half a bundle")
    other = dist / ".keep.tmp"  # not ours: left alone
    other.write_text("x")
    found = walk([dist, leftover], ["js", "map", "tmp"], access=FileAccess.for_paths(dist.parent))
    assert leftover not in {f.path for f in found}
    inject(dist)
    assert not leftover.exists() and other.exists()
    other.unlink()
    assert snapshot(dist) == reference
