"""Issue #13, second round: a `.sentryclirc` in the checkout never picks the action's URL,
untrusted text cannot forge a workflow command, and what can be checked before the first write
is checked first (nothing is sent when it fails)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentry_standin import DevServer, Store
from tests.helpers import ORG, PROJECTS, TOKEN, git, make_repo, run_cli

FIXTURES = Path(__file__).parents[1] / "fixtures" / "sourcemaps" / "dist"
FORGED = "\n::warning ::forged"


def write_rc(directory: Path, url: str) -> Path:
    rc = directory / ".sentryclirc"
    rc.write_text(f"[defaults]\nurl = {url}\n", encoding="utf-8")
    return rc


# --- item 2: a .sentryclirc in the workspace does not choose where the token goes ---------


@pytest.fixture
def evil() -> Iterator[DevServer]:
    with DevServer(Store(orgs=(ORG,), projects=PROJECTS, tokens=(TOKEN,))) as srv:
        yield srv


def test_action_ignores_the_url_of_a_sentryclirc_in_the_workspace(
    tmp_path: Path, evil: DevServer
) -> None:
    from tests.action.test_runner import run_step

    workspace = tmp_path / "workspace"
    make_repo(workspace, commits=1)
    write_rc(workspace, evil.url)
    git(workspace, "add", ".sentryclirc")
    git(workspace, "commit", "-qm", "rc")
    run = run_step(
        workspace,
        tmp_path,
        {"org": ORG, "projects": "web", "set_commits": "skip", "release": "1.0"},
        # The default URL is made unreachable: nothing may leave this machine.
        env={
            "SENTRY_AUTH_TOKEN": TOKEN,
            "SENTRY_RELEASE_RETRY_BUDGET": "1",
            "HTTPS_PROXY": "http://127.0.0.1:9",
            "https_proxy": "http://127.0.0.1:9",
        },
    )
    assert evil.store.requests == []
    assert run.code == 1, run.stdout + run.stderr
    warnings = [line for line in run.stdout.splitlines() if ".sentryclirc" in line]
    assert len(warnings) == 1 and "trust_sentryclirc_url" in warnings[0], run.stdout


def test_action_uses_the_rc_url_when_the_input_says_so(tmp_path: Path, evil: DevServer) -> None:
    from tests.action.test_runner import run_step

    workspace = tmp_path / "workspace"
    make_repo(workspace, commits=1)
    write_rc(workspace, evil.url)
    run = run_step(
        workspace,
        tmp_path,
        {
            "org": ORG,
            "projects": "web",
            "set_commits": "skip",
            "release": "1.0",
            "trust_sentryclirc_url": "true",
        },
        env={"SENTRY_AUTH_TOKEN": TOKEN},
    )
    assert run.code == 0, run.stdout + run.stderr
    assert any(r["method"] == "POST" for r in evil.store.requests)


def test_cli_honours_an_rc_url_in_the_tree_with_one_warning(
    tmp_path: Path, server: DevServer, env: dict[str, str]
) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, commits=1)
    rc = write_rc(repo, server.url)
    env = {k: v for k, v in env.items() if k != "SENTRY_URL"}
    done = run_cli(["new", "1.0"], env, cwd=repo)
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and str(rc) in warnings[0], done.stderr
    assert any(r["method"] == "POST" for r in server.store.requests)


# --- item 7: untrusted text never starts a workflow command -------------------------------


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


# --- item 11: checks before the first write ------------------------------------------------


@pytest.mark.parametrize(
    ("environment", "problem"),
    [("prod/eu", "'/'"), ("a" * 65, "64"), ("prod\nx", "newline")],
    ids=["slash", "too-long", "newline"],
)
def test_an_environment_sentry_refuses_is_exit_2_before_any_request(
    tmp_path: Path, server: DevServer, env: dict[str, str], environment: str, problem: str
) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, commits=1)
    for args in (["deploy", "1.0"], ["run", "1.0", "--mode", "skip"]):
        done = run_cli([*args, "--env", environment], env, cwd=repo)
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "environment" in lines[0] and problem in lines[0], lines
    assert server.store.requests == []


@pytest.mark.parametrize("name", ["latest", "Latest", "LATEST"])
def test_latest_in_any_case_is_refused(
    tmp_path: Path, server: DevServer, env: dict[str, str], name: str
) -> None:
    done = run_cli(["new", name], env, cwd=tmp_path)
    assert done.returncode == 2 and "reserved" in done.stderr, done.stderr
    assert server.store.requests == []


def test_an_explicitly_empty_release_name_is_exit_2(
    tmp_path: Path, server: DevServer, env: dict[str, str]
) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, commits=1)
    for args in (["new", ""], ["deploy", "", "--env", "production"]):
        done = run_cli(args, env, cwd=repo)
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().splitlines() == [
            "error: release name is empty: pass a version or set SENTRY_RELEASE"
        ]
    assert server.store.requests == []


def test_a_manual_commit_that_does_not_resolve_is_exit_2_before_the_release(
    tmp_path: Path, server: DevServer, env: dict[str, str]
) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, commits=1)
    done = run_cli(
        ["run", "1.0", "--mode", "manual", "--commit", "acme/web@no-such-ref"], env, cwd=repo
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no-such-ref" in lines[0], lines
    assert server.store.requests == []


def test_an_empty_repository_is_exit_2_before_the_release(
    tmp_path: Path, server: DevServer, env: dict[str, str]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    done = run_cli(["run", "1.0", "--mode", "local"], env, cwd=repo)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no commit" in lines[0], lines
    assert server.store.requests == []
