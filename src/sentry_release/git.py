"""All git access: one GitRepo over GitPython, with errors that say how to fix the checkout."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentry_release.errors import GitError
from sentry_release.redact import strip_userinfo

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
        """The fetch URL of a remote without credentials (`https://user:TOKEN@host/...` as
        GitLab CI clones), or None when there is no such remote."""
        try:
            url = self.git("remote", "get-url", name).strip()
        except GitError:
            return None
        return strip_userinfo(url) or None

    def is_shallow(self) -> bool:
        """True for `--depth` clones (actions/checkout's default)."""
        return self.git("rev-parse", "--is-shallow-repository").strip() == "true"

    def count(self, rev: str, limit: int) -> int:
        """How many commits `rev` reaches in the local history, counting at most `limit`."""
        return int(self.git("rev-list", "--count", f"--max-count={limit}", rev).strip() or 0)

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

    # --- history for set-commits ---------------------------------------------------------

    def resolve(self, rev: str) -> str | None:
        """The full sha of a commit-ish (tag, branch, short sha), or None when unknown."""
        try:
            out = self.git(
                "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"
            )
        except GitError:
            return None
        return out.strip() or None

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """Whether `ancestor` is reachable from `descendant` in the local history."""
        done = subprocess.run(
            ["git", "merge-base", "--is-ancestor", ancestor, descendant],
            cwd=self.root,
            capture_output=True,
        )
        return done.returncode == 0

    def deepen(self, remote: str, by: int) -> None:
        """Fetch `by` more commits of history behind the shallow boundary from `remote`."""
        # Never wait for a credential prompt nobody will answer; never hang a CI job.
        self.git(
            "fetch",
            "--quiet",
            "--no-tags",
            f"--deepen={by}",
            remote,
            env={"GIT_TERMINAL_PROMPT": "0"},
            kill_after_timeout=FETCH_TIMEOUT,
        )

    def log(self, revs: Sequence[str], *, max_count: int | None = None) -> Iterator[LogCommit]:
        """Stream commits of a range (newest first) with their file changes, in one git process.

        Merge commits carry their diff against the first parent (what the merge brought into
        the branch); the root commit lists every file as added; submodules are not entered.
        """
        args = [
            "git",
            "-c",
            "log.showSignature=false",
            "log",
            "-z",
            f"--format={LOG_FORMAT}",
            "--name-status",
            "--no-renames",
            "--diff-merges=first-parent",
            "--root",
            "--ignore-submodules=all",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
        ]
        if max_count is not None:
            args.append(f"--max-count={max_count}")
        args += [*revs, "--"]
        proc = subprocess.Popen(args, cwd=self.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None
        finished = False
        try:
            chunks = iter(lambda: proc.stdout.read(READ_SIZE), b"")  # type: ignore[union-attr]
            for record in split_records(chunks):
                yield parse_record(record)
            finished = True
        finally:
            if not finished:
                proc.kill()
            proc.stdout.close()
            stderr = proc.stderr.read().decode("utf-8", "replace").strip()
            proc.stderr.close()
            code = proc.wait()
        if code != 0:
            if DUBIOUS in stderr:
                raise dubious_ownership_error(self.root)
            last = stderr.splitlines()[-1] if stderr else f"exit status {code}"
            raise GitError(f"git log failed: {last}")


# --- history for set-commits ------------------------------------------------------------

RECORD_SEP = b"\x1e"
# One record per commit: sha, parents, author name, author email, author date, raw message;
# NUL-separated so any byte in a message or name survives, then -z name-status pairs.
LOG_FORMAT = "%x1e%H%x00%P%x00%an%x00%ae%x00%aI%x00%B%x00"
_SHA = re.compile(rb"(?:[0-9a-f]{40}|[0-9a-f]{64})\x00")
DEEPEN_STEPS = (50, 200, 1000, 5000, 20000)  # growing, bounded: ~26k commits at most
READ_SIZE = 1 << 16
FETCH_TIMEOUT = 600.0  # seconds for one deepening fetch


@dataclass(frozen=True)
class LogCommit:
    """One commit as `git log` reports it, with its file changes against the first parent."""

    sha: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    timestamp: str  # RFC 3339 with the author's offset
    message: str
    changes: tuple[tuple[str, str], ...]  # (A|M|D, path); renames are D + A


def _text(raw: bytes) -> str:
    """Decode git output that may not be UTF-8 (old commits, latin-1 names): never crash."""
    return raw.decode("utf-8", "replace")


def parse_changes(raw: bytes) -> tuple[tuple[str, str], ...]:
    """`-z --name-status` pairs -> (type, path); R/C (if configured) become D+A / A, T -> M."""
    tokens = [t for t in raw.lstrip(b"\x00\n").split(b"\x00")]
    changes: list[tuple[str, str]] = []
    i = 0
    while i < len(tokens):
        status = tokens[i].strip(b"\n")
        i += 1
        if not status:
            continue
        kind = chr(status[0])
        if kind in "RC":  # two paths follow; only when renames were not turned off
            old, new = _text(tokens[i]), _text(tokens[i + 1]) if i + 1 < len(tokens) else ""
            i += 2
            if kind == "R":
                changes.append(("D", old))
            changes.append(("A", new))
            continue
        path = _text(tokens[i]) if i < len(tokens) else ""
        i += 1
        if kind in "AD":
            changes.append((kind, path))
        elif kind in "MT":  # a type change (file <-> symlink) is a modification to Sentry
            changes.append(("M", path))
    return tuple(changes)


def parse_record(record: bytes) -> LogCommit:
    """One `LOG_FORMAT` record (without its leading separator)."""
    fields = record.split(b"\x00", 6)
    if len(fields) < 6:
        raise GitError(f"unexpected git log output: {record[:80]!r}")
    sha, parents, name, email, date, message = fields[:6]
    rest = fields[6] if len(fields) > 6 else b""
    return LogCommit(
        sha=sha.decode("ascii"),
        parents=tuple(parents.decode("ascii").split()),
        author_name=_text(name),
        author_email=_text(email),
        timestamp=date.decode("ascii"),
        message=_text(message),
        changes=parse_changes(rest),
    )


def split_records(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Cut a byte stream into commit records at separators that start a real header.

    A message may contain the separator byte, so a separator only counts when `<sha>NUL`
    follows it; we wait for enough bytes to tell before cutting.
    """
    buf = b""
    scan = 1
    lookahead = 66
    for chunk in _with_end(iter(chunks)):
        eof = chunk is None
        if chunk is not None:
            buf += chunk
        while True:
            p = buf.find(RECORD_SEP, scan)
            if p == -1:
                scan = max(len(buf), 1)
                break
            if not eof and len(buf) - p < lookahead:
                scan = p
                break
            if _SHA.match(buf, p + 1):
                yield buf[1:p]
                buf = buf[p:]
                scan = 1
            else:
                scan = p + 1
        if eof and len(buf) > 1:
            yield buf[1:]


def _with_end(chunks: Iterator[bytes]) -> Iterator[bytes | None]:
    yield from chunks
    yield None
