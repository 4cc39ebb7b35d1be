"""A map larger than the memory left, under a real address-space limit: one line, exit 2,
nothing written (#23). Today's code ended in `internal error: MemoryError`."""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sentry_standin import DevServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sourcemaps"
LIMIT = 600 * 1024**2  # RLIMIT_AS of the child: the 800 MB map alone does not fit
BIG = 800 * 1000**2


def limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


@pytest.mark.slow
def test_a_map_over_the_memory_left_is_one_line_and_nothing_is_written(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    for name in ("app.min.js", "app.min.js.map"):
        shutil.copy(FIXTURES / "dist" / name, dist / name)
    big = dist / "huge.js.map"
    with open(big, "wb") as sparse:  # sparse: no disk used
        sparse.truncate(BIG)
    done = subprocess.run(
        [sys.executable, "-m", "sentry_release", "upload-sourcemaps", "1.0", "dist"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limited,
    )
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    assert str(big) in errors[0] and "is 762.9 MiB" in errors[0], errors[0]
    assert "(RLIMIT_AS)" in errors[0] and "--ignore" in errors[0], errors[0]
    assert "Traceback" not in done.stderr and "MemoryError" not in done.stderr
    assert [r for r in server.store.requests if r["method"] != "GET"] == []
