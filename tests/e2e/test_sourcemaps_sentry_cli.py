"""Against the real sentry-cli: same debug IDs, same mappings, same manifest entries."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sentry_release.sourcemaps.vlq import decode_mappings
from sentry_standin import DevServer, Options, Store
from sentry_standin.chunks import artifact_bundles
from tests import helpers
from tests.helpers import KNOWN_CLIENT_BUGS, NEEDS_SENTRY_CLI, ORG, PROJECTS, SENTRY_CLI, TOKEN

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sourcemaps"


@pytest.fixture
def server() -> Iterator[DevServer]:
    """The stand-in naming itself in its URLs: sentry-cli sends chunks wherever the options'
    `url` points, as against a real Sentry, and no host here serves a url-prefix."""
    store = Store(orgs=(ORG,), projects=PROJECTS, tokens=(TOKEN,))
    with DevServer(store, options=Options(lenient=frozenset(KNOWN_CLIENT_BUGS))) as srv:
        yield srv


pytestmark = NEEDS_SENTRY_CLI


def run_cli(
    args: list[str], env: dict[str, str], cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run where the files are: source map paths outside the working directory are refused."""
    if cwd is None:
        cwd = next((Path(a).parent for a in args if Path(a).is_absolute()), None)
    return helpers.run_cli(args, env, cwd=cwd, timeout=timeout)


def sentry_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SENTRY_CLI, *args], env=env, capture_output=True, text=True, timeout=120)


def make_inputs(root: Path) -> Path:
    """The terser fixtures plus an indexed map built from one of them."""
    dist = root / "dist"
    shutil.copytree(FIXTURES / "dist", dist)
    section = json.loads((dist / "cli.min.js.map").read_text())
    indexed = {"version": 3, "sections": [{"offset": {"line": 0, "column": 0}, "map": section}]}
    (dist / "indexed.min.js").write_text(
        (dist / "cli.min.js").read_text().replace("cli.min.js.map", "indexed.min.js.map")
    )
    (dist / "indexed.min.js.map").write_text(json.dumps(indexed))
    return dist


def debug_ids(dist: Path) -> dict[str, str]:
    ids = {}
    for path in sorted(dist.glob("*.js")):
        line = path.read_text().rstrip("\n").rsplit("\n", 1)[-1]
        assert line.startswith("//# debugId="), path
        ids[path.name] = line.split("=", 1)[1]
    return ids


def test_inject_matches_sentry_cli(tmp_path: Path, env: dict[str, str]) -> None:
    theirs = make_inputs(tmp_path / "theirs")
    ours = make_inputs(tmp_path / "ours")
    done = sentry_cli(env, "sourcemaps", "inject", str(theirs))
    assert done.returncode == 0, done.stderr
    mine = run_cli(["inject", str(ours)], env)
    assert mine.returncode == 0, mine.stderr
    assert "Injected debug IDs into 7 file(s)" in mine.stdout
    assert debug_ids(ours) == debug_ids(theirs)
    for path in sorted(theirs.glob("*.js")):
        if path.name != "inline-plain.min.js":  # its data URL holds a re-serialised map
            assert (ours / path.name).read_bytes() == path.read_bytes(), path.name
    for path in sorted(theirs.glob("*.map")):
        want, got = json.loads(path.read_text()), json.loads((ours / path.name).read_text())
        assert got["debugId"] == want["debugId"] == got["debug_id"]
        if "mappings" in want:
            assert decode_mappings(got["mappings"]) == decode_mappings(want["mappings"])
        else:
            assert [s["offset"] for s in got["sections"]] == [s["offset"] for s in want["sections"]]


def entries(manifest: dict[str, Any]) -> dict[str, tuple[str, dict[str, str]]]:
    return {
        info["url"]: (info["type"], {k.lower(): v for k, v in info.get("headers", {}).items()})
        for info in manifest["files"].values()
    }


@pytest.mark.parametrize("extra", [(), ("--url-prefix", "app:///static/", "--dist", "5")])
def test_upload_manifest_matches_sentry_cli(
    tmp_path: Path, env: dict[str, str], server: DevServer, extra: tuple[str, ...]
) -> None:
    dist = make_inputs(tmp_path)
    assert sentry_cli(env, "sourcemaps", "inject", str(dist)).returncode == 0
    args = ("sourcemaps", "upload", "--release", "1.0", "--wait", *extra, str(dist))
    done = sentry_cli(env, *args)
    assert done.returncode == 0, done.stderr
    mine = run_cli(["upload-sourcemaps", "2.0", str(dist), *extra], env)
    assert mine.returncode == 0, mine.stderr
    cli_bundle, our_bundle = artifact_bundles(server.store, ORG)
    assert cli_bundle["userAgent"].startswith("sentry-cli/")
    assert our_bundle["userAgent"].startswith("sentry-release/")
    assert entries(our_bundle["manifest"]) == entries(cli_bundle["manifest"])
    assert len(entries(our_bundle["manifest"])) == 11
    assert our_bundle["manifest"]["project"] == cli_bundle["manifest"]["project"] == "web"
    assert our_bundle["manifest"].get("dist") == cli_bundle["manifest"].get("dist")
    assert our_bundle["dist"] == cli_bundle["dist"]
