"""A `.sentryclirc` in the checkout never picks where the action sends the token; the CLI
honours one in the tree with a warning."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sentry_standin import DevServer, Store
from tests.helpers import ORG, PROJECTS, TOKEN, git, make_repo, run_cli


def write_rc(directory: Path, url: str) -> Path:
    rc = directory / ".sentryclirc"
    rc.write_text(f"[defaults]\nurl = {url}\n", encoding="utf-8")
    return rc


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
