"""`check_mappings` refuses exactly what the reference decoder below refuses, on random and
mutated `mappings` (hypothesis). The reference is a plain, digit-by-digit transcription of
getsentry/rust-sourcemap 9.3.2 `decoder.rs::decode_regular` and `vlq.rs::parse_vlq_segment_into`:
segments split on `;` and `,`, empty ones skipped; a VLQ whose 14th digit would shift by 65 bits
refused (`checked_shl`: VlqOverflow); a VLQ still continuing at the segment's end refused
(VlqLeftover); 1, 4 or 5 fields (BadSegmentSize); the running source and name indices inside
`sources` and `names` (BadSourceReference, BadNameReference).

Two deliberate differences, both stricter: a byte outside base64 is refused wherever it is
(rust-sourcemap reads it as a continuation digit of value 31, so it refuses it only at a
segment's end, as VlqLeftover, and decodes garbage otherwise); running indices are plain
integers, so one outside the lists is refused even where rust's `as u32` would wrap it back in
(only indices beyond 2**32 can)."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentry_release.sourcemaps import validate
from sentry_release.sourcemaps.validate import check_map, check_mappings, locate
from sentry_release.sourcemaps.vlq import encode_mappings

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def reference_refuses(mappings: str, sources: int, names: int) -> bool:
    """True when the reference decoder rejects the mappings."""
    source = name = 0
    for line in mappings.split(";"):
        for segment in line.split(","):
            if not segment:
                continue
            fields: list[int] = []
            value = shift = 0
            for char in segment:
                digit = B64.find(char) if len(char) == 1 else -1
                if digit < 0:
                    return True  # not a base64 digit
                if shift >= 64:
                    return True  # VlqOverflow
                value += (digit & 31) << shift
                shift += 5
                if not digit & 32:
                    fields.append(-(value >> 1) if value & 1 else value >> 1)
                    value = shift = 0
            if shift:
                return True  # VlqLeftover
            if len(fields) not in (1, 4, 5):
                return True  # BadSegmentSize
            if len(fields) > 1:
                source += fields[1]
                if not 0 <= source < sources:
                    return True  # BadSourceReference
                if len(fields) == 5:
                    name += fields[4]
                    if not 0 <= name < names:
                        return True  # BadNameReference
    return False


def agree(mappings: str, sources: int, names: int) -> None:
    validate.forget_checked()  # the check itself, not a remembered result
    found = check_mappings(mappings, sources, names)
    assert (found is not None) == reference_refuses(mappings, sources, names), (found, mappings)
    assert found == locate(mappings, sources, names)  # the same words as the slow walk


@st.composite
def valid_mappings(draw: st.DrawFn) -> tuple[str, int, int]:
    """Mappings that decode, with their own `sources` and `names` counts (some too short)."""
    lines = []
    sources, names = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    for _ in range(draw(st.integers(0, 6))):
        segments = []
        column = 0
        for _ in range(draw(st.integers(0, 6))):
            column += draw(st.integers(0, 3000))
            kind = draw(st.sampled_from((1, 4, 5)))
            if kind == 1:
                segments.append((column,))
                continue
            fields = (column, draw(st.integers(0, sources - 1)), draw(st.integers(-5, 10**6)))
            fields += (draw(st.integers(0, 10**5)),)
            segments.append(fields if kind == 4 else (*fields, draw(st.integers(0, names - 1))))
        lines.append(segments)
    shrink = draw(st.integers(-3, 1))
    return encode_mappings(lines), max(sources + min(shrink, 0), 0), max(names + shrink, 0)


MUTATION_TEXT = st.sampled_from(
    [*"ABCDEFgh/+,;= é!", "AA", "AAA", "AAAAAA", "g" * 12, "g" * 13, "/" * 13 + "A", "gB", "+D"]
)


@st.composite
def mutated_mappings(draw: st.DrawFn) -> tuple[str, int, int]:
    """A valid mapping with a few characters replaced, inserted or deleted."""
    text, sources, names = draw(valid_mappings())
    chars = list(text)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(chars)))
        action = draw(st.sampled_from(("insert", "replace", "delete")))
        if action != "insert" and at < len(chars):
            del chars[at]
        if action != "delete":
            chars[at:at] = draw(MUTATION_TEXT)
    return "".join(chars), sources, names


RANDOM_TEXT = st.text(alphabet=st.sampled_from(list(B64[:40] + "gh/+,,;;;=é")), max_size=60)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_mappings())
def test_it_agrees_with_the_reference_on_random_mappings(case: tuple[str, int, int]) -> None:
    agree(*case)


@settings(max_examples=70, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_mappings())
def test_it_agrees_with_the_reference_on_mutated_mappings(case: tuple[str, int, int]) -> None:
    agree(*case)


@settings(max_examples=150, deadline=None)
@given(RANDOM_TEXT, st.integers(0, 4), st.integers(0, 4))
def test_it_agrees_with_the_reference_on_random_text(text: str, sources: int, names: int) -> None:
    agree(text, sources, names)


@pytest.mark.slow
@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(valid_mappings(), mutated_mappings()))
def test_a_longer_fuzz_agrees_with_the_reference(case: tuple[str, int, int]) -> None:
    agree(*case)


@pytest.mark.parametrize(
    ("mappings", "sources", "names", "said"),
    [
        ("g" * 12 + "A", 0, 0, None),  # 13 digits: the last shift is 60, inside 64 bits
        ("g" * 13 + "A", 0, 0, "overflows 64 bits"),  # a 14th digit: shift 65
        ("AAAA," + "g" * 13 + "AAAA", 1, 0, "overflows 64 bits"),
        ("AAAA,g,AAAA", 1, 0, "truncated VLQ sequence"),
        ("AAAAAA", 1, 1, "has 6 fields"),
        ("AAAA,AAA", 1, 0, "has 3 fields"),
        ("AAAA,ADAA", 1, 0, "names source -1, but `sources` has 1"),  # negative running index
        ("AAAAA,AAAAD", 1, 1, "names name -1, but `names` has 1"),
        ("AAAA,ACAA,ADAA,ACAA,ACAA", 3, 0, None),  # back down, then up to the last source
        ("AAAA,ACAA,ACAA,ACAA", 3, 0, "names source 3, but `sources` has 3"),
        (";;,,AAAA;;", 1, 0, None),  # empty lines and segments are skipped
        ("AAAA,AA=A", 1, 0, "'=' is not a base64 VLQ digit"),
    ],
)
def test_rust_sourcemap_s_rules(mappings: str, sources: int, names: int, said: str | None) -> None:
    found = check_mappings(mappings, sources, names)
    assert reference_refuses(mappings, sources, names) == (said is not None)
    if said is None:
        assert found is None
    else:
        assert found is not None and said in found


def test_an_indexed_map_s_sections_are_checked_alike() -> None:
    good = {"sources": ["a.js"], "names": ["x"], "mappings": "AAAAA"}
    bad = {"sources": ["a.js"], "names": [], "mappings": "AAAA," + "g" * 13 + "A"}
    section = {"offset": {"line": 0, "column": 0}}
    indexed = {"sections": [{**section, "map": good}, {**section, "map": bad}]}
    found = check_map(indexed)
    assert found is not None and found.startswith("section 1: ") and "overflows" in found


def test_a_large_realistic_map_agrees_segment_by_segment() -> None:
    """Many segments with source and name changes: the fast sums meet the slow walk's."""
    rng = random.Random(25)
    lines, sources, names = [], 60, 900
    for line in range(300):
        column, segments = 0, []
        for _ in range(rng.randint(0, 40)):
            column += rng.randint(1, 30)
            source, original = rng.randrange(sources), rng.randint(0, 5000)
            if rng.random() < 0.5:
                segments.append((column, source, original, rng.randint(0, 80)))
            else:
                segments.append((column, source, original, 2, rng.randrange(names)))
        lines.append(segments)
        del line
    mappings = encode_mappings(lines)
    for limits in ((sources, names), (sources - 1, names), (sources, names - 1)):
        agree(mappings, *limits)


def test_a_map_checked_again_is_not_decoded_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """`run` checks each map up to 4 times; the result is kept by the map's SHA-256 and the
    two counts, so a map with other counts, or other mappings, is checked anew."""
    validate.forget_checked()
    calls: list[tuple[str, int, int]] = []
    real = validate._check

    def counted(data: bytes, mappings: str, sources: int, names: int) -> str | None:
        calls.append((mappings, sources, names))
        return real(data, mappings, sources, names)

    monkeypatch.setattr(validate, "_check", counted)
    assert check_mappings("AAAA,ACAA", 2, 0) is None
    assert check_mappings("AAAA,ACAA", 2, 0) is None
    wrong = check_mappings("AAAA,ACAA", 1, 0)
    assert wrong is not None and "names source 1, but `sources` has 1" in wrong
    assert check_mappings("AAAA,ACAA", 1, 0) == wrong
    assert check_mappings("AAAA,ADAA", 2, 0) is not None
    assert calls == [("AAAA,ACAA", 2, 0), ("AAAA,ACAA", 1, 0), ("AAAA,ADAA", 2, 0)]
    monkeypatch.setattr(validate, "CHECKED_SIZE", 2)
    check_mappings("AAAA", 1, 0)  # a third result: the kept ones are dropped first
    assert check_mappings("AAAA,ACAA", 2, 0) is None
    assert calls[-1] == ("AAAA,ACAA", 2, 0)
