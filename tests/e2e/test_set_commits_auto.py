"""`set-commits` auto mode: when it falls back to the local history, the line that says why,
and the repository the local commits are filed under."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sentry_release.steps.commits import repos_refused_warning
from sentry_standin import DevServer
from sentry_standin.commits import add_repo
from sentry_standin.faults import FaultPlan
from tests.e2e.test_set_commits import git_says, held_commits, read_all
from tests.helpers import ORG, commit, git, make_repo, run_cli

FALLBACK = "; associating commits from the local git history instead"


def auto(repo: Path, env: dict[str, str], version: str = "1.0") -> tuple[int, list[str]]:
    assert run_cli(["new", version], env, cwd=repo).returncode == 0
    done = run_cli(["set-commits", version], env, cwd=repo)
    return done.returncode, done.stderr.splitlines()


def filed_under(server: DevServer, version: str) -> set[str]:
    commits = read_all(server, f"/organizations/{ORG}/releases/{version}/commits/")
    return {c["repository"]["name"] for c in commits}


def refused_line(detail: str) -> str:
    return (
        "warning: set-commits auto: this token may not list the repositories of acme "
        f"(403 on GET /organizations/acme/repos/: {detail}); associated commits from the local "
        "git history instead. A token with org:read or org:integrations lets auto send refs to "
        "the repository integration, which fetches them itself (self-hosted Sentry 23.x does "
        "not grant this list to org:ci)"
    )


def test_a_token_that_may_not_list_repositories_means_local_history_and_a_warning(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    repo = tmp_path / "checkout"  # no remote: the name comes from GITHUB_REPOSITORY
    make_repo(repo, commits=2)
    server.faults = FaultPlan.parse("GET /organizations/*/repos/=403")
    env = {**env, "GITHUB_REPOSITORY": "acme/web"}
    assert run_cli(["new", "1.0"], env, cwd=repo).returncode == 0
    done = run_cli(["set-commits", "1.0", "--json"], env, cwd=repo)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[0] == refused_line("Injected fault: HTTP 403 (error)")
    data = json.loads(done.stdout)
    assert data["mode"] == "local" and data["associations"][0]["mode"] == "local"
    assert held_commits(server, "1.0") == git_says(repo, "HEAD")
    assert filed_under(server, "1.0") == {"acme/web"}


def test_the_refusal_without_sentrys_words_says_permission_denied() -> None:
    assert "warning: " + repos_refused_warning("acme", None) == refused_line("permission denied")


@pytest.mark.parametrize("status", [404])
def test_repositories_sentry_will_not_list_mean_local_history(
    server: DevServer, env: dict[str, str], tmp_path: Path, status: int
) -> None:
    repo = tmp_path / "web"
    make_repo(repo, commits=2)
    git(repo, "remote", "add", "origin", "https://github.com/acme/web.git")
    server.faults = FaultPlan.parse(f"GET /organizations/*/repos/={status}")
    code, err = auto(repo, env)
    assert code == 0, err
    assert (
        "cannot list the organization's repositories "
        f"(Injected fault: HTTP {status} (error))"  # Sentry's detail, as the stand-in words it
        + FALLBACK
    ) in err
    assert held_commits(server, "1.0") == git_says(repo, "HEAD")


def test_any_other_error_listing_repositories_fails_the_step(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    repo = tmp_path / "web"
    make_repo(repo, commits=1)
    server.faults = FaultPlan.parse("GET /organizations/*/repos/=400")
    code, err = auto(repo, env)
    assert code == 1
    assert any("Injected fault: HTTP 400" in line for line in err), err
    assert held_commits(server, "1.0") == []


def test_no_remote_and_no_github_repository_says_so(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    repo = tmp_path / "web"
    make_repo(repo, commits=1)
    env = {k: v for k, v in env.items() if k != "GITHUB_REPOSITORY"}
    code, err = auto(repo, env)
    assert code == 0, err
    assert (
        "this checkout has no remote 'origin' and GITHUB_REPOSITORY is not set" + FALLBACK
    ) in err
    assert filed_under(server, "1.0") == {"web"}  # the folder's name


def test_no_integration_at_all_says_where_to_connect_one(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    repo = tmp_path / "web"
    make_repo(repo, commits=1)
    git(repo, "remote", "add", "origin", "https://github.com/acme/web.git")
    code, err = auto(repo, env)
    assert code == 0, err
    assert (
        "no repositories are connected to Sentry through an integration "
        "(Settings > Integrations)" + FALLBACK
    ) in err


def test_no_match_names_the_urls_tried_and_the_first_five_repositories(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    repo = tmp_path / "web"
    make_repo(repo, commits=1)
    git(repo, "remote", "add", "origin", "git@github.com:acme/web2.git")
    for name in ("acme/f", "acme/e", "acme/d", "acme/c", "acme/b", "acme/a"):
        add_repo(server.store, ORG, name, f"https://github.com/{name}")
    env = {**env, "GITHUB_REPOSITORY": "acme/web"}
    code, err = auto(repo, env)
    assert code == 0, err
    assert (
        "no Sentry repository matches https://github.com/acme/web or "
        "git@github.com:acme/web2.git (Sentry has: acme/a, acme/b, acme/c, acme/d, acme/e)"
        + FALLBACK
    ) in err
    # no remote name to go by first: the remote's owner/repo, not GITHUB_REPOSITORY
    assert filed_under(server, "1.0") == {"acme/web2"}


def test_fallback_without_a_remote_files_commits_under_github_repository(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    repo = tmp_path / "checkout"
    make_repo(repo, commits=1)
    add_repo(server.store, ORG, "acme/api", "https://github.com/acme/api")
    code, err = auto(repo, {**env, "GITHUB_REPOSITORY": "acme/web"})
    assert code == 0, err
    assert filed_under(server, "1.0") == {"acme/web"}


def test_fallback_keeps_sentrys_spelling_of_a_repository_it_knows(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    repo = tmp_path / "web"
    make_repo(repo, commits=1)
    git(repo, "remote", "add", "origin", "https://github.com/Acme/Web.git")
    assert run_cli(["new", "1.0"], env, cwd=repo).returncode == 0
    assert run_cli(["set-commits", "1.0", "--mode", "local"], env, cwd=repo).returncode == 0
    git(repo, "remote", "set-url", "origin", "https://github.com/acme/web.git")
    git(repo, "commit", "-q", "--allow-empty", "-m", "next")
    code, err = auto(repo, env, "2.0")
    assert code == 0, err
    assert filed_under(server, "2.0") == {"Acme/Web"}


def sent_refs(repo: Path, env: dict[str, str], version: str) -> str:
    """What `set-commits` would PUT (its dry-run preview), for a release made first."""
    assert run_cli(["new", version], env, cwd=repo).returncode == 0
    done = run_cli(["set-commits", version, "--dry-run"], env, cwd=repo)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_refs_start_at_the_previous_release_of_the_same_repository(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    origin = tmp_path / "web"
    first = make_repo(origin, commits=2)[-1]
    add_repo(server.store, ORG, "acme/web", f"file://{origin}")
    git(origin, "remote", "add", "origin", f"file://{origin}")
    assert auto(origin, env)[0] == 0
    git(origin, "commit", "-q", "--allow-empty", "-m", "next")
    shown = sent_refs(origin, env, "2.0")
    assert f'"previousCommit": "{first}"' in shown


def test_refs_never_start_at_another_repositorys_commit(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    api = tmp_path / "api"
    make_repo(api, commits=1)
    commit(api, {"api.txt": "api\n"}, "api only")
    add_repo(server.store, ORG, "acme/api", f"file://{api}")
    git(api, "remote", "add", "origin", f"file://{api}")
    assert auto(api, env)[0] == 0
    web = tmp_path / "web"
    make_repo(web, commits=2)
    add_repo(server.store, ORG, "acme/web", f"file://{web}")
    git(web, "remote", "add", "origin", f"file://{web}")
    shown = sent_refs(web, env, "2.0")
    assert '"repository": "acme/web"' in shown and "previousCommit" not in shown
