"""`run` streams the upload yet still refuses bad build output before its first write (#16)."""

from __future__ import annotations

import shutil
from pathlib import Path

from sentry_standin import DevServer
from tests.helpers import run_cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sourcemaps"


def test_an_invalid_map_in_the_last_file_stops_run_before_any_write(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    work = tmp_path / "work"
    shutil.copytree(FIXTURES / "dist", work / "dist")
    for i in range(30):  # many good pairs first: the bad one is read last
        shutil.copy(FIXTURES / "dist" / "app.min.js", work / "dist" / f"a{i:02d}.min.js")
        shutil.copy(FIXTURES / "dist" / "app.min.js.map", work / "dist" / f"a{i:02d}.min.js.map")
    (work / "dist" / "zz.min.js").write_text("x();\n//# sourceMappingURL=zz.min.js.map\n")
    (work / "dist" / "zz.min.js.map").write_text('{"version":3,"sources":[],"mappings":"A')
    before = {p.name: p.read_bytes() for p in (work / "dist").iterdir()}
    done = run_cli(
        ["run", "1.0", "--mode", "skip", "--no-deploy", "--sourcemaps", "dist"], env, cwd=work
    )
    assert done.returncode == 2, done.stderr
    assert "zz.min.js.map" in done.stderr and "Traceback" not in done.stderr
    assert [r for r in server.store.requests if r["method"] != "GET"] == []
    assert {p.name: p.read_bytes() for p in (work / "dist").iterdir()} == before


def test_run_uploads_what_inject_wrote(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    work = tmp_path / "work"
    shutil.copytree(FIXTURES / "dist", work / "dist")
    done = run_cli(
        ["run", "1.0", "--mode", "skip", "--no-deploy", "--sourcemaps", "dist"], env, cwd=work
    )
    assert done.returncode == 0, done.stderr
    assert "//# debugId=" in (work / "dist" / "app.min.js").read_text()
    assert any(r["path"].endswith("/artifactbundle/assemble/") for r in server.store.requests)
