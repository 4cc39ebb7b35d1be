"""The same folder (or file) named twice, spelled differently (`dist ./dist/`), is walked
once: each file is bundled once, under one URL, and the bundle id does not change."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sentry_release.sourcemaps.discover import walk


@pytest.fixture()
def dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "dist"
    root.mkdir()
    (root / "app.js").write_text("x\n")
    (root / "app.js.map").write_text("{}\n")
    monkeypatch.chdir(tmp_path)
    return root


def test_a_folder_named_twice_is_walked_once(dist: Path) -> None:
    once = walk([dist], ["js", "map"])
    twice = walk(
        [dist, Path("./dist/"), Path(os.path.relpath(dist)) / ".." / "dist"], ["js", "map"]
    )
    assert [f.rel for f in twice] == [f.rel for f in once] == ["app.js", "app.js.map"]


def test_a_file_named_twice_is_taken_once(dist: Path) -> None:
    found = walk([dist / "app.js", Path("dist/app.js")], ["js"])
    assert [f.rel for f in found] == ["app.js"]
