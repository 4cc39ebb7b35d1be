"""Every runner for real (#27): CI types the code for each platform the action runs on, and
the self-test workflow runs the composite path on macOS and Windows with a real build folder
against the stand-in; the README says which runners are tested where."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).parents[2]
PLATFORMS = ("linux", "darwin", "win32")


def workflow(name: str) -> dict[str, object]:
    loaded = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_ci_and_ci_run_type_the_code_for_every_platform() -> None:
    steps = workflow("ci.yml")["jobs"]["test"]["steps"]  # type: ignore[index]
    mypy = "\n".join(s.get("run", "") for s in steps if "mypy" in s.get("run", ""))
    local = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for text in (mypy, local):
        assert "for platform in linux darwin win32" in text
        assert 'mypy --strict --platform "$platform" src' in text


def test_the_self_test_runs_the_composite_on_every_os_with_a_build_folder() -> None:
    job = workflow("self-test.yml")["jobs"]["self-test"]  # type: ignore[index]
    assert {"ubuntu-latest", "macos-latest", "windows-latest"} <= set(
        job["strategy"]["matrix"]["os"]
    )
    steps = {s.get("id"): s for s in job["steps"]}
    composite = steps["action"]
    # `uses: ./` runs on every OS (the composite's path any ref but a release tag takes)
    assert composite["uses"].startswith("./") and "if" not in composite
    folder = composite["with"]["sourcemaps"]
    assert any(folder in s.get("run", "") and "fixtures/sourcemaps" in s.get("run", "")
               for s in job["steps"])  # fmt: skip
    assert steps["from-source"]["with"]["sourcemaps"] == folder
    check = next(s for s in job["steps"] if "self-test passed" in s.get("run", ""))
    assert "BUNDLE_IDS" in check["env"] and "debug_id" in check["run"]


def test_the_readme_says_which_runners_are_tested_where() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Runners tested", 1)[1].split("\n### ", 1)[0]
    for runner in ("ubuntu-latest", "macos-latest", "windows-latest"):
        assert runner in section
    assert "tests/windows_semantics" in section and "--platform" in section
