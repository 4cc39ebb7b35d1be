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


def test_options_read_beside_the_checks_bad_input_wins_and_its_error_is_unchanged(
    tmp_path: Path,
) -> None:
    from sentry_standin import Store
    from sentry_standin.faults import FaultPlan
    from tests.helpers import ORG, PROJECTS, TOKEN, cli_env

    work = tmp_path / "work"
    shutil.copytree(FIXTURES / "dist", work / "dist")
    plan = FaultPlan.parse("GET */chunk-upload/=503")
    with DevServer(Store(orgs=(ORG,), projects=PROJECTS, tokens=(TOKEN,)), faults=plan) as srv:
        env = {**cli_env(srv.url, home=tmp_path), "SENTRY_RELEASE_RETRY_BUDGET": "1"}
        good = run_cli(["upload-sourcemaps", "1.0", "dist"], env, cwd=work)
        assert good.returncode == 1, good.stderr
        errors = [line for line in good.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and errors[0].startswith(
            f"error: GET /organizations/{ORG}/chunk-upload/ failed with HTTP 503"
        ), good.stderr
        (work / "dist" / "app.min.js.map").write_text("{not json")
        bad = run_cli(["upload-sourcemaps", "1.0", "dist"], env, cwd=work)
        assert bad.returncode == 2, bad.stderr
        assert "app.min.js.map: source map is not valid JSON" in bad.stderr
        assert "503" not in bad.stderr and "Traceback" not in bad.stderr
        assert [r for r in srv.store.requests if r["method"] != "GET"] == []
