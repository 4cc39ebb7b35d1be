"""sourcemaps/portable.py (#27): the POSIX and the Windows branch of the folder lock, mode and
owner keeping, os.replace onto a file another program holds, O_NONBLOCK; and the package
imports without fcntl."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentry_release.errors import SourceMapError
from sentry_release.sourcemaps import portable
from sentry_release.sourcemaps.inject import atomic_write, locked
from sentry_release.sourcemaps.paths import read_regular
from sentry_release.sourcemaps.portable import FolderLock, lock_file
from tests.windows_semantics.fake_msvcrt import make


def test_the_pipeline_imports_with_fcntl_blocked() -> None:
    """`run` (the action's whole job) loads on a Python without fcntl: Windows."""
    code = (
        "import sys\n"
        "sys.modules['fcntl'] = None  # `import fcntl` now raises ImportError\n"
        "import sentry_release.steps.pipeline, sentry_release.action, sentry_release.cli\n"
        "import sentry_release.sourcemaps.inject, sentry_release.sourcemaps.portable\n"
        "print('fcntl' in sys.modules and sys.modules['fcntl'] is None)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"  # (the whole test mode: tests/windows_semantics/)


@pytest.fixture(params=["posix", "windows"])
def branch(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[str]:
    """The lock's POSIX branch (flock), or its Windows branch (no fcntl: msvcrt.locking, the
    lock file in the temp folder)."""
    if request.param == "windows":
        monkeypatch.setitem(sys.modules, "msvcrt", make(fcntl))
        monkeypatch.setitem(sys.modules, "fcntl", None)  # type: ignore[arg-type]
        temp = tmp_path / "temp"
        temp.mkdir()
        monkeypatch.setattr("tempfile.tempdir", str(temp))
    yield request.param


def test_a_folder_lock_is_exclusive_and_leaves_nothing_in_the_folder(
    branch: str, tmp_path: Path
) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    first, second = FolderLock(dist), FolderLock(dist)
    assert first.try_acquire()
    assert not second.try_acquire()
    first.release()
    assert second.try_acquire()
    second.release()
    second.release()  # twice is harmless
    assert list(dist.iterdir()) == []
    if branch == "windows":
        assert lock_file(dist).parent == tmp_path / "temp" and lock_file(dist).exists()


def test_a_second_inject_waits_then_gives_up_on_either_branch(branch: str, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    with (
        locked([dist]),
        pytest.raises(SourceMapError, match="another inject has held"),
        locked([dist / "."], wait=0.05),
    ):
        pass
    with locked([dist], wait=0.05):  # released on exit
        pass


def test_the_lock_file_is_one_per_folder_however_spelled(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    assert lock_file(dist) == lock_file(tmp_path / "x" / ".." / "dist")
    assert lock_file(dist) != lock_file(tmp_path)


def test_mode_is_kept_without_fchmod_fchown_or_euid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "app.js"
    target.write_text("old")
    target.chmod(0o640)
    for name in ("fchmod", "fchown", "geteuid", "getegid"):
        monkeypatch.delattr(os, name)
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["app.js"]


SHARING = PermissionError(
    errno.EACCES, "The process cannot access the file because it is being used by another process"
)


def test_a_target_held_open_a_moment_is_replaced_once_it_is_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows refuses os.replace onto a file another process has open (an editor, a dev
    server, a virus scanner): tried again with waits of 0.05 s doubling."""
    target = tmp_path / "app.js"
    target.write_text("old")
    real, refusals, waits = os.replace, [SHARING, SHARING], []

    def held(src: str, dst: str) -> None:
        if refusals:
            raise refusals.pop()
        real(src, dst)

    monkeypatch.setattr(os, "replace", held)
    monkeypatch.setattr(portable.time, "sleep", waits.append)
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new" and waits == [0.05, 0.1]
    assert [p.name for p in tmp_path.iterdir()] == ["app.js"]


def test_a_target_held_open_for_good_is_one_line_and_left_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "app.js.map"
    target.write_text(json.dumps({"version": 3}))
    before = target.read_bytes()
    waits: list[float] = []

    def held(src: str, dst: str) -> None:
        raise SHARING

    monkeypatch.setattr(os, "replace", held)
    monkeypatch.setattr(portable.time, "sleep", waits.append)
    with pytest.raises(SourceMapError) as info:
        atomic_write(target, b"{}")
    message = str(info.value)
    assert "\n" not in message and str(target) in message
    assert "another program may hold it open" in message
    assert waits == [0.05, 0.1, 0.2, 0.4, 0.8]
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["app.js.map"]  # the temp file is gone


def test_read_regular_without_o_nonblock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.js").write_bytes(b"x")
    monkeypatch.delattr(os, "O_NONBLOCK")
    assert portable.read_flags() & ~(os.O_NOCTTY | os.O_CLOEXEC) == os.O_RDONLY
    assert read_regular(tmp_path / "a.js") == b"x"


def test_files_are_read_in_binary_mode_where_the_platform_has_a_text_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows' os.open is text mode without O_BINARY: CRLF would be read as LF and Ctrl-Z as
    the end of a bundle. The flag is asked for wherever it exists."""
    monkeypatch.setattr(os, "O_BINARY", 0x8000, raising=False)
    opened: list[int] = []
    real = os.open

    def recording(path: str, flags: int, *args: int) -> int:
        opened.append(flags)
        return real(path, flags & ~0x8000, *args)

    monkeypatch.setattr(os, "open", recording)
    (tmp_path / "a.js").write_bytes(b"a\r\nb\x1ac")
    assert read_regular(tmp_path / "a.js") == b"a\r\nb\x1ac"
    assert opened and all(flags & 0x8000 for flags in opened)
