"""Where a release's commit range starts, through the CLI against the stand-in.

The previous release's last commit starts the range only when it is this repository's: a sha
of another repository would make a meaningless range. Manual specs are resolved in the
checkout, and what was sent is what `--json` reports.
"""

from __future__ import annotations

import json
from pathlib import Path

from sentry_standin import DevServer
from sentry_standin.commits import add_repo
from tests.e2e.test_set_commits import git_says, held_commits, puts, shallow_setup
from tests.helpers import ORG, commit, git, make_repo, run_cli

NOTHING_NEW = (
    "no new commits to associate, the release's commits are left alone "
    "(pass --ignore-empty-commits, or ignore_empty, when that is expected)"
)


def local_release(repo: Path, version: str, env: dict[str, str]) -> str:
    assert run_cli(["new", version], env, cwd=repo).returncode == 0
    done = run_cli(["set-commits", version, "--mode", "local"], env, cwd=repo)
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_another_repositorys_last_commit_does_not_start_the_range(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    api = tmp_path / "api"
    make_repo(api, commits=2)
    git(api, "remote", "add", "origin", "https://github.com/acme/api.git")
    local_release(api, "1.0", env)
    web = tmp_path / "web"
    make_repo(web, commits=3)
    git(web, "remote", "add", "origin", "https://github.com/acme/web.git")
    said = local_release(web, "2.0", env)
    # acme/api's head is not in acme/web's history: no range from it, the first-release depth
    assert "no previous release with commits: sending the last 20" in said
    assert held_commits(server, "2.0") == git_says(web, "-n", "20", "HEAD")


def test_the_same_repository_spelled_differently_starts_the_range(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    repo = tmp_path / "web"
    shas = make_repo(repo, commits=2)
    git(repo, "remote", "add", "origin", "https://github.com/Acme/Web.git")
    local_release(repo, "1.0", env)
    git(repo, "remote", "set-url", "origin", "git@github.com:acme/web.git")
    git(repo, "commit", "-q", "--allow-empty", "-m", "next")
    local_release(repo, "2.0", env)
    assert held_commits(server, "2.0") == git_says(repo, f"{shas[-1]}..HEAD")
    assert len(held_commits(server, "2.0")) == 1


def test_manual_refs_report_mode_and_range_in_json(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    origin = tmp_path / "origin"
    shas = make_repo(origin, commits=3)
    add_repo(server.store, ORG, "acme/web", f"file://{origin}")
    run_cli(["new", "1.0"], env, cwd=origin)
    spec = f"acme/web@{shas[0][:10]}..HEAD"
    done = run_cli(
        ["set-commits", "1.0", "--mode", "manual", "--commit", spec, "--json"], env, cwd=origin
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["mode"] == "refs" and data["count"] is None
    assert data["associations"] == [
        {
            "repository": "acme/web",
            "mode": "refs",
            "previous": shas[0],
            "head": shas[-1],
            "count": None,
        }
    ]


def test_manual_revision_unknown_to_the_checkout_names_the_spec(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    repo = tmp_path / "web"
    shas = make_repo(repo, commits=2)
    run_cli(["new", "1.0"], env, cwd=repo)
    for spec, rev in (
        ("acme/web@nosuchtag", "nosuchtag"),
        (f"acme/web@nosuchtag..{shas[-1]}", "nosuchtag"),
        ("acme/web@abcdef1", "abcdef1"),  # a short sha this checkout does not have
    ):
        done = run_cli(["set-commits", "1.0", "--mode", "manual", "--commit", spec], env, cwd=repo)
        assert done.returncode == 2, spec
        why = f"cannot resolve {rev!r} in this checkout: give a full commit sha"
        assert f"--commit acme/web@...: {why}" in done.stderr, done.stderr
    assert puts(server, "1.0") == []


def test_manual_short_sha_outside_a_checkout_is_sent_as_given(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    origin = tmp_path / "origin"
    shas = make_repo(origin, commits=2)
    add_repo(server.store, ORG, "acme/web", f"file://{origin}")
    outside = tmp_path / "outside"
    outside.mkdir()
    run_cli(["new", "1.0"], env, cwd=outside)
    spec = f"acme/web@{shas[-1][:12]}"
    done = run_cli(["set-commits", "1.0", "--mode", "manual", "--commit", spec], env, cwd=outside)
    assert done.returncode == 0, done.stderr
    assert len(puts(server, "1.0")) == 1
    (ref,) = server.store.release(ORG, "1.0")["refs"]  # type: ignore[index]
    assert ref["repository"] == "acme/web" and ref["commit"] == shas[-1][:12]
    assert ref.get("previousCommit") is None


def test_a_release_at_the_previous_head_has_no_new_commits(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    repo = tmp_path / "web"
    shas = make_repo(repo, commits=2)
    local_release(repo, "1.0", env)
    assert run_cli(["new", "2.0"], env, cwd=repo).returncode == 0
    done = run_cli(["set-commits", "2.0", "--mode", "local", "--json"], env, cwd=repo)
    assert done.returncode == 0, done.stderr
    said = f"warning: the previous release already ends at HEAD ({shas[-1][:12]}): {NOTHING_NEW}"
    assert said in done.stderr.splitlines()
    data = json.loads(done.stdout)
    assert data["mode"] == "local" and data["count"] == 0
    assert data["associations"] == [
        {"repository": "web", "mode": "local", "previous": shas[-1], "head": shas[-1], "count": 0}
    ]
    assert puts(server, "2.0") == []


def test_a_head_behind_the_previous_release_leaves_the_commits_alone(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    """A rollback: HEAD is an ancestor of the previous release's commit, the range is empty."""
    repo = tmp_path / "web"
    make_repo(repo, commits=3)
    local_release(repo, "1.0", env)
    git(repo, "reset", "-q", "--hard", "HEAD~1")
    said = local_release(repo, "2.0", env)
    assert f"warning: no commits in the range: {NOTHING_NEW}" in said.splitlines()
    assert puts(server, "2.0") == []
    assert run_cli(["new", "3.0"], env, cwd=repo).returncode == 0
    args = ["set-commits", "3.0", "--mode", "local", "--ignore-empty-commits"]
    done = run_cli(args, env, cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "no commits in the range: no new commits, leaving the release's commits alone" in (
        done.stderr.splitlines()
    )


def test_a_previous_commit_gone_from_a_full_history_says_check_the_history(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    before = tmp_path / "before" / "web"
    make_repo(before, commits=1)
    gone = commit(before, {"amended.txt": "x\n"}, "amended away")
    local_release(before, "1.0", env)
    repo = tmp_path / "web"
    make_repo(repo, commits=2)
    git(repo, "commit", "-q", "--allow-empty", "-m", "rewritten")
    assert run_cli(["new", "2.0"], env, cwd=repo).returncode == 0
    done = run_cli(["set-commits", "2.0", "--mode", "local"], env, cwd=repo)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: the previous release's commit {gone[:12]} is not in the git history "
        "(amended, squashed or force-pushed away?): check the history, "
        "or pass --ignore-missing to send the last 20 commits"
    ]


def test_ignore_missing_in_a_shallow_clone_that_cannot_fetch_warns_twice(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    _, clone, previous = shallow_setup(server, env, tmp_path)
    git(clone, "remote", "set-url", "origin", f"file://{tmp_path}/gone")
    done = run_cli(
        ["set-commits", "2.0", "--mode", "local", "--ignore-missing", "--initial-depth", "4"],
        env,
        cwd=clone,
    )
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2, done.stderr
    assert previous[:12] in warnings[0]
    assert warnings[0].endswith("; sending the last 4 commits instead")
    assert "holds 1 of the last 4 commits and fetching more failed" in warnings[1]
    assert len(held_commits(server, "2.0")) == 1


def test_a_commit_over_sentrys_limits_is_sent_without_the_field_and_warned(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    repo = tmp_path / "web"
    make_repo(repo, commits=1)
    email = "x" * 80 + "@example.com"
    git(repo, "commit", "-q", "--allow-empty", "-m", "long", env={"GIT_AUTHOR_EMAIL": email})
    said = local_release(repo, "1.0", env)
    sha = git(repo, "rev-parse", "HEAD")
    assert (
        f"warning: commit {sha[:12]}: author email longer than 75 characters left out "
        "(Sentry rejects it)"
    ) in said.splitlines()
    assert len(held_commits(server, "1.0")) == 2


def test_a_local_range_is_reported_with_its_repository_and_start(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    repo = tmp_path / "web"
    first = make_repo(repo, commits=1)[-1]
    local_release(repo, "1.0", env)
    head = commit(repo, {"next.txt": "n\n"}, "next")
    assert run_cli(["new", "2.0"], env, cwd=repo).returncode == 0
    done = run_cli(["set-commits", "2.0", "--mode", "local", "--json"], env, cwd=repo)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["associations"] == [
        {"repository": "web", "mode": "local", "previous": first, "head": head, "count": 1}
    ]
