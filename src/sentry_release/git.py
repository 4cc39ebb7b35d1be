"""All git access: one GitRepo over GitPython, with errors that say how to fix the checkout."""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentry_release.errors import GitError

if TYPE_CHECKING:
    import git as gitpython

DUBIOUS = "dubious ownership"


def _gitpython() -> Any:
    """Import GitPython lazily: it costs ~100 ms that `--help` should not pay."""
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    import git

    return git


def dubious_ownership_error(path: Path) -> GitError:
    """The error for git's safe.directory check, with the exact fix."""
    return GitError(
        f"git refuses to read {path} (dubious ownership): run "
        f"`git config --global --add safe.directory {path}`"
    )


class GitRepo:
    """A git checkout: head, tags, describe, remote, shallow state, log ranges."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).resolve()
        git = _gitpython()
        if not self.path.exists():
            raise GitError(f"working directory does not exist: {self.path}")
        try:
            self.repo: gitpython.Repo = git.Repo(self.path, search_parent_directories=True)
        except git.InvalidGitRepositoryError:
            raise GitError(
                f"not a git repository: {self.path} (run inside a checkout or set "
                "working_directory / --cwd)"
            ) from None
        except git.NoSuchPathError:
            raise GitError(f"working directory does not exist: {self.path}") from None
        self.root = Path(self.repo.working_tree_dir or self.path)

    def git(self, *args: str, **kwargs: Any) -> str:
        """Run a git command and return its stdout; map failures to GitError."""
        git = _gitpython()
        try:
            result: str = self.repo.git.execute(["git", *args], **kwargs)
        except git.GitCommandError as exc:
            stderr = (exc.stderr or "").strip()
            if DUBIOUS in stderr:
                raise dubious_ownership_error(self.root) from None
            raise GitError(
                f"git {args[0]} failed: {stderr.splitlines()[-1] if stderr else exc}"
            ) from None
        return result

    @cached_property
    def head_sha(self) -> str:
        """The commit at HEAD (detached or not)."""
        try:
            return self.git("rev-parse", "--verify", "HEAD^{commit}").strip()
        except GitError as exc:
            if "dubious" in str(exc):
                raise
            raise GitError(
                f"repository {self.root} has no commits yet: commit something first"
            ) from None

    def tags_at_head(self) -> list[str]:
        """Tags that point at HEAD exactly."""
        self.head_sha  # noqa: B018 - fail early with the no-commits message
        out = self.git("tag", "--points-at", "HEAD")
        return [line.strip() for line in out.splitlines() if line.strip()]

    def describe(self) -> str | None:
        """`git describe --tags --always` (None when it fails)."""
        try:
            return self.git("describe", "--tags", "--always").strip() or None
        except GitError:
            return None

    def is_dirty(self) -> bool:
        """Uncommitted changes to tracked files (untracked files do not count)."""
        return bool(self.git("status", "--porcelain", "--untracked-files=no").strip())

    def remote_url(self, name: str = "origin") -> str | None:
        """The fetch URL of a remote, or None when there is no such remote."""
        try:
            return self.git("remote", "get-url", name).strip() or None
        except GitError:
            return None

    def is_shallow(self) -> bool:
        """True for `--depth` clones (actions/checkout's default)."""
        return self.git("rev-parse", "--is-shallow-repository").strip() == "true"

    def has_commit(self, sha: str) -> bool:
        """Whether the commit object is in the local history."""
        try:
            self.git("cat-file", "-e", f"{sha}^{{commit}}")
        except GitError:
            return False
        return True

    def stream(self, *args: str) -> Iterator[bytes]:
        """Stream a git command's stdout in raw lines (no decoding: messages may not be UTF-8)."""
        git = _gitpython()
        handle = self.repo.git.execute(["git", *args], as_process=True)
        proc = handle.proc
        assert proc is not None and proc.stdout is not None
        try:
            yield from proc.stdout
        finally:
            proc.stdout.close()
            stderr = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
            code = proc.wait()
            if code != 0:
                if DUBIOUS in stderr:
                    raise dubious_ownership_error(self.root)
                raise GitError(f"git {args[0]} failed: {stderr.strip().splitlines()[-1:] or code}")
            del git
