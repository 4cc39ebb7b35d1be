"""One validation of source maps before any write or upload: `mappings` decoded and checked
against `sources` and `names` (as Sentry's rust-sourcemap decoder does), inline maps too, in
`inject`, `upload-sourcemaps` and `run` alike."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from sentry_release.cli import run_cli
from sentry_standin import DevServer

BUNDLE = "function a(){}\n//# sourceMappingURL=app.min.js.map\n"
BAD_MAPS = {
    "not-vlq": ("!!!", "'!' is not a base64 VLQ digit"),
    "source-outside": ("AAAA,ACAA", "names source 1, but `sources` has 1"),
    "name-outside": ("AAAAC", "names name 1, but `names` has 1"),
    "segment-size": ("AAA", "has 3 fields"),
    "vlq-overflow": ("g" * 13 + "A", "overflows 64 bits"),  # rust-sourcemap: VlqOverflow
}


def write_dist(repo: Path, mappings: str) -> dict[Path, bytes]:
    """A bundle and its map; returns every file's bytes, to show nothing was written."""
    dist = repo / "dist"
    dist.mkdir()
    (dist / "app.min.js").write_text(BUNDLE)
    the_map = {"version": 3, "sources": ["a.js"], "names": ["a"], "mappings": mappings}
    (dist / "app.min.js.map").write_text(json.dumps(the_map))
    return {p: p.read_bytes() for p in dist.iterdir()}


COMMANDS = {
    "inject": ["inject", "dist"],
    "upload-sourcemaps": ["upload-sourcemaps", "1.0", "dist"],
    "run": ["run", "1.0", "--sourcemaps", "dist", "--mode", "skip"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("case", list(BAD_MAPS))
def test_a_map_whose_mappings_do_not_decode_is_refused_before_anything_is_written(
    checkout: Path,
    server: DevServer,
    capsys: pytest.CaptureFixture[str],
    command: str,
    case: str,
) -> None:
    mappings, said = BAD_MAPS[case]
    before = write_dist(checkout, mappings)
    code = run_cli(COMMANDS[command], environ=dict(os.environ))
    err = capsys.readouterr().err
    assert code == 2, err
    assert "app.min.js.map: source map `mappings` line 1" in err and said in err
    assert {p: p.read_bytes() for p in before} == before  # no debug ID injected
    writes = [r for r in server.store.requests if r["method"] != "GET"]
    assert writes == []  # no release created, no chunk uploaded


@pytest.mark.parametrize("command", list(COMMANDS))
def test_an_inline_map_of_invalid_json_is_refused_too(
    checkout: Path, server: DevServer, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    dist = checkout / "dist"
    dist.mkdir()
    inline = base64.b64encode(b'{"version": 3, "mappings": ').decode()
    bundle = f"function a(){{}}\n//# sourceMappingURL=data:application/json;base64,{inline}\n"
    (dist / "app.min.js").write_text(bundle)
    code = run_cli(COMMANDS[command], environ=dict(os.environ))
    err = capsys.readouterr().err
    assert code == 2, err
    assert "app.min.js (inline source map): source map is not valid JSON" in err
    assert (dist / "app.min.js").read_text() == bundle
    assert [r for r in server.store.requests if r["method"] != "GET"] == []


def test_a_valid_map_still_passes(checkout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_dist(checkout, "AAAAA,CAAC;AACA")
    assert run_cli(["inject", "dist"], environ=dict(os.environ)) == 0, capsys.readouterr().err
