"""Plays the GitHub runner for action.yml's composite: evaluates the few expressions its steps
use (inputs, step outputs, the action path), and runs a step's `run:` in bash, or the image's
entry point with the same INPUT_* (tests.action.test_runner.run_step)."""

from __future__ import annotations

import re
import shutil
import subprocess
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
