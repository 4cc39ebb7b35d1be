"""upload-sourcemaps through the real CLI against the stand-in, read back over HTTP."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from sentry_standin import DevServer, app
from sentry_standin.chunks import (
    artifact_bundles,
    blobs,
    bundle_file,
    upload_state,
)
from tests import helpers
from tests.helpers import ORG, TOKEN

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "sourcemaps"
sys.path.insert(0, str(ROOT / "bench"))
from sourcemaps_fixture import make_bundles  # noqa: E402


def run_cli(
    args: list[str], env: dict[str, str], cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run where the files are: source map paths outside the working directory are refused."""
    if cwd is None:
        cwd = next((Path(a).parent for a in args if Path(a).is_absolute()), None)
    return helpers.run_cli(args, env, cwd=cwd, timeout=timeout)


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    target = tmp_path / "dist"
    shutil.copytree(FIXTURES / "dist", target)
    return target


def api(server: DevServer, path: str) -> Any:
    response = requests.get(
        f"{server.url}api/0{path}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    response.raise_for_status()
    return response.json()


def chunk_posts(server: DevServer) -> int:
    return sum(
        1
        for r in server.store.requests
        if r["method"] == "POST" and r["path"].endswith("/chunk-upload/")
    )


def test_upload_reads_back_and_reupload_sends_nothing(
    server: DevServer, env: dict[str, str], dist: Path
) -> None:
    assert run_cli(["inject", str(dist)], env).returncode == 0
    first = run_cli(["upload-sourcemaps", "1.0", str(dist), "--dist", "7"], env)
    assert first.returncode == 0, first.stderr
    sent = upload_state(server.store)["received_bytes"]
    assert sent > 0 and chunk_posts(server) == 1
    listing = api(server, f"/projects/{ORG}/web/artifact-bundles/")
    assert [(b["release"], b["dist"], b["fileCount"]) for b in listing] == [("1.0", "7", 9)]
    files = api(server, f"/projects/{ORG}/web/artifact-bundles/{listing[0]['bundleId']}/files/")
    by_url = {f["filePath"]: f for f in files["files"]}
    assert by_url["~/app.min.js"]["sourcemap"] == "app.min.js.map"
    assert by_url["~/app.min.js"]["debugId"] == by_url["~/app.min.js.map"]["debugId"]
    stored = bundle_file(server.store, ORG, listing[0]["bundleId"], "~/app.min.js")
    assert stored == (dist / "app.min.js").read_bytes()

    again = run_cli(["upload-sourcemaps", "1.0", str(dist), "--dist", "7"], env)
    assert again.returncode == 0, again.stderr
    assert upload_state(server.store)["received_bytes"] == sent
    assert chunk_posts(server) == 1
    assert "0 B sent, reused 11.9 KiB of 11.9 KiB from earlier uploads" in again.stdout
    assert "3/3 chunk(s) already on the server" in again.stdout


class DropFirst(dict):  # type: ignore[type-arg]
    """A blob store that loses the first copy of one chunk, as a flaky proxy would."""

    def __init__(self, victim: int) -> None:
        super().__init__()
        self.victim = victim
        self.seen: dict[str, int] = {}
        self.dropped: str | None = None

    def __setitem__(self, key: str, value: bytes) -> None:
        self.seen[key] = self.seen.get(key, 0) + 1
        if self.dropped is None and len(self.seen) == self.victim:
            self.dropped = key
            return
        super().__setitem__(key, value)


def test_chunk_lost_in_transit_is_sent_again(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    make_bundles(tmp_path / "big", 20, 600_000, seed=3)
    upload_state(server.store)["chunkSize"] = 64 * 1024
    store = DropFirst(victim=3)
    server.store.chunk_blobs = store  # type: ignore[attr-defined]
    done = run_cli(["upload-sourcemaps", "1.0", str(tmp_path / "big")], env)
    assert done.returncode == 0, done.stderr
    assert store.dropped is not None and store.seen[store.dropped] == 2
    assert "missing; sending them again" in done.stderr
    (bundle,) = artifact_bundles(server.store, ORG)
    assert bundle["fileCount"] == 40


def test_several_projects_share_one_bundle(
    server: DevServer, env: dict[str, str], dist: Path
) -> None:
    done = run_cli(["upload-sourcemaps", "1.0", str(dist)], {**env, "SENTRY_PROJECT": "web api"})
    assert done.returncode == 0, done.stderr
    for project in ("web", "api"):
        assert len(api(server, f"/projects/{ORG}/{project}/artifact-bundles/")) == 1
    (bundle,) = artifact_bundles(server.store, ORG)
    assert "project" not in bundle["manifest"]


def test_url_prefix_ext_and_ignore(server: DevServer, env: dict[str, str], dist: Path) -> None:
    (dist / "skip").mkdir()
    (dist / "skip" / "x.js").write_text("x();")
    (dist / ".ignore").write_text("inline*.js\n")
    args = ["upload-sourcemaps", "1.0", str(dist), "--url-prefix", "app:///static/"]
    args += [
        "--ext",
        "js",
        "--ext",
        "map",
        "--ignore",
        "skip/",
        "--ignore-file",
        str(dist / ".ignore"),
    ]
    done = run_cli(args, env)
    assert done.returncode == 0, done.stderr
    (bundle,) = artifact_bundles(server.store, ORG)
    urls = sorted(info["url"] for info in bundle["manifest"]["files"].values())
    assert urls == [
        "app:///static/app.min.js",
        "app:///static/app.min.js.map",
        "app:///static/cli.min.js",
        "app:///static/cli.min.js.map",
        "app:///static/plain.min.js",
        "app:///static/sibling.min.js",
        "app:///static/sibling.min.js.map",
    ]


def test_sources_are_inlined_when_local(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    shutil.copytree(FIXTURES, tmp_path / "fx")
    done = run_cli(["upload-sourcemaps", "1.0", str(tmp_path / "fx" / "dist")], env)
    assert done.returncode == 0, done.stderr
    (bundle,) = artifact_bundles(server.store, ORG)
    import json

    uploaded = json.loads(bundle_file(server.store, ORG, bundle["bundleId"], "~/cli.min.js.map"))
    assert uploaded["sourcesContent"] == [(FIXTURES / "src" / "cli.js").read_text()]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: (d / "app.min.js.map").write_text("{not json"), "not valid JSON"),
        (lambda d: (d / "app.min.js.map").write_text('{"version":3}'), "no `mappings`"),
        (lambda d: (d / "app.min.js.map").unlink(), "references source map 'app.min.js.map'"),
    ],
)
def test_invalid_input_fails_before_any_upload(
    server: DevServer, env: dict[str, str], dist: Path, setup: Any, message: str
) -> None:
    setup(dist)
    done = run_cli(["upload-sourcemaps", "1.0", str(dist)], env)
    assert done.returncode == 2
    assert message in done.stderr and "--no-strict" in done.stderr
    # nothing written: at most the options GET, sent while the files were read (#16)
    assert all(r["method"] == "GET" for r in server.store.requests)
    assert not any("assemble" in r["path"] for r in server.store.requests)
    loose = run_cli(["upload-sourcemaps", "1.0", str(dist), "--no-strict"], env)
    assert loose.returncode == 0, loose.stderr
    assert "warning:" in loose.stderr and message in loose.stderr


def test_no_files_is_an_error_unless_ignore_empty(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "empty").mkdir()
    done = run_cli(["upload-sourcemaps", "1.0", str(tmp_path / "empty")], env)
    assert done.returncode == 2 and "no files to upload" in done.stderr
    ok = run_cli(["upload-sourcemaps", "1.0", str(tmp_path / "empty"), "--ignore-empty"], env)
    assert ok.returncode == 0 and "nothing uploaded" in ok.stdout


@pytest.fixture
def failing_assemble() -> Iterator[None]:
    """Make the stand-in's assemble answer like a Sentry that failed to process the bundle."""
    index = next(i for i, r in enumerate(app.ROUTES) if "artifactbundle" in r[1].pattern)
    original = app.ROUTES[index]

    def fail(request: app.Request) -> app.Response:
        request.org()
        return app.Response(200, {"state": "error", "missingChunks": [], "detail": "bad zip"})

    app.ROUTES[index] = (original[0], original[1], fail)
    try:
        yield
    finally:
        app.ROUTES[index] = original


def test_server_side_failure_exits_1_with_sentrys_words(
    server: DevServer, env: dict[str, str], dist: Path, failing_assemble: None
) -> None:
    done = run_cli(["upload-sourcemaps", "1.0", str(dist)], env)
    assert done.returncode == 1
    assert "bad zip" in done.stderr


def test_legacy_release_files_when_chunk_upload_is_absent(
    server: DevServer, env: dict[str, str], dist: Path
) -> None:
    upload_state(server.store)["enabled"] = False
    assert run_cli(["new", "1.0"], env).returncode == 0
    done = run_cli(["upload-sourcemaps", "1.0", str(dist), "--dist", "d1"], env)
    assert done.returncode == 0, done.stderr
    files = api(server, f"/projects/{ORG}/web/releases/1.0/files/")
    by_name = {f["name"]: f for f in files}
    assert len(by_name) == 9 and by_name["~/app.min.js"]["dist"] == "d1"
    assert by_name["~/app.min.js"]["headers"]["Sourcemap"] == "app.min.js.map"
    again = run_cli(["upload-sourcemaps", "1.0", str(dist), "--dist", "d1"], env)
    assert again.returncode == 0, again.stderr
    assert len(api(server, f"/projects/{ORG}/web/releases/1.0/files/")) == 9
    assert not blobs(server.store) or all(len(k) == 40 for k in blobs(server.store))


def test_run_injects_then_uploads(server: DevServer, env: dict[str, str], tmp_path: Path) -> None:
    from tests.helpers import make_repo

    repo = tmp_path / "repo"
    make_repo(repo, commits=1)
    shutil.copytree(FIXTURES / "dist", repo / "dist")
    args = ["run", "3.0", "--mode", "skip", "--sourcemaps", "dist", "--cwd", str(repo)]
    done = run_cli(args, env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "//# debugId=" in (repo / "dist" / "app.min.js").read_text()
    (bundle,) = artifact_bundles(server.store, ORG)
    assert bundle["release"] == "3.0"
    headers = bundle["manifest"]["files"]["files/_/_/app.min.js"]["headers"]
    assert headers["debug-id"] in (repo / "dist" / "app.min.js").read_text()


def test_inject_cli_honours_ignore_and_dry_run(env: dict[str, str], dist: Path) -> None:
    before = (dist / "cli.min.js").read_bytes()
    dry = run_cli(["inject", "--dry-run", str(dist)], env)
    assert dry.returncode == 0 and "Would inject debug IDs into 6 file(s)" in dry.stdout
    assert (dist / "cli.min.js").read_bytes() == before
    done = run_cli(["inject", str(dist), "--ignore", "cli.*"], env)
    assert done.returncode == 0 and "into 5 file(s)" in done.stdout
    assert (dist / "cli.min.js").read_bytes() == before
    missing = run_cli(["inject", str(dist / "nope")], env)
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_upload_dry_run_sends_nothing(server: DevServer, env: dict[str, str], dist: Path) -> None:
    done = run_cli(["upload-sourcemaps", "1.0", str(dist), "--dry-run"], env)
    assert done.returncode == 0, done.stderr
    assert "[dry-run] would upload 9 file(s)" in done.stdout
    assert server.store.requests == []
