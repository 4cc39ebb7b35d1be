"""Untrusted text (file and release names, lines we did not write) never starts a GitHub
workflow command; the action's own commands still do."""

from __future__ import annotations

import shutil
from pathlib import Path

from sentry_standin import DevServer
from tests.helpers import ORG, TOKEN, make_repo

FIXTURES = Path(__file__).parents[1] / "fixtures" / "sourcemaps" / "dist"
FORGED = "\n::warning ::forged"


def forged_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith("::warning")]


def test_a_file_name_cannot_forge_a_workflow_command(tmp_path: Path, server: DevServer) -> None:
    from tests.action.test_runner import run_step

    workspace = tmp_path / "workspace"
    make_repo(workspace, commits=1)
    dist = workspace / "dist"
    shutil.copytree(FIXTURES, dist)
    bundle = next(dist.glob("*.js"))
    bundle.rename(dist / f"x{FORGED}.js")
    run = run_step(
        workspace,
        tmp_path,
        {
            "url": server.url,
            "org": ORG,
            "projects": "web",
            "set_commits": "skip",
            "release": "1.0",
            "sourcemaps": "dist",
            "debug": "true",
        },
        env={"SENTRY_AUTH_TOKEN": TOKEN},
    )
    assert "forged" in run.stdout + run.stderr  # the name was printed ...
    assert forged_lines(run.stdout) == [], run.stdout  # ... but never as a command
    assert forged_lines(run.stderr) == [], run.stderr


def test_a_release_name_cannot_forge_a_workflow_command(tmp_path: Path, server: DevServer) -> None:
    from tests.action.test_runner import run_step

    workspace = tmp_path / "workspace"
    make_repo(workspace, commits=1)
    run = run_step(
        workspace,
        tmp_path,
        {"url": server.url, "org": ORG, "projects": "web", "release": f"1.0{FORGED}"},
        env={"SENTRY_AUTH_TOKEN": TOKEN},
    )
    assert run.code == 2, run.stdout + run.stderr
    assert forged_lines(run.stdout) == [] and forged_lines(run.stderr) == []


def test_action_output_neutralises_untrusted_lines_and_keeps_its_own_commands() -> None:
    import io

    from sentry_release.action import ActionOutput

    stdout, stderr = io.StringIO(), io.StringIO()
    out = ActionOutput(github=True, stdout=stdout, stderr=stderr, is_tty=False)
    out.result(f"uploaded x{FORGED}.js")
    out.info(f"  ::error::also forged{FORGED}")
    out.table(["file"], [[f"a{FORGED}"]])
    with out.group(f"Upload{FORGED}"):
        out.warn(f"bad map{FORGED}")
    out.error(f"failed{FORGED}", title="Upload")
    lines = stdout.getvalue().splitlines() + stderr.getvalue().splitlines()
    commands = [line for line in lines if line.lstrip().startswith("::")]
    assert [c.split("::")[1] for c in commands] == [
        "group",
        "warning",
        "endgroup",
        "error title=Upload",
    ]
    assert all("\n" not in c for c in commands)
    assert not any("##[" in line for line in lines)
