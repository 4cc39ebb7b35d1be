"""A build file larger than the memory left is refused by its size with one line naming it,
and a MemoryError met on a file names it too (exit 2, #23): `sourcemaps/memory.py`."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from sentry_release.config.settings import Settings, SourceMapOptions
from sentry_release.errors import SourceMapError
from sentry_release.runtime import failure_of
from sentry_release.sourcemaps import memory
from sentry_release.sourcemaps.bundle import Deferred
from sentry_release.sourcemaps.collect import collect
from sentry_release.sourcemaps.memory import (
    FLOOR,
    PARSE_FACTOR,
    Headroom,
    TooBigForMemory,
    cgroup_left,
    ensure_fits,
    left,
    needed,
    out_of_memory,
    refusal,
    smallest,
)
from sentry_release.sourcemaps.paths import read_regular

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sourcemaps"
MiB = 1024**2


def test_the_smallest_known_headroom_wins_and_names_its_limit() -> None:
    room = smallest(
        {"available memory": 8 * MiB, "RLIMIT_AS": 3 * MiB, "RLIMIT_DATA": None, "cgroup": 5}
    )
    assert room == Headroom(5, "cgroup")
    assert smallest({"available memory": 8 * MiB, "RLIMIT_AS": 3 * MiB}) == Headroom(
        3 * MiB, "RLIMIT_AS"
    )


def test_no_known_limit_is_no_headroom_and_an_overdrawn_one_is_zero() -> None:
    assert smallest({}) is None
    assert smallest({"RLIMIT_AS": None, "available memory": None}) is None
    assert smallest({"RLIMIT_AS": -10, "available memory": 4}) == Headroom(0, "RLIMIT_AS")


def test_left_needs_both_numbers() -> None:
    assert left(100, 30) == 70
    assert left(None, 30) is None
    assert left(100, None) is None
    assert left(30, 100) == -70


def test_a_need_of_exactly_the_headroom_fits_one_byte_more_does_not() -> None:
    size = 100 * MiB
    assert needed(size) == size * PARSE_FACTOR
    exact = Headroom(size * PARSE_FACTOR, "RLIMIT_AS")
    assert refusal("dist/big.js.map", size, exact) is None
    short = Headroom(size * PARSE_FACTOR - 1, "RLIMIT_AS")
    line = refusal("dist/big.js.map", size, short)
    assert line is not None
    assert line.startswith("is 100.0 MiB; checking it needs about 800.0 MiB of memory")
    assert "can use 800.0 MiB more (RLIMIT_AS)" in line
    assert line.endswith("exclude it with --ignore, or run with more memory")


def test_an_unknown_headroom_refuses_nothing() -> None:
    assert refusal("dist/big.js.map", 10**12, None) is None


def test_the_factor_is_the_callers() -> None:
    room = Headroom(300, "available memory")
    assert refusal("x", 100, room, factor=3) is None
    assert refusal("x", 100, room, factor=4) is not None


def test_a_small_need_never_looks_at_the_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    def looked() -> Headroom:
        raise AssertionError("headroom read for a small file")

    monkeypatch.setattr(memory, "headroom", looked)
    ensure_fits("small.js", FLOOR // PARSE_FACTOR - 1)
    monkeypatch.setattr(memory, "headroom", lambda: Headroom(0, "RLIMIT_AS"))
    with pytest.raises(TooBigForMemory) as raised:
        ensure_fits("big.js", FLOOR // PARSE_FACTOR + 1)
    assert raised.value.filename == "big.js"
    assert "(RLIMIT_AS)" in str(raised.value.strerror)


def test_cgroup_v2_limit_minus_working_set(tmp_path: Path) -> None:
    (tmp_path / "memory.max").write_text("1073741824\n")
    (tmp_path / "memory.current").write_text("536870912\n")
    (tmp_path / "memory.stat").write_text("anon 400000000\ninactive_file 100000000\n")
    assert cgroup_left(str(tmp_path)) == 2**30 - 2**29 + 100_000_000
    (tmp_path / "memory.max").write_text("max\n")
    assert cgroup_left(str(tmp_path)) is None


def test_cgroup_v1_limit_minus_working_set(tmp_path: Path) -> None:
    v1 = tmp_path / "memory"
    v1.mkdir()
    (v1 / "memory.limit_in_bytes").write_text("2000\n")
    (v1 / "memory.usage_in_bytes").write_text("1500\n")
    (v1 / "memory.stat").write_text("cache 9\ntotal_inactive_file 300\n")
    assert cgroup_left(str(tmp_path)) == 800
    assert cgroup_left(str(tmp_path / "none")) is None


def test_the_process_headroom_is_known_on_linux() -> None:
    room = memory.headroom()
    if Path("/proc/meminfo").exists():
        assert room is not None and room.bytes > 0


def settings_for(root: Path, *, strict: bool = True) -> Settings:
    return Settings(
        working_directory=root,
        sourcemaps=SourceMapOptions(paths=(Path("dist"),), strict=strict),
    )


def big_build(root: Path) -> Path:
    """The fixture build plus a sparse map whose check needs more than FLOOR."""
    shutil.copytree(FIXTURES / "dist", root / "dist")
    big = root / "dist" / "big.js.map"
    with open(big, "wb") as sparse:
        sparse.truncate(FLOOR // PARSE_FACTOR + MiB)
    return big


def test_read_regular_refuses_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = big_build(tmp_path)
    monkeypatch.setattr(memory, "headroom", lambda: Headroom(FLOOR, "the cgroup's memory limit"))
    with pytest.raises(TooBigForMemory):
        read_regular(big)
    assert read_regular(big, limit=4) == b"\0" * 4  # a bounded read is not refused
    monkeypatch.setattr(memory, "headroom", lambda: Headroom(FLOOR * 2, "RLIMIT_AS"))
    assert len(read_regular(big)) == big.stat().st_size


def test_collect_reports_the_file_as_a_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = big_build(tmp_path)
    monkeypatch.setattr(memory, "headroom", lambda: Headroom(10 * MiB, "RLIMIT_AS"))
    found = collect(settings_for(tmp_path, strict=False))
    assert [p.path for p in found.problems] == [str(big)]
    assert "can use 10.0 MiB more (RLIMIT_AS)" in found.problems[0].message
    assert str(big) not in [f.local_path for f in found.files]
    assert found.files  # the rest is still uploaded under --no-strict


def test_a_memory_error_on_a_file_is_a_problem_naming_it(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "dist", tmp_path / "dist")
    victim = tmp_path / "dist" / "app.min.js.map"

    def read(path: Path) -> bytes:
        if path == victim:
            raise MemoryError
        return read_regular(path)

    found = collect(settings_for(tmp_path), read=read)
    assert [(p.path, p.message) for p in found.problems if p.path == str(victim)] == [
        (str(victim), out_of_memory(victim.stat().st_size))
    ]


def test_a_memory_error_while_parsing_is_a_problem_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sentry_release.sourcemaps import collect as collect_module

    shutil.copytree(FIXTURES / "dist", tmp_path / "dist")

    def parse(path: str, data: bytes) -> object:
        raise MemoryError

    monkeypatch.setattr(collect_module, "parse_map", parse)
    found = collect(settings_for(tmp_path))
    maps = {str(p) for p in (tmp_path / "dist").glob("*.map")}
    named = {p.path for p in found.problems if "ran out of memory" in p.message}
    inline = {str(tmp_path / "dist" / "inline-plain.min.js") + " (inline source map)"}
    assert named == maps | inline


def test_a_memory_error_on_reading_again_is_exit_2_naming_the_file() -> None:
    def produce() -> bytes:
        raise MemoryError

    with pytest.raises(SourceMapError) as raised:
        Deferred(3, "0" * 40, produce, "dist/app.js.map").load()
    assert str(raised.value).startswith("dist/app.js.map: ran out of memory")
    failure = failure_of(raised.value)
    assert failure.code == 2 and "internal error" not in failure.message


def test_inject_names_a_file_too_big_for_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sentry_release.output import Output
    from sentry_release.sourcemaps import inject

    big = big_build(tmp_path)
    before = {p.name: p.read_bytes() for p in (tmp_path / "dist").iterdir() if p != big}
    monkeypatch.setattr(memory, "headroom", lambda: Headroom(10 * MiB, "RLIMIT_AS"))
    out = Output(stdout=io.StringIO(), stderr=io.StringIO(), is_tty=False)
    with pytest.raises(SourceMapError, match=r"big\.js\.map: is 9\.0 MiB; checking it needs"):
        inject.inject_paths((tmp_path / "dist",), dry_run=False, out=out, inside=tmp_path)
    after = {p.name: p.read_bytes() for p in (tmp_path / "dist").iterdir() if p != big}
    assert after == before  # nothing injected


def test_inject_names_the_file_a_memory_error_met(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sentry_release.output import Output
    from sentry_release.sourcemaps import inject

    shutil.copytree(FIXTURES / "dist", tmp_path / "dist")

    def parse(path: str, data: bytes) -> object:
        raise MemoryError

    monkeypatch.setattr(inject, "parse_map", parse)
    out = Output(stdout=io.StringIO(), stderr=io.StringIO(), is_tty=False)
    with pytest.raises(SourceMapError, match=r"\.map: is .* and ran out of memory"):
        inject.inject_paths((tmp_path / "dist",), dry_run=True, out=out, inside=tmp_path)


def test_a_source_too_big_for_memory_is_left_out_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sentry_release.sourcemaps.paths import FileAccess

    source = tmp_path / "huge.ts"
    with open(source, "wb") as sparse:
        sparse.truncate(FLOOR // PARSE_FACTOR + MiB)
    access = FileAccess.for_paths(tmp_path)
    monkeypatch.setattr(memory, "headroom", lambda: Headroom(MiB, "RLIMIT_AS"))
    assert access.source_text(source) == (None, "is larger than the memory left allows")
    monkeypatch.setattr(memory, "headroom", lambda: None)
    text, why = access.source_text(source)
    assert why is None and text is not None and len(text) == source.stat().st_size
