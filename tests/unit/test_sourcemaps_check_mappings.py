"""`check_mappings`: the fast path (C-level passes over the bytes, index deltas as prefix sums)
agrees with the segment-by-segment walk, and names where a map is wrong."""

from __future__ import annotations

import random

import pytest

from sentry_release.sourcemaps.validate import check_mappings, locate
from sentry_release.sourcemaps.vlq import encode_mappings


def random_mappings(rng: random.Random, lines: int, sources: int, names: int) -> str:
    out = []
    for line in range(lines):
        col, segs = 0, []
        for _ in range(rng.randint(0, 12)):
            col += rng.randint(1, 40)
            kind = rng.choice((1, 4, 5))
            if kind == 1:
                segs.append((col,))
            elif kind == 4:
                segs.append((col, rng.randrange(sources), line, rng.randint(0, 60)))
            else:
                segs.append((col, rng.randrange(sources), line, 3, rng.randrange(names)))
        out.append(segs)
    return encode_mappings(out)


@pytest.mark.parametrize("seed", range(30))
def test_the_fast_path_agrees_with_the_walk(seed: int) -> None:
    rng = random.Random(seed)
    sources, names = rng.randint(1, 4), rng.randint(1, 6)
    mappings = random_mappings(rng, 40, sources, names)
    assert check_mappings(mappings, sources, names) is None
    for fewer_sources, fewer_names in ((sources - 1, names), (sources, names - 1)):
        expected = locate(mappings, fewer_sources, fewer_names)
        assert check_mappings(mappings, fewer_sources, fewer_names) == expected


@pytest.mark.parametrize(
    ("mappings", "sources", "names", "said"),
    [
        ("AAAA;;ACAA", 1, 0, "line 3 segment 'ACAA' names source 1, but `sources` has 1"),
        ("AAAAC", 1, 1, "names name 1, but `names` has 1"),
        ("AAAA", 0, 0, "names source 0, but `sources` has 0"),
        ("AAAAA", 1, 0, "names name 0, but `names` has 0"),
        ("AAAA,AD", 1, 0, "segment 'AD' has 2 fields (1, 4 or 5 expected)"),
        ("AAAA,g", 1, 0, "segment 'g': truncated VLQ sequence"),
        ("A,C;E", 0, 0, None),  # columns only: no source needed
    ],
)
def test_what_is_wrong_is_named(mappings: str, sources: int, names: int, said: str | None) -> None:
    found = check_mappings(mappings, sources, names)
    if said is None:
        assert found is None
    else:
        assert found is not None and said in found
