"""The mappings codec and the shift for inserted lines."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from sentry_release.errors import SourceMapError
from sentry_release.sourcemaps.discover import MapRef
from sentry_release.sourcemaps.inject import plan_file
from sentry_release.sourcemaps.vlq import (
    decode_mappings,
    decode_vlq,
    encode_mappings,
    encode_vlq,
    shift_mappings,
)


@pytest.mark.parametrize("values", [[0], [1, -1], [15, 16, -16, 1000000, -1000000], [0, 0, 0, 0]])
def test_vlq_round_trip(values: list[int]) -> None:
    assert decode_vlq(encode_vlq(values)) == values


def test_known_encoding() -> None:
    # "AAAA": the all-zero segment; "SAASA" (terser): col 9, src 0, line 0, col 9, name 0
    assert decode_vlq("AAAA") == [0, 0, 0, 0]
    assert decode_vlq("SAASA") == [9, 0, 0, 9, 0]
    with pytest.raises(ValueError):
        decode_vlq("g")


def test_mappings_round_trip_on_random_segments() -> None:
    rng = random.Random(7)
    lines = []
    for _ in range(50):
        col = 0
        line = []
        for _ in range(rng.randint(0, 8)):
            col += rng.randint(0, 40)
            line.append(
                (col, rng.randint(0, 3), rng.randint(0, 99), rng.randint(0, 80), rng.randint(0, 9))
            )
        lines.append(line)
    assert decode_mappings(encode_mappings(lines)) == lines


def test_shift_at_line_start_prefixes_semicolons() -> None:
    assert shift_mappings("AAAA;AACA", 0, 0, 2) == ";;AAAA;AACA"


def test_shift_mid_line_splits_the_line() -> None:
    lines = [[(0, 0, 0, 0), (13, 0, 2, 0)], [(4, 0, 3, 1)]]
    shifted = decode_mappings(shift_mappings(encode_mappings(lines), 0, 13, 2))
    assert shifted == [[(0, 0, 0, 0)], [], [(0, 0, 2, 0)], [(4, 0, 3, 1)]]


@pytest.mark.parametrize("text", [" ", "A=", "é", "+"])
def test_a_character_outside_base64_or_a_cut_segment_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        decode_vlq(text)


def test_unreadable_mappings_that_must_be_shifted_are_one_clear_error(tmp_path: Path) -> None:
    # Found by the fuzz test: a shebang moves the debug ID line below it, so the mappings
    # must be shifted; unreadable ones were a KeyError / ValueError traceback.
    js = b"#!/usr/bin/env node\nconsole.log(1)\n//# sourceMappingURL=app.js.map\n"
    ref = MapRef(reference="app.js.map", url=str(tmp_path / "app.js.map"))
    with pytest.raises(SourceMapError, match="`mappings` line 1 .*--ignore"):
        plan_file(tmp_path / "app.js", js, ref, b'{"version":3,"mappings":"+ "}')
