"""The next release sends only what changed (#23): chunks of unchanged files are reused from
earlier uploads (other releases, other projects), and a file too large for Sentry is refused
by its size before anything is read or sent."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sentry_standin import DevServer
from sentry_standin.chunks import artifact_bundles, bundle_file, upload_state
from tests.e2e.test_sourcemaps_upload import run_cli
from tests.helpers import ORG

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from sourcemaps_fixture import make_bundles  # noqa: E402


def _upload(env: dict[str, str], version: str, dist: Path, *extra: str) -> dict[str, object]:
    done = run_cli(["--json", "upload-sourcemaps", version, str(dist), *extra], env)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_next_release_sends_only_the_changed_file(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    dist = tmp_path / "dist"
    make_bundles(dist, 30, 1_500_000, seed=5)
    first = _upload(env, "1.0", dist)
    assert first["bytes_reused"] == 0 and first["chunks_sent"] == first["chunks_total"]
    state = upload_state(server.store)
    before = state["received_bytes"]
    target = dist / "part2" / "chunk-0012.min.js"
    target.write_text(target.read_text().replace("function", "function ", 1))
    second = _upload(env, "1.1", dist)
    sent = state["received_bytes"] - before
    total = second["bytes_total"]
    assert isinstance(total, int) and isinstance(second["bytes_reused"], int)
    assert second["bytes_reused"] > 0.85 * total, second
    assert sent < 0.1 * first["bytes_sent"], (sent, first["bytes_sent"])  # type: ignore[operator]
    new, old = artifact_bundles(server.store, ORG)[::-1][:2]
    assert (new["release"], old["release"]) == ("1.1", "1.0")
    assert bundle_file(server.store, ORG, new["bundleId"], "~/part2/chunk-0012.min.js") == (
        target.read_bytes()
    )  # Sentry's assembly of reused + new chunks holds the new bytes
    assert new["manifest"]["release"] == "1.1"


def test_upload_line_says_what_was_reused(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    dist = tmp_path / "dist"
    make_bundles(dist, 10, 400_000, seed=9)
    assert run_cli(["upload-sourcemaps", "1.0", str(dist)], env).returncode == 0
    # another project of the organization: the same files are already owned by the org
    done = run_cli(["upload-sourcemaps", "2.0", str(dist)], {**env, "SENTRY_PROJECT": "api"})
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip().splitlines()[-1]
    assert " sent, reused " in line and " from earlier uploads (" in line, line
    reused = line.split(" sent, reused ")[1].split(" of ")[0]
    assert reused.endswith("KiB") and float(reused.split()[0]) > 300, line


def test_a_file_over_sentrys_limit_is_refused_by_its_size(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    dist = tmp_path / "dist"
    make_bundles(dist, 2, 20_000, seed=1)
    with open(dist / "huge.min.js", "wb") as sparse:  # 3 GiB, sparse: nothing to read
        sparse.truncate(3 * 1024**3)
    done = run_cli(["upload-sourcemaps", "1.0", str(dist)], env)
    assert done.returncode == 2, done.stderr
    (line,) = [x for x in done.stderr.splitlines() if x.startswith("error:")]
    assert "huge.min.js: is 3.0 GiB, over Sentry's limit of 2.0 GiB" in line
    assert "Traceback" not in done.stderr and "MemoryError" not in done.stderr
    assert upload_state(server.store)["received_requests"] == 0
