"""GitRepo.log on real repositories: patch sets, merges, renames, raw bytes, big commits."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sentry_release.git import GitRepo, parse_changes, parse_record, split_records
from tests.helpers import GIT_ENV, commit, git, make_repo


def fast_import(path: Path, stream: bytes) -> None:
    """Feed a raw `git fast-import` stream (lets a test write arbitrary bytes into commits)."""
    subprocess.run(
        ["git", "fast-import", "--quiet"], cwd=path, input=stream, check=True, env=GIT_ENV
    )


def test_linear_history_newest_first_with_patch_sets(tmp_path: Path) -> None:
    shas = make_repo(tmp_path, commits=3)
    commit(tmp_path, {"src/file0.txt": "changed\n", "src/file1.txt": None}, "edit and delete")
    commits = list(GitRepo(tmp_path).log(["HEAD"]))
    assert [c.sha for c in commits[1:]] == shas[::-1]
    assert commits[0].changes == (("M", "src/file0.txt"), ("D", "src/file1.txt"))
    assert commits[-1].changes == (("A", "src/file0.txt"),)  # the root commit: all added
    assert commits[-1].parents == ()
    assert commits[0].message == "edit and delete\n"
    assert commits[0].author_name == "Test Author"
    assert commits[0].author_email == "author@example.com"
    assert commits[1].timestamp == "2023-11-14T22:15:20+00:00"


def test_range_and_max_count(tmp_path: Path) -> None:
    shas = make_repo(tmp_path, commits=6)
    repo = GitRepo(tmp_path)
    assert [c.sha for c in repo.log([f"{shas[2]}..HEAD"])] == shas[:2:-1]
    assert [c.sha for c in repo.log(["HEAD"], max_count=2)] == shas[:3:-1]


def test_rename_is_delete_plus_add_and_copy_is_add(tmp_path: Path) -> None:
    make_repo(tmp_path, commits=1)
    git(tmp_path, "mv", "src/file0.txt", "src/renamed.txt")
    git(tmp_path, "commit", "-q", "-m", "rename")
    git(tmp_path, "config", "diff.renames", "copies")  # a user's config must not change it
    (tmp_path / "src/copy.txt").write_text("content 0\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "copy")
    copy, rename = list(GitRepo(tmp_path).log(["HEAD"], max_count=2))
    assert rename.changes == (("D", "src/file0.txt"), ("A", "src/renamed.txt"))
    assert copy.changes == (("A", "src/copy.txt"),)


def test_merge_commit_carries_its_first_parent_diff(tmp_path: Path) -> None:
    make_repo(tmp_path, commits=2)
    git(tmp_path, "checkout", "-q", "-b", "feature")
    side = commit(tmp_path, {"feature.txt": "f\n"}, "feature work")
    git(tmp_path, "checkout", "-q", "main")
    main = commit(tmp_path, {"main.txt": "m\n"}, "main work")
    git(tmp_path, "merge", "-q", "--no-ff", "-m", "merge feature", "feature")
    merge, *rest = list(GitRepo(tmp_path).log([f"{main}~1..HEAD"]))
    assert merge.parents == (main, side)
    assert merge.changes == (("A", "feature.txt"),)
    assert {c.sha for c in rest} == {main, side}


def test_non_utf8_names_and_messages_never_crash(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    message = "caf\xe9 \x1e not a separator\n".encode("latin-1")
    stream = (
        b"commit refs/heads/main\n"
        b"author Jos\xe9 M\xfcller <jose@example.com> 1700000000 +0200\n"
        b"committer C <c@example.com> 1700000000 +0200\n"
        + b"data %d\n" % len(message)
        + message
        + b"M 644 inline caf\xe9.txt\ndata 2\nx\n\n"
    )
    fast_import(tmp_path, stream)
    git(tmp_path, "reset", "-q", "--hard", "main")
    (only,) = list(GitRepo(tmp_path).log(["HEAD"]))
    assert only.author_name == "Jos\ufffd M\ufffdller"
    assert only.message == "caf\ufffd \x1e not a separator\n"
    assert only.changes == (("A", "caf\ufffd.txt"),)
    assert only.timestamp == "2023-11-15T00:13:20+02:00"


@pytest.mark.slow  # stress: thousands of files in one commit
def test_commit_with_thousands_of_files(tmp_path: Path) -> None:
    make_repo(tmp_path, commits=1)
    for i in range(3000):
        (tmp_path / "many" / f"{i:04}.txt").parent.mkdir(exist_ok=True)
        (tmp_path / "many" / f"{i:04}.txt").write_text(str(i))
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "big")
    big = next(iter(GitRepo(tmp_path).log(["HEAD"], max_count=1)))
    assert len(big.changes) == 3000
    assert big.changes[0] == ("A", "many/0000.txt")


def test_submodules_are_not_entered(tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    make_repo(sub, commits=1)
    main = tmp_path / "main"
    make_repo(main, commits=1)
    git(main, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub), "vendor/sub")
    git(main, "commit", "-q", "-m", "add submodule")
    commit(sub, {"inside.txt": "x\n"}, "inside the submodule")
    git(main / "vendor/sub", "pull", "-q", "origin", "main")
    git(main, "commit", "-q", "-am", "bump submodule")
    bump, add = list(GitRepo(main).log(["HEAD"], max_count=2))
    assert bump.changes == ()
    assert add.changes == (("A", ".gitmodules"),)


def test_detached_head(tmp_path: Path) -> None:
    shas = make_repo(tmp_path, commits=3)
    git(tmp_path, "checkout", "-q", "--detach", shas[1])
    repo = GitRepo(tmp_path)
    assert repo.head_sha == shas[1]
    assert [c.sha for c in repo.log([repo.head_sha])] == shas[1::-1]


def test_unknown_revision_is_a_git_error(tmp_path: Path) -> None:
    make_repo(tmp_path, commits=1)
    from sentry_release.errors import GitError

    with pytest.raises(GitError, match="git log failed"):
        list(GitRepo(tmp_path).log(["0" * 40 + "..HEAD"]))


def test_records_survive_any_chunking(tmp_path: Path) -> None:
    make_repo(tmp_path, commits=4)
    raw = subprocess.run(
        [
            "git",
            "log",
            "-z",
            "--name-status",
            "--root",
            "--format=%x1e%H%x00%P%x00%an%x00%ae%x00%aI%x00%B%x00",
        ],
        cwd=tmp_path,
        capture_output=True,
        check=True,
    ).stdout
    whole = [parse_record(r) for r in split_records([raw])]
    bytewise = [parse_record(r) for r in split_records(raw[i : i + 1] for i in range(len(raw)))]
    assert len(whole) == 4
    assert bytewise == whole


def test_parse_changes_maps_types() -> None:
    raw = b"\x00\nM\x00a\x00T\x00link\x00R100\x00old\x00new\x00C075\x00src\x00dup\x00"
    assert parse_changes(raw) == (
        ("M", "a"),
        ("M", "link"),
        ("D", "old"),
        ("A", "new"),
        ("A", "dup"),
    )
