"""action.yml's macOS/Windows path run as the runner runs it: the composite's `run:` steps
(setup-python is the one step left out: it needs the internet; this interpreter stands in for
it), offline from the wheels .ci/wheelhouse.sh downloads. It must leave the same Sentry state
and outputs as the image's entry point with the same inputs."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sentry_standin import DevServer, Store
from tests.action.runner import (
    ROOT,
    STEPS,
    copy_action,
    evaluate,
    inputs_with_defaults,
    read_outputs,
    run_step,
    step_env,
)
from tests.action.test_runner import run_step as run_runner_step
from tests.e2e.test_faults import full_snapshot, make_checkout
from tests.helpers import ORG, PROJECTS, TOKEN

WHEELHOUSE = Path(os.environ.get("SENTRY_RELEASE_WHEELHOUSE", ROOT / ".ci" / ".wheelhouse"))
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not any(WHEELHOUSE.glob("*.whl")), reason="no wheelhouse: run .ci/wheelhouse.sh first"
    ),
]


def test_the_paths_are_chosen_by_the_where_step() -> None:
    """runner.os and the pinned ref (tests/action/test_ref_paths.py) choose the path."""
    assert STEPS["image"]["if"] == "steps.where.outputs.path == 'image'"
    for step in ("setup-python", "install", "python"):
        assert STEPS[step]["if"] == "steps.where.outputs.path == 'python'"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The install step, run once: (the action's directory, the venv's python)."""
    root = tmp_path_factory.mktemp("composite")
    action_path = copy_action(root / "action")
    runner_temp = root / "runner_temp"
    runner_temp.mkdir()
    output = root / "install_output"
    output.write_text("")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "GITHUB_"))},
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_OUTPUT": str(output),
        "PIP_CONFIG_FILE": os.devnull,  # only the wheelhouse: nothing from the network
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(WHEELHOUSE),
    }
    context = {
        "steps": {"setup-python": {"outputs": {"python-path": sys.executable}}},
        "github": {"action_path": str(action_path)},
    }
    done = run_step("install", context, env, cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    python = read_outputs(output)["python"]
    assert Path(python).is_file() and Path(python).is_relative_to(runner_temp)
    return action_path, python


@pytest.fixture
def second_server() -> Iterator[DevServer]:
    with DevServer(Store(orgs=(ORG,), projects=PROJECTS, tokens=(TOKEN,))) as srv:
        yield srv


INPUTS = {
    "org": ORG,
    "projects": "web",
    "set_commits": "local",
    "sourcemaps": "dist",
    "environment": "production",
    "deploy_name": "composite",
}


def test_composite_leaves_the_same_state_as_the_image_entrypoint(
    installed: tuple[Path, str], server: DevServer, second_server: DevServer, tmp_path: Path
) -> None:
    action_path, python = installed
    image_ws = make_checkout(tmp_path / "image")
    image = run_runner_step(
        image_ws,
        tmp_path / "image",
        {**INPUTS, "url": server.url},
        env={"SENTRY_AUTH_TOKEN": TOKEN},
    )
    assert image.code == 0, image.stdout + image.stderr

    composite_ws = make_checkout(tmp_path / "composite")
    context: dict[str, Any] = {
        "inputs": inputs_with_defaults({**INPUTS, "url": second_server.url}),
        "steps": {"install": {"outputs": {"python": python}}},
        "github": {"action_path": str(action_path)},
    }
    composite = run_runner_step(
        composite_ws,
        tmp_path / "composite",
        {},  # every input reaches the entry point through the composite step's env only
        env={"SENTRY_AUTH_TOKEN": TOKEN, **step_env("python", context)},
        command=["bash", "-e", "-c", evaluate(STEPS["python"]["run"], context)],
    )
    assert composite.code == 0, composite.stdout + composite.stderr

    assert full_snapshot(second_server) == full_snapshot(server)
    assert full_snapshot(server)["releases"][0]["deploys"] == [("production", "composite")]
    ids = ("deploy_id",)  # the stand-ins number deploys independently
    assert {k: v for k, v in composite.outputs.items() if k not in ids} == {
        k: v for k, v in image.outputs.items() if k not in ids
    }
    assert composite.outputs["release"] == image.outputs["release"] != ""
