"""Debug ID injection: placement, ids, mappings preserved, idempotence, atomic writes."""

from __future__ import annotations

import base64
import io
import json
import shutil
from pathlib import Path

import pytest

from sentry_release.errors import SourceMapError
from sentry_release.output import Output
from sentry_release.sourcemaps import inject as inject_mod
from sentry_release.sourcemaps.inject import (
    debug_id_from_bytes,
    debug_id_from_js_and_map,
    inject_at_end,
    inject_at_start,
    inject_paths,
    inject_regular,
    snippet,
)
from sentry_release.sourcemaps.vlq import decode_mappings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sourcemaps"
ZERO = "00000000-0000-0000-0000-000000000000"


def quiet() -> Output:
    return Output(stdout=io.StringIO(), stderr=io.StringIO(), is_tty=False)


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    target = tmp_path / "dist"
    shutil.copytree(FIXTURES / "dist", target)
    return target


def test_debug_ids_match_values_computed_by_sentry_cli_3_8_2() -> None:
    # Recorded from `sentry-cli sourcemaps inject` 3.8.2 on exactly these bytes.
    js = b"a();\n//# sourceMappingURL=a.js.map"
    source_map = b'{"version":3,"sources":["x.js"],"names":[],"mappings":"AAAA"}'
    assert debug_id_from_js_and_map(js, source_map) == "a293c386-5e06-5b9d-9db2-d845a658032b"
    plain = (FIXTURES / "dist" / "plain.min.js").read_bytes()
    assert debug_id_from_bytes(plain) == "d2e669d1-824f-5e9a-947c-85f7045f8029"


def test_id_is_a_version_5_uuid_that_changes_with_either_input() -> None:
    one = debug_id_from_js_and_map(b"a()", b"{}")
    assert one[14] == "5" and one[19] in "89ab"
    assert one != debug_id_from_js_and_map(b"b()", b"{}")
    assert one != debug_id_from_js_and_map(b"a()", b'{"version":3}')


@pytest.mark.parametrize(
    ("source", "prefix_lines"),
    [
        ("console.log(1);\n", []),
        ("#!/usr/bin/env node\nconsole.log(1);\n", ["#!/usr/bin/env node"]),
        ("// c\n/* block */\nconsole.log(1);\n", ["// c", "/* block */"]),
    ],
)
def test_snippet_goes_after_hashbang_and_leading_comments(
    source: str, prefix_lines: list[str]
) -> None:
    out, (line, column, added) = inject_regular(source, ZERO)
    lines = out.split("\n")
    assert lines[: len(prefix_lines)] == prefix_lines
    assert lines[len(prefix_lines) + 1] == snippet(ZERO)
    assert out.endswith(f"\n//# debugId={ZERO}\n")
    assert (line, column, added) == (len(prefix_lines), 0, 2)


def test_use_strict_stays_first_and_the_rest_of_its_line_moves_down() -> None:
    out, shift = inject_regular('"use strict";var a=1;\n', ZERO)
    assert out.startswith('"use strict";\n' + snippet(ZERO) + "\nvar a=1;")
    assert shift == (0, 13, 2)


def test_indexed_maps_get_the_snippet_first_repeating_the_directive() -> None:
    out = inject_at_start("#!/bin/node\n'use strict';\nx();", ZERO)
    assert (
        out
        == f"#!/bin/node\n'use strict';{snippet(ZERO)}\n'use strict';\nx();\n//# debugId={ZERO}\n"
    )


def test_without_a_map_the_snippet_goes_last_before_the_map_comment() -> None:
    out = inject_at_end("a();\n//# sourceMappingURL=x.map\nb();", ZERO)
    assert out == f"a();\nb();\n{snippet(ZERO)}\n//# sourceMappingURL=x.map\n//# debugId={ZERO}\n"


def _segments(js: str, source_map: dict[str, object]) -> dict[tuple[int, ...], str]:
    """Original position -> the generated text found at the mapped position."""
    lines = js.split("\n")
    found: dict[tuple[int, ...], str] = {}
    for gen_line, segs in enumerate(decode_mappings(str(source_map["mappings"]))):
        for seg in segs:
            if len(seg) >= 4:
                found[tuple(seg[1:])] = lines[gen_line][seg[0] : seg[0] + 12]
    return found


@pytest.mark.parametrize("name", ["app.min.js", "cli.min.js", "sibling.min.js"])
def test_every_generated_position_still_maps_to_the_same_original(dist: Path, name: str) -> None:
    js_path = dist / name
    map_path = dist / (name + ".map")
    before = _segments(js_path.read_text(), json.loads(map_path.read_text()))
    inject_paths((dist,), dry_run=False, out=quiet())
    after_map = json.loads(map_path.read_text())
    after = _segments(js_path.read_text(), after_map)
    assert before and after == before
    assert after_map["debugId"] == after_map["debug_id"]
    assert js_path.read_text().rstrip("\n").endswith(f"//# debugId={after_map['debugId']}")


def test_inline_data_url_map_is_rewritten_in_place(dist: Path) -> None:
    path = dist / "inline-plain.min.js"
    inject_paths((dist,), dry_run=False, out=quiet())
    text = path.read_text()
    url = [line for line in text.splitlines() if line.startswith("//# sourceMappingURL=")][-1]
    payload = json.loads(base64.b64decode(url.split("base64,", 1)[1]))
    debug_id = text.rstrip().rsplit("=", 1)[1]
    assert payload["debugId"] == debug_id
    assert _segments(text, payload)  # mappings still point at real text


def test_second_run_changes_nothing(dist: Path) -> None:
    first = inject_paths((dist,), dry_run=False, out=quiet())
    snapshot = {p.name: p.read_bytes() for p in dist.iterdir()}
    second = inject_paths((dist,), dry_run=False, out=quiet())
    assert {p.name: p.read_bytes() for p in dist.iterdir()} == snapshot
    assert all(f.changed for f in first.files)
    assert not any(f.changed for f in second.files)
    assert {f.debug_id for f in first.files} == {f.debug_id for f in second.files}


def test_dry_run_writes_nothing_but_reports_the_ids(dist: Path) -> None:
    before = {p.name: p.read_bytes() for p in dist.iterdir()}
    dry = inject_paths((dist,), dry_run=True, out=quiet())
    assert {p.name: p.read_bytes() for p in dist.iterdir()} == before
    real = inject_paths((dist,), dry_run=False, out=quiet())
    assert [f.debug_id for f in dry.files] == [f.debug_id for f in real.files]


def test_a_failed_write_leaves_the_original_and_no_temp_file(
    dist: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = {p.name: p.read_bytes() for p in dist.iterdir()}

    def crash(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(inject_mod.os, "replace", crash)
    with pytest.raises(SourceMapError, match="disk full"):
        inject_paths((dist,), dry_run=False, out=quiet())
    assert {p.name: p.read_bytes() for p in dist.iterdir()} == before


def test_existing_map_id_wins(dist: Path) -> None:
    map_path = dist / "app.min.js.map"
    data = json.loads(map_path.read_text())
    data["debugId"] = "12345678-1234-5678-1234-567812345678"
    map_path.write_text(json.dumps(data))
    result = inject_paths((dist / "app.min.js", map_path), dry_run=False, out=quiet())
    assert result.files[0].debug_id == "12345678-1234-5678-1234-567812345678"


def test_indexed_map_sections_move_down_one_line(tmp_path: Path) -> None:
    section = json.loads((FIXTURES / "dist" / "cli.min.js.map").read_text())
    indexed = {"version": 3, "sections": [{"offset": {"line": 0, "column": 0}, "map": section}]}
    (tmp_path / "i.js").write_text("f();\n//# sourceMappingURL=i.js.map\n")
    (tmp_path / "i.js.map").write_text(json.dumps(indexed))
    inject_paths((tmp_path,), dry_run=False, out=quiet())
    after = json.loads((tmp_path / "i.js.map").read_text())
    assert after["sections"][0]["offset"] == {"line": 1, "column": 0}
    assert (tmp_path / "i.js").read_text().startswith(snippet(after["debugId"]) + "\nf();")
