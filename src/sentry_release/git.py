"""All git access: one GitRepo, with errors that say how to fix the checkout. GitPython only
finds the repository; every git command is a subprocess started here, with the checkout's
program-running settings neutralised (`PROGRAM_SETTINGS`, `driver_overrides`, `safe_environ`)."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentry_release.errors import GitError
from sentry_release.redact import strip_userinfo

if TYPE_CHECKING:
    import git as gitpython

DUBIOUS = "dubious ownership"
GIT_TIMEOUT = 300.0  # seconds for one local git command (a fetch has FETCH_TIMEOUT)

# The checkout's .git/config (and what it includes) is written by whatever ran before the
# release step: a dependency's install script, the bundler. Every setting that makes git run
# a program is given a harmless value as command-line config (GIT_CONFIG_KEY_n: it beats
# every file, and a key is never parsed out of `name=value`); see docs/security.md.
PROGRAM_SETTINGS: tuple[tuple[str, str], ...] = (
    ("core.fsmonitor", "false"),
    ("core.hooksPath", os.devnull),  # no hook is found under a file
    ("core.sshCommand", "ssh"),
    ("core.askPass", ""),
    ("core.pager", "cat"),
    ("core.editor", ":"),
    ("sequence.editor", ":"),
    ("core.alternateRefsCommand", ""),
    ("credential.helper", ""),  # the empty value empties the list (url-specific ones too)
    ("diff.external", ""),
    ("log.showSignature", "false"),  # would run gpg.program
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
    ("fetch.recurseSubmodules", "false"),
    # Remote helpers (remote.<name>.vcs, `evil::` URLs) and the ext/fd transports run
    # programs: only git's own transports are allowed.
    ("protocol.allow", "never"),
    *((f"protocol.{name}.allow", "always") for name in ("file", "git", "http", "https", "ssh")),
    ("protocol.ext.allow", "never"),
    ("protocol.fd.allow", "never"),
)
# Per-name settings found in the checkout's config: `filter.<driver>.clean` and the like.
_DRIVER_KEY = re.compile(
    r"^(?:filter\..+\.(?:clean|smudge|process|required)"
    r"|diff\..+\.(?:textconv|command)"
    r"|merge\..+\.driver)$",
    re.IGNORECASE | re.DOTALL,
)
# Programs named by the environment: removed, or set to a harmless value.
UNSAFE_ENV = ("GIT_SSH", "GIT_SSH_COMMAND", "GIT_EXTERNAL_DIFF", "GIT_EXEC_PATH")
SAFE_ENV = {
    "GIT_PAGER": "cat",
    "GIT_EDITOR": ":",
    "GIT_SEQUENCE_EDITOR": ":",
    "GIT_ASKPASS": "",  # set and empty: neither core.askPass nor SSH_ASKPASS is asked
    "GIT_PROXY_COMMAND": "",  # set and empty: core.gitProxy is not read
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_OPTIONAL_LOCKS": "0",  # status does not rewrite the checkout's index
    "LC_ALL": "C",  # git's messages in English (DUBIOUS is matched)
    "LANGUAGE": "C",
}


def driver_overrides(keys: Iterable[str]) -> list[tuple[str, str]]:
    """Harmless values for the per-name program settings among `keys` (from `git config
    --list`): filters, diff and merge drivers run nothing (`remote.<name>.uploadpack` keeps
    its first value, so the fetch names git's own on its command line instead)."""
    return [
        (key, "false" if key.lower().endswith(".required") else "")
        for key in keys
        if _DRIVER_KEY.match(key)
    ]


def safe_environ(environ: Mapping[str, str], settings: Iterable[tuple[str, str]]) -> dict[str, str]:
    """`environ` for a git child: program-naming variables out, `settings` appended to the
    command-line config the environment already holds (the action's safe.directory)."""
    env = {k: v for k, v in environ.items() if k not in UNSAFE_ENV}
    env.update(SAFE_ENV)
    try:
        count = int(env.get("GIT_CONFIG_COUNT", "0") or 0)
    except ValueError:
        count = 0
    for key, value in settings:
        env[f"GIT_CONFIG_KEY_{count}"] = key
        env[f"GIT_CONFIG_VALUE_{count}"] = value
        count += 1
    env["GIT_CONFIG_COUNT"] = str(count)
    return env


def config_keys(root: Path, environ: Mapping[str, str]) -> list[str]:
    """Every key of the checkout's effective config, includes followed (nothing is run)."""
    try:
        done = subprocess.run(
            ["git", "--no-pager", "config", "-z", "--list"],
            cwd=root,
            env=safe_environ(environ, PROGRAM_SETTINGS),
            capture_output=True,
            timeout=GIT_TIMEOUT,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GitError(f"git config failed: {exc}") from None
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace")
        if DUBIOUS in stderr:
            raise dubious_ownership_error(root)
        raise GitError(f"git config failed: {stderr.strip().splitlines()[-1:] or done.returncode}")
    entries = done.stdout.split(b"\x00")
    # surrogateescape: a key that is not UTF-8 goes back to git byte for byte
    return [e.split(b"\n", 1)[0].decode("utf-8", "surrogateescape") for e in entries if e]


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

    @cached_property
    def env(self) -> dict[str, str]:
        """The environment of every git child: the checkout's program settings neutralised
        (read once: the config is not expected to change during a run)."""
        keys = config_keys(self.root, os.environ)
        return safe_environ(os.environ, [*PROGRAM_SETTINGS, *driver_overrides(keys)])

    def command(self, *args: str) -> list[str]:
        """The argv of a git command (never paged)."""
        return ["git", "--no-pager", *args]

    def git(self, *args: str, timeout: float = GIT_TIMEOUT) -> str:
        """Run a git command with the guarded environment and return its stdout (without the
        final newline); map failures to GitError."""
        try:
            done = subprocess.run(
                self.command(*args),
                cwd=self.root,
                env=self.env,
                capture_output=True,
                stdin=subprocess.DEVNULL,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise GitError(f"git {args[0]} did not finish within {timeout:g}s") from None
        except OSError as exc:
            raise GitError(f"git {args[0]} could not be run: {exc.strerror or exc}") from None
        if done.returncode != 0:
            stderr = done.stderr.decode("utf-8", "replace").strip()
            if DUBIOUS in stderr:
                raise dubious_ownership_error(self.root)
            last = stderr.splitlines()[-1] if stderr else f"exit status {done.returncode}"
            raise GitError(f"git {args[0]} failed: {last}")
        return done.stdout.decode("utf-8", "replace").removesuffix("\n")

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

    def _spawn(self, argv: list[str]) -> subprocess.Popen[bytes]:
        """A git process in the checkout with the guarded environment, its output piped."""
        return subprocess.Popen(
            argv,
            cwd=self.root,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def stream(self, *args: str) -> Iterator[bytes]:
        """Stream a git command's stdout in raw lines (no decoding: messages may not be UTF-8)."""
        proc = self._spawn(self.command(*args))
        assert proc.stdout is not None and proc.stderr is not None
        try:
            yield from proc.stdout
        finally:
            proc.stdout.close()
            stderr = proc.stderr.read().decode("utf-8", "replace")
            proc.stderr.close()
            code = proc.wait()
            if code != 0:
                if DUBIOUS in stderr:
                    raise dubious_ownership_error(self.root)
                raise GitError(f"git {args[0]} failed: {stderr.strip().splitlines()[-1:] or code}")

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
        try:
            self.git("merge-base", "--is-ancestor", ancestor, descendant)
        except GitError:
            return False
        return True

    def deepen(self, remote: str, by: int) -> None:
        """Fetch `by` more commits of history behind the shallow boundary from `remote`."""
        # Never wait for a credential prompt nobody will answer; never hang a CI job.
        self.git(
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-recurse-submodules",
            "--upload-pack=git-upload-pack",  # not remote.<name>.uploadpack
            f"--deepen={by}",
            "--end-of-options",
            remote,
            timeout=FETCH_TIMEOUT,
        )

    def log(self, revs: Sequence[str], *, max_count: int | None = None) -> Iterator[LogCommit]:
        """Stream commits of a range (newest first) with their file changes, in one git process.

        Merge commits carry their diff against the first parent (what the merge brought into
        the branch); the root commit lists every file as added; submodules are not entered.
        """
        args = self.command(
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
        )
        if max_count is not None:
            args.append(f"--max-count={max_count}")
        args += [*revs, "--"]
        proc = self._spawn(args)
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
