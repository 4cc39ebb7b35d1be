"""Plays the GitHub runner for action.yml's composite: evaluates the few expressions its steps
use (inputs, step outputs, the action path), and runs a step's `run:` in bash, or the image's
entry point with the same INPUT_* (tests.action.test_runner.run_step)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).parents[2]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
STEPS = {step["id"]: step for step in ACTION["runs"]["steps"]}
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
# What the action needs of its own repository (what actions/checkout of the action provides).
ACTION_FILES = (
    "pyproject.toml",
    "README.md",
    "LICENSE",
    "requirements-action.txt",
    "entrypoint.py",
)


def copy_action(dest: Path) -> Path:
    """The action's directory as the runner downloads it, outside this checkout."""
    dest.mkdir(parents=True)
    for name in ACTION_FILES:
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(
        ROOT / "src", dest / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    return dest


def inputs_with_defaults(given: Mapping[str, str]) -> dict[str, str]:
    unknown = set(given) - set(ACTION["inputs"])
    assert not unknown, f"not inputs of action.yml: {unknown}"
    return {
        name: str(given.get(name, meta.get("default", "")))
        for name, meta in ACTION["inputs"].items()
    }


def evaluate(text: str, context: Mapping[str, Any]) -> str:
    """`${{ inputs.x }}`, `${{ steps.s.outputs.o }}`, `${{ github.action_path }}` only."""

    def one(match: re.Match[str]) -> str:
        node: Any = context
        for part in match[1].split("."):
            assert isinstance(node, Mapping) and part in node, f"unknown expression {match[0]}"
            node = node[part]
        return str(node)

    return EXPRESSION.sub(one, text)


def step_env(step_id: str, context: Mapping[str, Any]) -> dict[str, str]:
    return {k: evaluate(str(v), context) for k, v in STEPS[step_id].get("env", {}).items()}


def run_step(
    step_id: str, context: Mapping[str, Any], env: Mapping[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    """A composite `run:` step as the runner runs it: `shell: bash` (bash -e {0})."""
    step = STEPS[step_id]
    assert step["shell"] == "bash"
    full = {**env, **step_env(step_id, context)}
    return subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        env=full,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def read_outputs(path: Path) -> dict[str, str]:
    """`name=value` and `name<<DELIM` blocks of a GITHUB_OUTPUT file."""
    outputs: dict[str, str] = {}
    lines = iter(path.read_text(encoding="utf-8").splitlines())
    for line in lines:
        if "<<" in line:
            name, delim = line.split("<<", 1)
            outputs[name] = "\n".join(iter(lambda: next(lines), delim))
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


# --- a workflow job: `uses:` and `run:` steps, GITHUB_ENV carried between them ------------

ACTION_USES = "sentry-release/sentry-release@"


def job_steps(workflow: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The one job of a workflow: its `env:` and its steps."""
    (job,) = workflow["jobs"].values()
    return dict(job.get("env", {})), list(job["steps"])


def run_job(
    workflow: Mapping[str, Any],
    *,
    runner_env: Mapping[str, str],
    secrets: Mapping[str, str],
    files: Path,
    cwd: Path,
    on_step: Any = None,
) -> list[subprocess.CompletedProcess[str]]:
    """Run a workflow's job as the runner does: `actions/*` steps are taken as done (the
    checkout is `cwd`), this action runs its image's entry point with the composite's
    INPUT_* block, a `run:` step runs in bash; each step gets fresh GITHUB_ENV and
    GITHUB_OUTPUT files, and what a step writes to GITHUB_ENV is in the environment of every
    step after it. `on_step(index, step)` is called before each step."""
    job_env, steps = job_steps(workflow)
    exported: dict[str, str] = {}
    outputs: dict[str, dict[str, str]] = {}
    done: list[subprocess.CompletedProcess[str]] = []
    files.mkdir(parents=True, exist_ok=True)
    for index, step in enumerate(steps):
        uses = str(step.get("uses", ""))
        if uses.startswith("actions/"):
            continue
        if on_step is not None:
            on_step(index, step)
        context = {"secrets": dict(secrets), "steps": outputs, "env": {**job_env, **exported}}
        env_file, output_file = files / f"env_{index}", files / f"output_{index}"
        env_file.write_text("")
        output_file.write_text("")
        env = {
            **runner_env,
            **{k: evaluate(str(v), context) for k, v in job_env.items()},
            **exported,
            **{k: evaluate(str(v), context) for k, v in step.get("env", {}).items()},
            "GITHUB_ENV": str(env_file),
            "GITHUB_OUTPUT": str(output_file),
        }
        if uses.startswith(ACTION_USES):
            given = {k: evaluate(str(v), context) for k, v in step.get("with", {}).items()}
            env.update(step_env("image", {"inputs": inputs_with_defaults(given)}))
            command = [sys.executable, str(ROOT / "entrypoint.py")]
        else:
            assert "run" in step, f"unsupported step {step}"
            command = ["bash", "-e", "-c", evaluate(step["run"], context)]
        result = subprocess.run(
            command, env=env, cwd=cwd, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, f"step {index} failed:\n{result.stdout}{result.stderr}"
        done.append(result)
        exported.update(read_outputs(env_file))
        if "id" in step:
            outputs[step["id"]] = {"outputs": read_outputs(output_file)}
    return done


def log_groups(log: str) -> list[tuple[str, list[str]]]:
    """The `::group::` blocks of a step's log, in order, with the lines inside each; asserts
    that groups do not nest, that each one is closed, and that the masks come first."""
    groups: list[tuple[str, list[str]]] = []
    inside: list[str] | None = None
    for line in log.splitlines():
        if line.startswith("::group::"):
            assert inside is None, f"group opened inside another: {line}"
            inside = []
            groups.append((line[len("::group::") :], inside))
        elif line == "::endgroup::":
            assert inside is not None, "endgroup without a group"
            inside = None
        elif inside is not None:
            inside.append(line)
    assert inside is None, "a group was left open"
    return groups
