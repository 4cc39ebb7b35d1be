"""Every path runs the code of the ref the workflow pinned (as pypa/gh-action-pypi-publish ties
its image to its ref): a release tag on Linux runs that release's published image, which
action.yml names at that tag; any other ref, and macOS and Windows, install the ref's own
code. The `where` step is run as the runner runs it (bash)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.action.runner import STEPS, read_outputs, run_step

PYTHON_STEPS = ("setup-python", "install", "python")


def path_for(tmp_path: Path, ref: str, runner_os: str = "Linux", forced: str = "") -> str:
    output = tmp_path / "output"
    output.write_text("")
    env = {"PATH": "/usr/bin:/bin", "RUNNER_OS": runner_os, "GITHUB_OUTPUT": str(output)}
    if forced:
        env["SENTRY_RELEASE_ACTION_PATH"] = forced
    done = run_step("where", {"github": {"action_ref": ref}}, env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return read_outputs(output)["path"]


@pytest.mark.parametrize(
    ("ref", "runner_os", "path"),
    [
        ("v1.0.0", "Linux", "image"),  # a release: its published image
        ("v1", "Linux", "image"),  # the major tag points at the latest release
        ("main", "Linux", "python"),  # a branch: its own code, not the last release's image
        ("0123456789abcdef0123456789abcdef01234567", "Linux", "python"),  # a sha
        ("", "Linux", "python"),  # `uses: ./` (no action_ref): the checkout's code
        ("v1.0.0-rc1", "Linux", "python"),  # not a release tag
        ("v1.0.0", "macOS", "python"),  # no container actions off Linux
        ("v1.0.0", "Windows", "python"),
    ],
)
def test_the_path_follows_the_pinned_ref(
    tmp_path: Path, ref: str, runner_os: str, path: str
) -> None:
    assert path_for(tmp_path, ref, runner_os) == path


def test_the_path_can_be_forced(tmp_path: Path) -> None:
    assert path_for(tmp_path, "main", forced="image") == "image"
    assert path_for(tmp_path, "v1.0.0", forced="python") == "python"
    assert path_for(tmp_path, "v1.0.0", forced="nonsense") == "image"


def test_each_step_runs_on_its_path_only() -> None:
    assert STEPS["where"]["env"]["ACTION_REF"] == "${{ github.action_ref }}"
    assert STEPS["image"]["if"] == "steps.where.outputs.path == 'image'"
    for step in PYTHON_STEPS:
        assert STEPS[step]["if"] == "steps.where.outputs.path == 'python'"
    ids = [s.get("id") for s in (STEPS["where"], STEPS["image"])]
    assert ids == ["where", "image"]
