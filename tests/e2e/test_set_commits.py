"""set-commits through the real CLI against the stand-in, on real repositories in tmp_path.

Expected commit lists come from plain git (`git log`, `git diff-tree`), one process per
commit, independent of the streaming parser under test; what Sentry holds is read back
through its read endpoints (release commits and commit files).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests

from sentry_standin import DevServer
from sentry_standin.commits import add_repo
from tests.helpers import GIT_ENV, ORG, TOKEN, commit, git, make_repo, run_cli

HEADERS = {"Authorization": f"Bearer {TOKEN}"}


# --- reading back and computing what git says ------------------------------------------------


def read_all(server: DevServer, path: str) -> list[dict[str, Any]]:
    """Every item of a paginated read endpoint: the `next` cursor reused against the server
    we called (Link URLs name Sentry's url-prefix host, as Sentry builds them)."""
    url = f"{server.url}api/0{path}"
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"cursor": cursor} if cursor else None
        response = requests.get(url, headers=HEADERS, params=params, timeout=10)
        assert response.status_code == 200, response.text
        items.extend(response.json())
        nxt = response.links.get("next")
        if not nxt or nxt.get("results") != "true":
            return items
        cursor = nxt["cursor"]


def held_commits(server: DevServer, version: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """(sha, patch set) of each commit the stand-in holds for the release, newest first."""
    commits = read_all(server, f"/organizations/{ORG}/releases/{version}/commits/")
    files = read_all(server, f"/organizations/{ORG}/releases/{version}/commitfiles/")
    by_message: dict[str, list[tuple[str, str]]] = {}
    for change in files:
        by_message.setdefault(change["commitMessage"], []).append(
            (change["type"], change["filename"])
        )
    return [(c["id"], sorted(by_message.get(c["message"], []))) for c in commits]


def release(server: DevServer, version: str) -> dict[str, Any]:
    response = requests.get(
        f"{server.url}api/0/organizations/{ORG}/releases/{version}/", headers=HEADERS, timeout=10
    )
    result: dict[str, Any] = response.json()
    return result


def git_says(repo: Path, *revs: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """`git log REVS` ids with each commit's name-status against its first parent."""
    shas = git(repo, "log", "--format=%H", *revs).split()
    expected = []
    for sha in shas:
        parents = git(repo, "rev-list", "--parents", "-n", "1", sha).split()[1:]
        if parents:
            out = git(repo, "diff", "--name-status", "--no-renames", parents[0], sha)
        else:
            out = git(repo, "show", "--format=", "--name-status", "--no-renames", sha)
        changes = [tuple(line.split("\t", 1)) for line in out.splitlines() if line.strip()]
        expected.append((sha, sorted((t, p) for t, p in changes)))  # type: ignore[misc]
    return expected


def linear_history(path: Path, count: int, start: int = 0) -> None:
    """`count` commits on main quickly via fast-import, each touching one numbered file."""
    if not (path / ".git").exists():
        path.mkdir(parents=True, exist_ok=True)
        git(path, "init", "-q", "-b", "main")
    parent = git(path, "rev-parse", "--verify", "-q", "main") if start else ""
    lines = []
    for i in range(start, start + count):
        msg = f"commit {i}\n".encode()
        lines.append(b"commit refs/heads/main\n")
        stamp = 1_700_000_000 + i * 60
        lines.append(b"author A <a@example.com> %d +0000\n" % stamp)
        lines.append(b"committer A <a@example.com> %d +0000\n" % stamp)
        lines.append(b"data %d\n%s" % (len(msg), msg))
        if i == start and parent:
            lines.append(f"from {parent}\n".encode())
        body = f"{i}\n".encode()
        lines.append(b"M 644 inline f%d.txt\ndata %d\n%s\n" % (i % 7, len(body), body))
    subprocess.run(
        ["git", "fast-import", "--quiet", "--force"],
        cwd=path,
        input=b"".join(lines),
        check=True,
        env=GIT_ENV,
    )
    git(path, "reset", "-q", "--hard", "main")


def puts(server: DevServer, version: str) -> list[dict[str, Any]]:
    return [
        r
        for r in server.store.requests
        if r["method"] == "PUT" and r["path"].endswith(f"/releases/{version}/")
    ]


# --- local mode -----------------------------------------------------------------------------------


@pytest.mark.slow  # real clones and fetches
def test_first_release_sends_initial_depth_then_next_sends_the_range(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, commits=23)
    git(repo, "remote", "add", "origin", "https://github.com/Acme/Unknown.git")
    assert run_cli(["new", "1.0"], env, cwd=repo).returncode == 0
    done = run_cli(["set-commits", "1.0", "--mode", "local"], env, cwd=repo)
    assert done.returncode == 0, done.stderr
    assert held_commits(server, "1.0") == git_says(repo, "-n", "20", "HEAD")
    assert re.search(r"Acme/Unknown\s+local\s", done.stdout)
    assert "Associated 20 commit(s) with release 1.0" in done.stdout
    first_head = git(repo, "rev-parse", "HEAD")
    assert release(server, "1.0")["lastCommit"]["id"] == first_head

    commit(repo, {"src/file0.txt": "changed\n", "src/new.txt": "n\n"}, "edit")
    commit(repo, {"src/file1.txt": None}, "delete")
    git(repo, "mv", "src/file2.txt", "src/moved.txt")
    git(repo, "commit", "-q", "-m", "rename")
    assert run_cli(["new", "2.0"], env, cwd=repo).returncode == 0
    done = run_cli(["set-commits", "2.0"], env, cwd=repo)  # auto: no Sentry repo matches
    assert done.returncode == 0, done.stderr
    assert "no repositories are connected to Sentry" in done.stderr
    assert "local git history instead" in done.stderr
    held = held_commits(server, "2.0")
    assert held == git_says(repo, f"{first_head}..HEAD")
    assert held[0][1] == [("A", "src/moved.txt"), ("D", "src/file2.txt")]
    assert release(server, "2.0")["commitCount"] == 3
    assert f"{first_head[:12]}..{git(repo, 'rev-parse', 'HEAD')[:12]}" in done.stdout


def test_tag_to_tag_range_with_a_merge_and_detached_heads(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, commits=3, tag="v1")
    git(repo, "checkout", "-q", "-b", "feature")
    commit(repo, {"feature.txt": "f\n"}, "feature work")
    git(repo, "checkout", "-q", "main")
    commit(repo, {"main.txt": "m\n"}, "main work")
    git(repo, "merge", "-q", "--no-ff", "-m", "merge feature", "feature")
    commit(repo, {"after.txt": "a\n"}, "after merge")
    git(repo, "tag", "v2")
    commit(repo, {"later.txt": "l\n"}, "not released yet")

    git(repo, "checkout", "-q", "--detach", "v1")
    assert run_cli(["new", "1.0"], env, cwd=repo).returncode == 0
    assert run_cli(["set-commits", "1.0", "--mode", "local"], env, cwd=repo).returncode == 0
    git(repo, "checkout", "-q", "--detach", "v2")
    assert run_cli(["new", "2.0"], env, cwd=repo).returncode == 0
    done = run_cli(["set-commits", "2.0", "--mode", "local"], env, cwd=repo)
    assert done.returncode == 0, done.stderr

    held = held_commits(server, "2.0")
    assert held == git_says(repo, "v1..v2")
    assert len(held) == 4  # after merge, merge, main work, feature work
    merge = git(repo, "rev-parse", "v2~1")
    assert (merge, [("A", "feature.txt")]) in held  # the merge's first-parent diff


def test_non_utf8_history_is_sent_with_replacement_characters(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, commits=1)
    message = "r\xe9sum\xe9\n".encode("latin-1")  # `git commit` would convert it; fast-import won't
    stream = (
        b"commit refs/heads/main\nauthor Jos\xe9 <j@example.com> 1700000000 +0000\n"
        b"committer C <c@example.com> 1700000000 +0000\n"
        + b"data %d\n%s" % (len(message), message)
        + b"from refs/heads/main^0\nM 644 inline caf\xe9.txt\ndata 2\nx\n\n"
    )
    subprocess.run(
        ["git", "fast-import", "--quiet", "--force"],
        cwd=repo,
        input=stream,
        check=True,
        env=GIT_ENV,
    )
    git(repo, "reset", "-q", "--hard", "main")
    run_cli(["new", "1.0"], env, cwd=repo)
    done = run_cli(["set-commits", "1.0", "--mode", "local"], env, cwd=repo)
    assert done.returncode == 0, done.stderr
    commits = read_all(server, f"/organizations/{ORG}/releases/1.0/commits/")
    assert commits[0]["message"] == "r\ufffdsum\ufffd\n"
    assert commits[0]["author"]["name"] == "Jos\ufffd"
    assert held_commits(server, "1.0")[0][1] == [("A", "caf\ufffd.txt")]


# --- shallow clones -------------------------------------------------------------------------------


def shallow_setup(server: DevServer, env: dict[str, str], tmp_path: Path) -> tuple[Path, Path, str]:
    """An origin of 120 commits with release 1.0 at commit 9, and a depth-1 clone of it."""
    origin = tmp_path / "origin"
    linear_history(origin, 10)
    previous = git(origin, "rev-parse", "HEAD")
    assert run_cli(["new", "1.0"], env, cwd=origin).returncode == 0
    done = run_cli(
        ["set-commits", "1.0", "--mode", "local", "--initial-depth", "3"], env, cwd=origin
    )
    assert done.returncode == 0, done.stderr
    linear_history(origin, 110, start=10)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{origin}", str(clone))
    assert git(clone, "rev-parse", "--is-shallow-repository") == "true"
    assert run_cli(["new", "2.0"], env, cwd=clone).returncode == 0
    return origin, clone, previous


@pytest.mark.slow  # several real clones and fetches
def test_shallow_clone_is_deepened_until_the_previous_commit_is_found(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    origin, clone, previous = shallow_setup(server, env, tmp_path)
    done = run_cli(["set-commits", "2.0", "--mode", "local"], env, cwd=clone)
    assert done.returncode == 0, done.stderr
    assert "fetching 50 more commits" in done.stderr
    assert "fetching 200 more commits" in done.stderr  # 110 commits back: a second, larger step
    assert held_commits(server, "2.0") == git_says(origin, f"{previous}..main")
    assert len(held_commits(server, "2.0")) == 110


def test_shallow_clone_without_remote_fails_with_the_fix(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    _, clone, previous = shallow_setup(server, env, tmp_path)
    git(clone, "remote", "remove", "origin")
    done = run_cli(["set-commits", "2.0", "--mode", "local"], env, cwd=clone)
    assert done.returncode == 2
    assert previous[:12] in done.stderr
    assert "set fetch-depth: 0 in actions/checkout" in done.stderr
    assert "--ignore-missing" in done.stderr
    assert "Traceback" not in done.stderr
    assert puts(server, "2.0") == []
    assert release(server, "2.0")["commitCount"] == 0


def test_shallow_clone_with_ignore_missing_warns_and_sends_initial_depth(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    _, clone, previous = shallow_setup(server, env, tmp_path)
    git(clone, "remote", "remove", "origin")
    done = run_cli(
        ["set-commits", "2.0", "--mode", "local", "--ignore-missing", "--initial-depth", "5"],
        env,
        cwd=clone,
    )
    assert done.returncode == 0, done.stderr
    assert "warning:" in done.stderr and previous[:12] in done.stderr
    assert "sending the last 5 commits instead" in done.stderr
    # A depth-1 clone without a remote holds one commit: that is all the last 5 can be, and
    # the warning says so.
    assert "holds 1 of the last 5 commits and there is no remote" in done.stderr
    assert held_commits(server, "2.0") == git_says(clone, "-n", "5", "HEAD")
    assert len(held_commits(server, "2.0")) == 1


def test_a_first_release_from_a_shallow_clone_fetches_the_initial_depth(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    origin = tmp_path / "origin"
    linear_history(origin, 30)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{origin}", str(clone))
    assert run_cli(["new", "1.0"], env, cwd=clone).returncode == 0
    done = run_cli(
        ["set-commits", "1.0", "--mode", "local", "--initial-depth", "5"], env, cwd=clone
    )
    assert done.returncode == 0, done.stderr
    assert "fetching 5 more commits" in done.stderr and "warning" not in done.stderr
    assert held_commits(server, "1.0") == git_says(origin, "-n", "5", "main")


# --- manual and auto (refs) ---------------------------------------------------------------------


def test_manual_refs_single_sha_and_tag_range(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    origin = tmp_path / "origin"
    make_repo(origin, commits=4, tag="v1")
    for i in range(3):
        commit(origin, {f"b{i}.txt": "x\n"}, f"second batch {i}")
    git(origin, "tag", "v2")
    add_repo(server.store, ORG, "acme/web", f"file://{origin}")
    head = git(origin, "rev-parse", "v2")

    run_cli(["new", "1.0"], env, cwd=origin)
    done = run_cli(
        ["set-commits", "1.0", "--mode", "manual", "--commit", f"acme/web@{head}"],
        env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert len(puts(server, "1.0")) == 1
    # No previous commit and no previous release: Sentry takes the provider's last page.
    assert held_commits(server, "1.0") == git_says(origin, "-n", "30", head)
    assert release(server, "1.0")["lastCommit"]["id"] == head

    run_cli(["new", "2.0"], env, cwd=origin)
    done = run_cli(
        ["set-commits", "2.0", "--mode", "manual", "--commit", "acme/web@v1..v2"], env, cwd=origin
    )
    assert done.returncode == 0, done.stderr
    assert held_commits(server, "2.0") == git_says(origin, "v1..v2")
    refs = server.store.release(ORG, "2.0")["refs"]  # type: ignore[index]
    assert refs[0]["previousCommit"] == git(origin, "rev-parse", "v1")
    assert re.search(r"acme/web\s+refs\s", done.stdout)


def test_manual_unknown_repository_is_sentrys_error(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    run_cli(["new", "1.0"], env, cwd=tmp_path)
    done = run_cli(
        ["set-commits", "1.0", "--mode", "manual", "--commit", f"acme/nope@{'a' * 40}"],
        env,
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert "Invalid repository names: acme/nope" in done.stderr


def test_manual_bad_spec_fails_before_any_request(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    done = run_cli(
        ["set-commits", "1.0", "--mode", "manual", "--commit", "acme/web"], env, cwd=tmp_path
    )
    assert done.returncode == 2
    assert "owner/repo@SHA" in done.stderr
    assert server.store.requests == []


def test_auto_with_a_matching_repository_sends_refs(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    origin = tmp_path / "origin"
    linear_history(origin, 40)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", f"file://{origin}", str(clone))
    for i in range(105):  # the match is on the second page of repos
        add_repo(server.store, ORG, f"acme/other{i}", f"https://github.com/acme/other{i}")
    add_repo(server.store, ORG, "acme/web", f"file://{origin}/")

    run_cli(["new", "1.0"], env, cwd=clone)
    done = run_cli(["set-commits", "1.0"], env, cwd=clone)
    assert done.returncode == 0, done.stderr
    assert re.search(r"acme/web\s+refs\s", done.stdout)
    first = git(clone, "rev-parse", "HEAD")
    assert held_commits(server, "1.0") == git_says(origin, "-n", "30", first)
    assert [r["query"] for r in server.store.requests if "/repos/" in r["path"]] == [
        "",
        "cursor=0%3A100%3A0",
    ]

    linear_history(origin, 5, start=40)
    git(clone, "pull", "-q", "--ff-only")
    run_cli(["new", "2.0"], env, cwd=clone)
    done = run_cli(["set-commits", "2.0"], env, cwd=clone)
    assert done.returncode == 0, done.stderr
    refs = server.store.release(ORG, "2.0")["refs"]  # type: ignore[index]
    assert refs == [
        {
            "repository": "acme/web",
            "commit": git(clone, "rev-parse", "HEAD"),
            "previousCommit": first,
            "resolved": True,
        }
    ]
    assert held_commits(server, "2.0") == git_says(origin, f"{first}..main")


def test_auto_matches_github_repository_env(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    origin = tmp_path / "origin"
    linear_history(origin, 3)
    add_repo(server.store, ORG, "acme/web", "https://github.com/acme/web", git_dir=origin)
    env = {**env, "GITHUB_REPOSITORY": "Acme/Web", "GITHUB_SERVER_URL": "https://github.com"}
    run_cli(["new", "1.0"], env, cwd=origin)
    done = run_cli(["set-commits", "1.0"], env, cwd=origin)  # origin has no remote at all
    assert done.returncode == 0, done.stderr
    assert re.search(r"acme/web\s+refs\s", done.stdout)
    assert held_commits(server, "1.0") == git_says(origin, "main")


def test_auto_without_a_match_falls_back_to_local_and_says_why(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, commits=2)
    git(repo, "remote", "add", "origin", "git@github.com:acme/web.git")
    add_repo(server.store, ORG, "acme/api", "https://github.com/acme/api")
    run_cli(["new", "1.0"], env, cwd=repo)
    done = run_cli(["set-commits", "1.0"], env, cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "no Sentry repository matches git@github.com:acme/web.git" in done.stderr
    assert "acme/api" in done.stderr
    assert held_commits(server, "1.0") == git_says(repo, "HEAD")
    commits = read_all(server, f"/organizations/{ORG}/releases/1.0/commits/")
    assert {c["repository"]["name"] for c in commits} == {"acme/web"}


def test_run_associates_commits_with_the_default_auto_mode(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, commits=3)
    git(repo, "remote", "add", "origin", "https://github.com/acme/elsewhere.git")
    done = run_cli(["run", "3.0"], env, cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "Associated 3 commit(s) with release 3.0" in done.stdout
    rel = release(server, "3.0")
    assert rel["commitCount"] == 3 and rel["dateReleased"]
    assert held_commits(server, "3.0") == git_says(repo, "HEAD")


def test_shallow_clone_with_unreachable_remote_fails_with_the_fix(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    _, clone, _ = shallow_setup(server, env, tmp_path)
    git(clone, "remote", "set-url", "origin", f"file://{tmp_path}/gone")
    done = run_cli(["set-commits", "2.0", "--mode", "local"], env, cwd=clone)
    assert done.returncode == 2
    assert "fetching more failed" in done.stderr
    assert "set fetch-depth: 0 in actions/checkout" in done.stderr
    assert puts(server, "2.0") == []


def test_previous_commit_gone_from_full_history_is_never_a_silent_wrong_range(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    rewritten = tmp_path / "before-force-push"
    make_repo(rewritten, commits=2)
    run_cli(["new", "1.0"], env, cwd=rewritten)
    assert run_cli(["set-commits", "1.0", "--mode", "local"], env, cwd=rewritten).returncode == 0
    repo = tmp_path / "repo"
    linear_history(repo, 4)
    run_cli(["new", "2.0"], env, cwd=repo)
    done = run_cli(["set-commits", "2.0", "--mode", "local"], env, cwd=repo)
    assert done.returncode == 2
    assert "force-pushed" in done.stderr and "--ignore-missing" in done.stderr
    done = run_cli(["set-commits", "2.0", "--mode", "local", "--ignore-missing"], env, cwd=repo)
    assert done.returncode == 0
    assert held_commits(server, "2.0") == git_says(repo, "-n", "20", "HEAD")


def test_dry_run_shows_the_payload_and_sends_nothing(
    server: DevServer, env: dict[str, str], tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    shas = make_repo(repo, commits=2)
    run_cli(["new", "1.0"], env, cwd=repo)
    done = run_cli(["set-commits", "1.0", "--mode", "local", "--dry-run"], env, cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "[dry-run] would PUT" in done.stdout and shas[-1] in done.stdout
    assert "Would associate 2 commit(s) with release 1.0" in done.stdout
    assert puts(server, "1.0") == []
