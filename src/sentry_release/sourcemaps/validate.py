"""Checks before anything is sent: each problem is one line that names the file and the fix.

`--strict` (the default) turns problems into one SourceMapError (exit 2) before any upload
request; `--no-strict` prints them as warnings and uploads what is usable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sentry_release.errors import SourceMapError
from sentry_release.output import Output, human_bytes


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
    return parsed, None


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
