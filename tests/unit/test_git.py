"""GitRepo on real repositories built in tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sentry_release.errors import GitError
from sentry_release.git import GitRepo
from tests.helpers import commit, git, make_repo


def test_head_tags_describe_remote_dirty(tmp_path: Path) -> None:
    shas = make_repo(tmp_path / "r", commits=3, tag="v1.0")
    repo = GitRepo(tmp_path / "r")
    assert repo.head_sha == shas[-1]
    assert repo.tags_at_head() == ["v1.0"]
    assert repo.describe() == "v1.0"
    assert repo.remote_url() is None
    assert repo.is_dirty() is False
    assert repo.is_shallow() is False
    (tmp_path / "r" / "src" / "file0.txt").write_text("changed\n")
    assert repo.is_dirty() is True
    git(tmp_path / "r", "remote", "add", "origin", "git@github.com:acme/web.git")
    assert repo.remote_url() == "git@github.com:acme/web.git"


def test_tags_on_other_commits_are_not_at_head(tmp_path: Path) -> None:
    path = tmp_path / "r"
    make_repo(path, commits=1, tag="v0.1")
    commit(path, {"b.txt": "b"}, "second")
    repo = GitRepo(path)
    assert repo.tags_at_head() == []
    assert repo.describe() is not None and repo.describe().startswith("v0.1-1-g")  # type: ignore[union-attr]


def test_detached_head(tmp_path: Path) -> None:
    path = tmp_path / "r"
    shas = make_repo(path, commits=3)
    git(path, "checkout", "-q", shas[1])
    assert GitRepo(path).head_sha == shas[1]


def test_subdirectory_finds_the_repository(tmp_path: Path) -> None:
    make_repo(tmp_path / "r", commits=1)
    assert GitRepo(tmp_path / "r" / "src").root == (tmp_path / "r").resolve()


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="not a git repository"):
        GitRepo(tmp_path)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="does not exist"):
        GitRepo(tmp_path / "nope")


def test_no_commits(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    with pytest.raises(GitError, match="has no commits yet"):
        _ = GitRepo(tmp_path).head_sha


def test_shallow_clone_is_detected(tmp_path: Path) -> None:
    make_repo(tmp_path / "origin", commits=4)
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{tmp_path / 'origin'}", "clone")
    assert GitRepo(tmp_path / "clone").is_shallow() is True


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to hand the repository to another user")
def test_dubious_ownership_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "r"
    make_repo(path, commits=1)
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(root, name), 65534, 65534)
    os.lchown(path, 65534, 65534)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))  # no safe.directory from the user's config
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    with pytest.raises(GitError, match="git config --global --add safe.directory"):
        _ = GitRepo(path).head_sha
