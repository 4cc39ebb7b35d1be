"""ensure_inside: upload paths may not leave the working directory, not even via a symlink."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sentry_release.errors import ConfigError
from sentry_release.paths import ensure_inside


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "work"
    (root / "dist").mkdir(parents=True)
    (root / "dist" / "app.js").write_text("x")
    outside = tmp_path / "secrets"
    outside.mkdir()
    (outside / "id_rsa").write_text("key")
    os.symlink(outside, root / "dist" / "leak")
    os.symlink(root / "dist" / "app.js", root / "dist" / "alias.js")
    return root


@pytest.mark.parametrize(
    "path",
    ["dist", "dist/app.js", "./dist/../dist/app.js", ".", "dist/alias.js", "dist/not-built-yet.js"],
)
def test_paths_inside_are_returned_resolved(tree: Path, path: str) -> None:
    resolved = ensure_inside(path, tree)
    assert resolved.is_absolute()
    assert resolved == tree.resolve() or tree.resolve() in resolved.parents


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("../secrets", "leads outside the working directory"),
        ("dist/../../secrets/id_rsa", "leads outside the working directory"),
        ("/etc/passwd", "leads outside the working directory"),
        ("dist/leak", "leads through a symlink outside the working directory"),
        ("dist/leak/id_rsa", "leads through a symlink outside the working directory"),
    ],
)
def test_paths_leaving_the_root_are_refused(tree: Path, path: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        ensure_inside(path, tree, name="sourcemaps path")
    assert message in str(info.value)
    assert str(info.value).startswith(f"sourcemaps path {path!r}")
    assert info.value.exit_code == 2
