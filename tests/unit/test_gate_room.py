"""One room for the gate: its reads and models live in gate/, it shares the one `Deploy` and
`Project` of sentry/models.py, and nothing in gate/ imports back up into steps/."""

from __future__ import annotations

import ast
from pathlib import Path

from sentry_release.gate import models
from sentry_release.sentry import models as sentry_models

GATE = Path(__file__).parents[2] / "src" / "sentry_release" / "gate"


def test_nothing_in_the_gate_imports_a_step() -> None:
    for path in sorted(GATE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("sentry_release.steps"), path.name


def test_one_deploy_and_one_project_type() -> None:
    assert models.Deploy is sentry_models.Deploy
    assert models.Project is sentry_models.Project


def test_the_deploy_gives_its_times_as_datetimes() -> None:
    deploy = sentry_models.Deploy.parse(
        {"id": "7", "environment": "production", "dateStarted": "2026-05-01T12:00:00.5Z"}
    )
    assert deploy.started is not None and deploy.started.isoformat().startswith("2026-05-01T12")
    assert deploy.finished is None
