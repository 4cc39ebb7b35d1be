"""Checks before anything is sent: each problem is one line that names the file and the fix.

`--strict` (the default) turns problems into one SourceMapError (exit 2) before any upload
request; `--no-strict` prints them as warnings and uploads what is usable.
"""

from __future__ import annotations

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
    decodes it (getsentry/rust-sourcemap `decoder.rs`: a base64 VLQ digit, segments of 1, 4
    or 5 fields (BadSegmentSize), source and name indices inside `sources` and `names`
    (BadSourceReference, BadNameReference)); an indexed map's embedded maps alike."""
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
    and points inside the lists. Fast path: each distinct segment is decoded once and the
    running indices are prefix sums taken in C (`accumulate`), a chunk of lines at a time
    (bounded memory); only a map found wrong is walked segment by segment, to say where."""
    decoded: set[str] = set()
    steps: tuple[dict[str, int], dict[str, int]] = ({}, {})  # source and name deltas
    state = [0, 0]
    has_source = has_name = False
    start = 0
    while start < len(mappings):
        end = mappings.find(";", start + CHUNK)
        end = len(mappings) if end < 0 else end
        segments = _SEGMENT.findall(mappings, start, end)
        start = end + 1
        distinct = set(segments)
        for segment in distinct - decoded:
            try:
                fields = decode_vlq(segment)
            except ValueError:
                return locate(mappings, sources, names)
            if len(fields) not in SEGMENT_SIZES:
                return locate(mappings, sources, names)
            steps[0][segment] = fields[1] if len(fields) > 1 else 0
            steps[1][segment] = fields[4] if len(fields) == 5 else 0
            has_source = has_source or len(fields) > 1
            has_name = has_name or len(fields) == 5
            decoded.add(segment)
        for i, (step, limit) in enumerate(zip(steps, (sources, names), strict=True)):
            if not any(step[s] for s in distinct):
                continue  # the index stays where it was (one source: the common case)
            values = list(accumulate(map(step.__getitem__, segments), initial=state[i]))
            state[i] = values[-1]
            if min(values) < 0 or max(values) >= max(limit, 1):
                return locate(mappings, sources, names)
    if (has_source and sources == 0) or (has_name and names == 0):
        return locate(mappings, sources, names)
    return None


CHUNK = 1 << 20  # characters of `mappings` checked at a time
_SEGMENT = re.compile(r"[^,;]+")


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
