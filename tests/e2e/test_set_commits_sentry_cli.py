"""sentry-cli 3.8.2's `releases set-commits` (--local, --commit, --auto) runs unchanged against
the stand-in, and leaves the same commits as our set-commits on the same repository.

Each tool works on its own project (sentry-cli: api, ours: web) so that previous-with-commits,
which only looks at releases sharing a project, gives each tool its own previous release.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from sentry_standin import DevServer
from sentry_standin.commits import add_repo
from tests.e2e.test_set_commits import git_says, held_commits, linear_history, read_all
from tests.helpers import NEEDS_SENTRY_CLI, ORG, SENTRY_CLI, git, make_repo, run_cli

pytestmark = NEEDS_SENTRY_CLI
URL = "https://github.com/acme/web"


def sentry_cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real binary, as a user would run it, for project `api`."""
    assert SENTRY_CLI is not None
    done = subprocess.run(
        [SENTRY_CLI, *args],
        env={**env, "SENTRY_PROJECT": "api"},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done


def ours(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = run_cli(list(args), env, cwd=cwd)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done


def details(server: DevServer, version: str) -> list[tuple[Any, ...]]:
    """What a user sees per commit: id, repository, message, author, date."""
    return [
        (c["id"], c["repository"]["name"], c["message"], c["author"], c["dateCreated"])
        for c in read_all(server, f"/organizations/{ORG}/releases/{version}/commits/")
    ]


def requests_since(server: DevServer, start: int) -> list[str]:
    return [
        f"{r['method']} {r['path'].split('/organizations/acme', 1)[-1]}"
        for r in server.store.requests[start:]
    ]


def test_local_mode_same_commits_as_sentry_cli(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, commits=25)
    git(repo, "remote", "add", "origin", f"{URL}.git")

    start = len(server.store.requests)
    sentry_cli(env, repo, "releases", "set-commits", "cli-1", "--local")
    # The requests sentry-cli 3.8.2 makes for --local (it lists repos even in local mode and
    # creates the release when a project is configured).
    assert requests_since(server, start) == [
        "GET /repos/",
        "POST /releases/",
        "GET /releases/cli-1/previous-with-commits/",
        "PUT /releases/cli-1/",
    ]
    ours(env, repo, "new", "ours-1")
    ours(env, repo, "set-commits", "ours-1", "--mode", "local")
    assert held_commits(server, "ours-1") == held_commits(server, "cli-1")
    assert held_commits(server, "ours-1") == git_says(repo, "-n", "20", "HEAD")

    # sentry-cli files local commits under its remote's *name* ("origin"); we use owner/repo
    # from the remote URL. Everything else about the commits is the same.
    cli, mine = details(server, "cli-1"), details(server, "ours-1")
    assert {c[1] for c in cli} == {"origin"}
    assert {c[1] for c in mine} == {"acme/web"}
    assert [c[:1] + c[2:] for c in cli] == [c[:1] + c[2:] for c in mine]

    # Next release: both send exactly the commits since their previous release.
    previous = git(repo, "rev-parse", "HEAD")
    for i in range(3):
        (repo / f"n{i}.txt").write_text(str(i))
        git(repo, "add", ".")
        git(repo, "commit", "-q", "-m", f"next {i}")
    git(repo, "mv", "src/file3.txt", "src/renamed.txt")
    git(repo, "commit", "-q", "-m", "rename")
    # With vcs_remote set to the URL, sentry-cli names the repository as we do.
    sentry_cli(
        {**env, "SENTRY_VCS_REMOTE": f"{URL}.git"},
        repo,
        "releases",
        "set-commits",
        "cli-2",
        "--local",
    )
    ours(env, repo, "new", "ours-2")
    ours(env, repo, "set-commits", "ours-2", "--mode", "local")
    assert held_commits(server, "ours-2") == git_says(repo, f"{previous}..HEAD")
    assert held_commits(server, "cli-2") == held_commits(server, "ours-2")
    assert details(server, "cli-2") == details(server, "ours-2")


def test_commit_spec_same_commits_as_sentry_cli(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    origin = tmp_path / "origin"
    linear_history(origin, 35)
    add_repo(server.store, ORG, "acme/web", URL, git_dir=origin)
    head = git(origin, "rev-parse", "HEAD~2")
    start = len(server.store.requests)
    sentry_cli(env, origin, "releases", "set-commits", "cli-1", "--commit", f"acme/web@{head}")
    assert requests_since(server, start) == [
        "GET /repos/",
        "POST /releases/",
        "PUT /releases/cli-1/",
    ]
    ours(env, origin, "new", "ours-1")
    ours(env, origin, "set-commits", "ours-1", "--mode", "manual", "--commit", f"acme/web@{head}")
    assert held_commits(server, "ours-1") == git_says(origin, "-n", "30", head)
    assert details(server, "cli-1") == details(server, "ours-1")
    assert held_commits(server, "cli-1") == held_commits(server, "ours-1")

    base = git(origin, "rev-parse", "HEAD~10")
    sentry_cli(
        env, origin, "releases", "set-commits", "cli-2", "--commit", f"acme/web@{base}..{head}"
    )
    ours(env, origin, "new", "ours-2")
    ours(
        env,
        origin,
        "set-commits",
        "ours-2",
        "--mode",
        "manual",
        "--commit",
        f"acme/web@{base}..{head}",
    )
    assert held_commits(server, "ours-2") == git_says(origin, f"{base}..{head}")
    assert details(server, "cli-2") == details(server, "ours-2")


def test_auto_mode_same_commits_as_sentry_cli(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    origin = tmp_path / "origin"
    linear_history(origin, 40)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", f"file://{origin}", str(clone))
    git(clone, "remote", "set-url", "origin", "git@github.com:acme/web.git")
    add_repo(server.store, ORG, "acme/web", URL, git_dir=origin)

    start = len(server.store.requests)
    sentry_cli(env, clone, "releases", "set-commits", "cli-1", "--auto")
    assert requests_since(server, start) == [
        "GET /repos/",
        "POST /releases/",
        "PUT /releases/cli-1/",
    ]
    ours(env, clone, "new", "ours-1")
    done = ours(env, clone, "set-commits", "ours-1")
    assert "refs" in done.stdout
    first = git(clone, "rev-parse", "HEAD")
    assert held_commits(server, "ours-1") == git_says(origin, "-n", "30", first)
    assert details(server, "cli-1") == details(server, "ours-1")

    # Second release: sentry-cli sends no previousCommit (Sentry uses the previous release's
    # head); we send the previous release's lastCommit. Same range either way.
    linear_history(origin, 4, start=40)
    git(clone, "fetch", "-q", f"file://{origin}", "main")
    git(clone, "checkout", "-q", "--detach", "FETCH_HEAD")
    sentry_cli(env, clone, "releases", "set-commits", "cli-2", "--auto")
    ours(env, clone, "new", "ours-2")
    ours(env, clone, "set-commits", "ours-2")
    cli_refs = server.store.release(ORG, "cli-2")["refs"]  # type: ignore[index]
    our_refs = server.store.release(ORG, "ours-2")["refs"]  # type: ignore[index]
    assert cli_refs == our_refs
    assert our_refs[0]["previousCommit"] == first
    assert held_commits(server, "ours-2") == git_says(origin, f"{first}..main")
    assert details(server, "cli-2") == details(server, "ours-2")
