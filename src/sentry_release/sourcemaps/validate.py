"""Checks before anything is sent: each problem is one line that names the file and the fix.

`--strict` (the default) turns problems into one SourceMapError (exit 2) before any upload
request; `--no-strict` prints them as warnings and uploads what is usable.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from sentry_release.errors import SourceMapError
from sentry_release.output import Output, human_bytes
from sentry_release.sourcemaps.vlq import decode_vlq


@dataclass(frozen=True)
class Problem:
    """One validation finding; `fatal` ones drop the file under --no-strict."""

    path: str
    message: str
    fatal: bool = True

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def parse_map(path: str, data: bytes) -> tuple[dict[str, Any] | None, Problem | None]:
    """The parsed map, or the problem that makes it unusable."""
    text = data
    if text.lstrip().startswith(b")]}'"):
        text = text.lstrip().split(b"\n", 1)[-1]
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        return None, Problem(path, f"source map is not valid JSON ({exc}); rebuild it")
    if not isinstance(parsed, dict):
        return None, Problem(path, "source map is not a JSON object; rebuild it")
    if "mappings" not in parsed and "sections" not in parsed:
        return None, Problem(
            path, "source map has no `mappings`; enable source maps in the bundler"
        )
    if "sections" in parsed and not _valid_sections(parsed["sections"]):
        return None, Problem(path, "source map has invalid `sections`; rebuild it")
    if "sections" not in parsed and not isinstance(parsed["mappings"], str):
        return None, Problem(path, "source map `mappings` is not a string; rebuild it")
    wrong = check_map(parsed)
    if wrong is not None:
        return None, Problem(path, f"source map {wrong}; rebuild it or leave it out with --ignore")
    return parsed, None


SEGMENT_SIZES = (1, 4, 5)


def check_map(parsed: dict[str, Any]) -> str | None:
    """What is wrong with a map's `mappings` (None: nothing), decoded as Sentry's symbolicator
    decodes it (getsentry/rust-sourcemap `decoder.rs` `decode_regular` and `vlq.rs`: base64
    VLQ digits that end (VlqLeftover) within 64 bits (VlqOverflow), segments of 1, 4 or 5
    fields (BadSegmentSize), source and name indices inside `sources` and `names`
    (BadSourceReference, BadNameReference)); an indexed map's embedded maps alike. Stricter
    in one way: a byte outside base64 is refused anywhere (rust-sourcemap reads it as a
    continuation digit of value 31 and decodes garbage unless it ends a segment)."""
    if "sections" in parsed:
        for number, section in enumerate(parsed["sections"]):
            inner = section.get("map") if isinstance(section, dict) else None
            if isinstance(inner, dict) and isinstance(inner.get("mappings"), str):
                wrong = check_map(inner)
                if wrong is not None:
                    return f"section {number}: {wrong}"
        return None
    sources, names = parsed.get("sources") or [], parsed.get("names") or []
    if not isinstance(sources, list) or not isinstance(names, list):
        return "`sources` and `names` must be lists"
    return check_mappings(parsed["mappings"], len(sources), len(names))


def check_mappings(mappings: str, sources: int, names: int) -> str | None:
    """The first problem of a `mappings` string against `sources` source and `names` name
    entries, with its generated line (1-based) and segment; None when every segment decodes
    and points inside the lists.

    Fast path, C-level passes over the bytes (only a map found wrong is walked segment by
    segment by `locate`, to say where): the alphabet by deleting every valid byte; each
    digit's shape (terminal or continuation) by one translation, which shows a VLQ that does
    not end (a continuation digit before a separator) or has more than 13 digits; the
    fields per segment by counting terminal digits; then only the source deltas that are not
    `A` (zero) and the name deltas are decoded, each distinct one once, and their running
    sums (C `accumulate`) must stay inside the lists."""
    if not mappings.isascii():
        return locate(mappings, sources, names)
    data = mappings.encode("ascii")
    key = (hashlib.sha256(data).digest(), sources, names)
    if key in _CHECKED:  # `run` checks a map up to 4 times: inject's check and plan, collect
        return _CHECKED[key]
    if len(_CHECKED) >= CHECKED_SIZE:
        _CHECKED.clear()
    _CHECKED[key] = found = _check(data, mappings, sources, names)
    return found


def forget_checked() -> None:
    """Drop the kept results of `check_mappings` (tests)."""
    _CHECKED.clear()


def _check(data: bytes, mappings: str, sources: int, names: int) -> str | None:
    """`check_mappings` on the ASCII bytes of `mappings`."""
    if data.translate(None, _VALID):
        return locate(mappings, sources, names)  # a byte outside base64 and `,;`
    counts = _field_counts(data.translate(_SHAPE))
    if counts is None:
        return locate(mappings, sources, names)
    data = b"," + data  # every segment starts after a separator
    if _FOUR in counts and not _inside(_SOURCE_DELTA, data, sources):
        return locate(mappings, sources, names)
    if _FIVE in counts and not _inside(_NAME_DELTA, data, names):
        return locate(mappings, sources, names)
    return None


def _field_counts(shape: bytes) -> bytes | None:
    """`shape` (`t` a terminal digit, `c` a continuation digit, `,` a separator) with one `t`
    per field, or None unless every VLQ ends (its last digit has no continuation bit:
    VlqLeftover) within 13 digits (a 14th would shift by 65 bits: VlqOverflow) and every
    segment has 1, 4 or 5 fields (BadSegmentSize)."""
    if b"c," in shape or shape.endswith(b"c") or _OVERFLOW in shape:
        return None
    counts = shape.translate(None, b"c")
    runs = b"," + counts + b","  # each segment between two commas
    if b",tt," in runs or b",ttt," in runs or b"tttttt" in runs:
        return None
    return counts


def _inside(pattern: re.Pattern[bytes], data: bytes, limit: int) -> bool:
    """The running index stays in `0 <= index < limit` at every segment that names one;
    `pattern` captures the deltas that may not be zero, in order."""
    if limit < 1:
        return False  # a segment names index 0 of an empty list
    deltas = pattern.findall(data)
    if not deltas:
        return True
    values = dict(_ONE_DIGIT)
    for text in set(deltas).difference(values):
        value = int(text.translate(_BASE32)[::-1], 32)  # little-endian base 32, in C
        values[text] = -(value >> 1) if value & 1 else value >> 1
    running = list(accumulate(map(values.__getitem__, deltas)))
    return min(running) >= 0 and max(running) < limit


_TERMINAL = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"  # digits 0-31: no continuation bit
_CONTINUE = b"ghijklmnopqrstuvwxyz0123456789+/"  # digits 32-63
_VALID = _TERMINAL + _CONTINUE + b",;"
_SHAPE = bytes.maketrans(_TERMINAL + _CONTINUE + b";", b"t" * 32 + b"c" * 32 + b",")
_BASE32 = bytes.maketrans(_TERMINAL + _CONTINUE, b"0123456789abcdefghijklmnopqrstuv" * 2)
_OVERFLOW = b"c" * 13  # a 14th digit would shift by 65 bits
_FOUR, _FIVE = b"tttt", b"ttttt"
_VLQ = rb"[g-z0-9+/]*+[A-Za-f]"  # possessive: the two classes never overlap
# After a separator: the first field, then the second (source) unless it is `A` (zero).
_SOURCE_DELTA = re.compile(rb"[,;]" + _VLQ + rb"(?!A)(" + _VLQ + rb")")
# After a separator: four fields, then the fifth (name) unless it is `A`.
_NAME_DELTA = re.compile(rb"[,;]" + _VLQ * 4 + rb"(?!A)(" + _VLQ + rb")")
CHECKED_SIZE = 4096  # results kept, by the SHA-256 of `mappings` and the two counts
_CHECKED: dict[tuple[bytes, int, int], str | None] = {}
_ONE_DIGIT = {bytes([c]): (-(v >> 1) if v & 1 else v >> 1) for v, c in enumerate(_TERMINAL)}


def locate(mappings: str, sources: int, names: int) -> str | None:
    """`check_mappings`' slow path: walk the segments to name the first wrong one."""
    source = name = 0
    for line_number, line_text in enumerate(mappings.split(";"), start=1):
        for segment in line_text.split(","):
            if not segment:
                continue
            where = f"`mappings` line {line_number} segment {segment[:20]!r}"
            try:
                fields = decode_vlq(segment)
            except ValueError as exc:
                return f"{where}: {exc}"
            if len(fields) not in SEGMENT_SIZES:
                return f"{where} has {len(fields)} fields (1, 4 or 5 expected)"
            if len(fields) == 1:
                continue
            source += fields[1]
            if not 0 <= source < sources:
                return f"{where} names source {source}, but `sources` has {sources}"
            if len(fields) == 5:
                name += fields[4]
                if not 0 <= name < names:
                    return f"{where} names name {name}, but `names` has {names}"
    return None


def _valid_sections(sections: object) -> bool:
    """An indexed map's sections: objects whose `offset` has integer `line` and `column`."""
    if not isinstance(sections, list):
        return False
    for section in sections:
        offset = section.get("offset") if isinstance(section, dict) else None
        if not isinstance(offset, dict):
            return False
        for key in ("line", "column"):
            value = offset.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                return False
    return True


def missing_map(path: str, reference: str) -> Problem:
    """A bundle names a map that is not among the uploaded files."""
    return Problem(
        path,
        f"references source map {reference!r}, which is not among the files to upload; "
        "add its directory or fix the sourceMappingURL",
    )


def too_large(path: str, size: int, limit: int) -> Problem:
    """A file over the server's maxFileSize."""
    return Problem(
        path,
        f"is {human_bytes(size)}, over Sentry's limit of {human_bytes(limit)}; "
        "split the bundle or exclude it with --ignore",
    )


def report(problems: list[Problem], *, strict: bool, out: Output) -> list[str]:
    """Raise (strict) or warn; returns the warning lines."""
    if not problems:
        return []
    if strict:
        first = problems[0]
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        for problem in problems[1:]:
            out.info(f"  {problem}")
        raise SourceMapError(f"{first}{more}; or pass --no-strict to upload anyway")
    lines = [str(p) for p in problems]
    for line in lines:
        out.warn(line)
    return lines
