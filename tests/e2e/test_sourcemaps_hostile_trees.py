"""Hostile build trees through the real CLI (#13 items 1, 8, 11, 13): nothing outside the
root is read or uploaded, no FIFO hangs the tool, bad files are found before the release is
created, injected files keep their owner."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from sentry_standin import DevServer
from sentry_standin.chunks import artifact_bundles, blobs, bundle_file
from tests import helpers
from tests.helpers import ORG, TOKEN

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sourcemaps"
SECRET = "TOP-SECRET-FILE-CONTENT"
JS = "function f(){return 1}\n//# sourceMappingURL=app.js.map\n"


def stored_blobs(server: DevServer) -> bytes:
    """Every byte the stand-in received in chunks and files."""
    return b"".join(blobs(server.store).values())


def hostile_tree(tmp_path: Path) -> Path:
    """work/dist/app.js whose map names sources inside, outside, behind links and in /proc."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET, encoding="utf-8")
    work = tmp_path / "work"
    (work / "src").mkdir(parents=True)
    (work / "dist").mkdir()
    (work / "src" / "ok.js").write_text("export const ok = 1;\n", encoding="utf-8")
    (work / "src" / "linked.js").symlink_to(outside / "secret.txt")
    (work / "src" / "inner.js").symlink_to(work / "src" / "ok.js")
    sources = [
        "/proc/self/environ",
        "../../outside/secret.txt",
        str(outside / "secret.txt"),
        "../src/linked.js",
        "../src/ok.js",
        "../src/inner.js",
    ]
    source_map = {"version": 3, "sources": sources, "names": [], "mappings": "AAAA"}
    (work / "dist" / "app.js").write_text(JS, encoding="utf-8")
    (work / "dist" / "app.js.map").write_text(json.dumps(source_map), encoding="utf-8")
    return work


def test_map_sources_outside_the_root_are_left_out_with_one_warning_each(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    work = hostile_tree(tmp_path)
    done = helpers.run_cli(["upload-sourcemaps", "1.0", "dist"], env, cwd=work)
    assert done.returncode == 0, done.stderr
    (bundle,) = artifact_bundles(server.store, ORG)
    uploaded = json.loads(bundle_file(server.store, ORG, bundle["bundleId"], "~/app.js.map"))
    ok = "export const ok = 1;\n"
    assert uploaded["sourcesContent"] == [None, None, None, None, ok, ok]
    received = stored_blobs(server)
    assert TOKEN.encode() not in received
    assert SECRET.encode() not in received
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    for source in ("/proc/self/environ", "../../outside/secret.txt", "../src/linked.js"):
        assert sum(source in line for line in warnings) == 1, done.stderr
    assert TOKEN not in done.stdout + done.stderr


def test_a_fifo_in_dist_is_refused_not_waited_on(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    work = tmp_path / "work"
    shutil.copytree(FIXTURES / "dist", work / "dist")
    os.mkfifo(work / "dist" / "pipe.js")
    for command in (["upload-sourcemaps", "1.0", "dist"], ["inject", "dist"]):
        done = helpers.run_cli(command, env, cwd=work, timeout=20)
        assert done.returncode == 2, done.stderr
        assert "pipe.js" in done.stderr and "FIFO" in done.stderr
        assert "Traceback" not in done.stderr
    assert server.store.requests == []


@pytest.mark.parametrize("kind", ["fifo", "non-utf8 name"])
def test_run_refuses_bad_build_files_before_creating_the_release(
    server: DevServer, env: dict[str, str], tmp_path: Path, kind: str
) -> None:
    work = tmp_path / "work"
    shutil.copytree(FIXTURES / "dist", work / "dist")
    if kind == "fifo":
        os.mkfifo(work / "dist" / "pipe.js")
        expected = "pipe.js"
    else:
        with open(os.fsencode(work / "dist") + b"/bad\xff.js", "wb") as handle:
            handle.write(b"x();\n")
        expected = "not UTF-8"
    args = ["run", "1.0", "--mode", "skip", "--no-deploy", "--sourcemaps", "dist"]
    done = helpers.run_cli(args, env, cwd=work, timeout=20)
    assert done.returncode == 2, done.stderr
    assert expected in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert server.store.requests == []


@pytest.mark.parametrize(
    "content", ['{"version":3}', "[1,2]", "{not json"], ids=["no mappings", "array", "not json"]
)
def test_inject_refuses_invalid_maps_like_upload(
    env: dict[str, str], tmp_path: Path, content: str
) -> None:
    work = tmp_path / "work"
    shutil.copytree(FIXTURES / "dist", work / "dist")
    (work / "dist" / "app.min.js.map").write_text(content, encoding="utf-8")
    before = {p.name: p.read_bytes() for p in (work / "dist").iterdir()}
    done = helpers.run_cli(["inject", "dist"], env, cwd=work)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "app.min.js.map" in line and "source map" in line
    assert {p.name: p.read_bytes() for p in (work / "dist").iterdir()} == before


@pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root, as in the container")
def test_inject_keeps_owner_and_mode_of_every_file(env: dict[str, str], tmp_path: Path) -> None:
    work = tmp_path / "work"
    shutil.copytree(FIXTURES / "dist", work / "dist")
    modes = {}
    for i, path in enumerate(sorted((work / "dist").iterdir())):
        os.chown(path, 1001, 1001)
        os.chmod(path, 0o640 if i % 2 else 0o604)
        modes[path.name] = path.stat().st_mode
    done = helpers.run_cli(["inject", "dist"], env, cwd=work)
    assert done.returncode == 0, done.stderr
    assert "//# debugId=" in (work / "dist" / "app.min.js").read_text()
    for path in (work / "dist").iterdir():
        st = path.stat()
        assert (st.st_uid, st.st_gid) == (1001, 1001), path
        assert st.st_mode == modes[path.name], path
