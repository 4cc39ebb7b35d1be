"""The file-access policy (paths.FileAccess): what the tool may read from the build.

Named paths are the user's and are taken as given; what is found under them or named by a
map is read only inside a root (the working directory or a named directory), symlinks
resolved; /proc, /sys and /dev never; FIFOs and devices never opened.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sentry_release.errors import ConfigError
from sentry_release.sourcemaps.paths import (
    FileAccess,
    NotRegularFile,
    OutsideRoot,
    ensure_all_named,
    read_regular,
)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "work"
    (root / "dist").mkdir(parents=True)
    (root / "dist" / "app.js").write_text("x")
    outside = tmp_path / "secrets"
    outside.mkdir()
    (outside / "id_rsa").write_text("key")
    os.symlink(outside, root / "dist" / "leak")
    os.symlink(outside / "id_rsa", root / "dist" / "key.js")
    os.symlink(root / "dist" / "app.js", root / "dist" / "alias.js")
    return root


@pytest.mark.parametrize(
    "path", ["dist/app.js", "dist/./app.js", "dist/../dist/app.js", "dist/alias.js"]
)
def test_paths_inside_are_read(tree: Path, path: str) -> None:
    access = FileAccess.for_paths(tree)
    assert access.read(tree / path) == b"x"
    assert access.resolve(tree / path) == (tree / "dist" / "app.js").resolve()


@pytest.mark.parametrize(
    "path",
    [
        "dist/../../secrets/id_rsa",
        "../secrets/id_rsa",
        "dist/leak/id_rsa",  # a directory symlink out
        "dist/key.js",  # a file symlink out
        "/proc/self/environ",
        "/proc/1/environ",
        "/etc/passwd",
        "/dev/zero",
        "/sys/kernel/hostname",
    ],
)
def test_paths_leaving_the_roots_are_never_read(tree: Path, path: str) -> None:
    access = FileAccess.for_paths(tree, ["dist"])
    target = Path(path) if path.startswith("/") else tree / path
    assert access.resolve(target) is None
    with pytest.raises(OutsideRoot):
        access.read(target)


def test_a_named_directory_becomes_a_root_for_what_is_under_it(tree: Path) -> None:
    access = FileAccess.for_paths(tree / "dist", ["../../secrets"])
    assert access.read(tree.parent / "secrets" / "id_rsa") == b"key"
    assert access.resolve(tree.parent / "elsewhere") is None


@pytest.mark.parametrize("path", ["/proc", "/proc/self", "/dev", "/sys/kernel"])
def test_naming_proc_sys_or_dev_is_refused(tree: Path, path: str) -> None:
    with pytest.raises(ConfigError) as info:
        ensure_all_named([path], tree)
    assert "never read" in str(info.value) and info.value.exit_code == 2


def test_named_paths_outside_the_working_directory_are_taken_as_given(tree: Path) -> None:
    (resolved,) = ensure_all_named(["../secrets"], tree)
    assert resolved == (tree.parent / "secrets").resolve()


def test_a_fifo_is_refused_without_being_opened(tree: Path) -> None:
    fifo = tree / "dist" / "pipe.js"
    os.mkfifo(fifo)
    with pytest.raises(NotRegularFile) as info:  # would block for ever if opened for reading
        FileAccess.for_paths(tree).read(fifo)
    assert "FIFO" in str(info.value.strerror)
    with pytest.raises(NotRegularFile):
        read_regular(tree / "dist")


def test_non_utf8_file_names_are_read_like_any_other(tree: Path) -> None:
    raw = os.fsencode(tree / "dist") + b"/caf\xe9.js"
    with open(raw, "wb") as handle:
        handle.write(b"y")
    path = Path(os.fsdecode(raw))
    assert FileAccess.for_paths(tree).read(path) == b"y"
