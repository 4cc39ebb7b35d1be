"""What both front doors share: the client and the repository built once per run, logging,
the plain-http warning, and the one place an error becomes a message and an exit code.

`cli.py` and `action.py` sit side by side on this module; neither imports the other, and
nothing below imports them or this.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from sentry_release.config.connection import is_loopback
from sentry_release.config.settings import Settings
from sentry_release.errors import Cancelled, GitError, SentryReleaseError
from sentry_release.output import Output, escape_controls, neutralise_commands
from sentry_release.redact import redact

if TYPE_CHECKING:
    from sentry_release.git import GitRepo
    from sentry_release.sentry.api import SentryApi
    from sentry_release.steps.pipeline import PipelineResult
    from sentry_release.version import ProposedVersion

CRASH_TITLE = "sentry-release crashed"
# Tests set this to shrink retry backoff (0.25: a quarter); no backoff drops below MIN_WAIT,
# so a loaded CI machine still sees the same order of events.
TIME_SCALE_ENV = "SENTRY_RELEASE_TIME_SCALE"
MIN_WAIT = 0.1  # seconds: the shortest scaled wait (backoff's jitter takes half the base)


def time_scale(environ: Mapping[str, str]) -> float:
    """The factor `TIME_SCALE_ENV` asks for (1.0 when unset or not a number in (0, 1])."""
    try:
        scale = float(environ.get(TIME_SCALE_ENV, "") or 1.0)
    except ValueError:
        return 1.0
    return scale if 0 < scale <= 1 else 1.0


@dataclass(frozen=True)
class Clock:
    """Where a run's time comes from and its waits go (retry backoff, 429 waits, the gate's
    polls): real time, or a simulated clock a test shares with its stand-in, so waits take
    no time. Deadlines on sockets and steps stay on real time."""

    now: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep


REAL_TIME = Clock()


@dataclass
class Runtime:
    """One run: its settings, its output, the environment the front door read, and (built on
    first use, then kept) its Sentry client and git repository."""

    settings: Settings
    out: Output
    environ: Mapping[str, str]
    clock: Clock = REAL_TIME
    _client: SentryApi | None = field(default=None, repr=False)
    _repo: GitRepo | None = field(default=None, repr=False)

    @classmethod
    def start(
        cls,
        settings: Settings,
        out: Output,
        environ: Mapping[str, str],
        clock: Clock = REAL_TIME,
    ) -> Runtime:
        """Warnings, logging and the plain-http check, once, before any work."""
        for warning in settings.warnings:
            out.warn(warning)
        configure_logging(settings.debug, github=out.github)
        warn_plain_http(settings, out)
        return cls(settings, out, environ, clock)

    def client(self) -> SentryApi:
        """The run's Sentry client (one session, one connection pool), built on first use."""
        if self._client is None:
            from sentry_release.sentry.api import SentryApi

            client = SentryApi.from_settings(self.settings, echo=self.out.result)
            client.transport.clock = self.clock.now
            client.transport.sleep = self.clock.sleep
            scale = time_scale(self.environ)
            if scale != 1.0:
                retry = client.transport.retry
                client.transport.retry = replace(
                    retry,
                    base=max(2 * MIN_WAIT, retry.base * scale),
                    cap=max(MIN_WAIT, retry.cap * scale),
                )
            self._client = client
        return self._client

    def repo(self, *, required: bool = True) -> GitRepo | None:
        """The git checkout (None when not required and not a repository), opened once; a
        dirty checkout is worth a warning, once."""
        if self._repo is not None:
            return self._repo
        from sentry_release.git import GitRepo

        try:
            repo = GitRepo(self.settings.working_directory)
        except GitError:
            if required:
                raise
            return None
        if repo.is_dirty():
            self.out.warn(dirty_tree_warning(str(repo.root), named=self.named()))
        self._repo = repo
        return repo

    def named(self) -> bool:
        """Whether the release is named without git: an explicit release or SENTRY_RELEASE."""
        explicit = self.settings.release is not None
        return explicit or bool(self.environ.get("SENTRY_RELEASE", "").strip())

    def needs_repo(self) -> bool:
        """Whether the run cannot work without a checkout: commits from git, or a name
        from HEAD."""
        return self.settings.commits.mode in ("auto", "local") or not self.named()

    def propose(
        self, explicit: str | None = None, *, repo_required: bool = False
    ) -> ProposedVersion:
        """The release name: VERSION when given, else derived (SENTRY_RELEASE, CI, git);
        what the naming warns about (several matching tags, a tag Sentry would refuse) is said
        once, here."""
        from sentry_release.steps.release import propose_version
        from sentry_release.version import validate_release_name

        if explicit is not None and not explicit.strip():  # `new ""`: not the HEAD sha
            validate_release_name(explicit)
        if explicit:
            return propose_version(self.settings.with_changes(release=explicit), None, self.environ)
        repo = self.repo(required=repo_required or not self.named())
        proposed = propose_version(self.settings, repo, self.environ)
        for warning in proposed.warnings:
            self.out.warn(warning)
        return proposed

    def narrate(self, partial: PipelineResult) -> None:
        """`run`'s `on_step`: the line of the step that just finished."""
        from sentry_release.report import step_line

        line = step_line(partial, self.settings)
        if line is not None:
            self.out.result(line)

    def version(self, explicit: str | None = None, *, repo_required: bool = False) -> str:
        """VERSION argument or the derived release name."""
        return self.propose(explicit, repo_required=repo_required).version


def dirty_tree_warning(root: str, *, named: bool) -> str:
    """What uncommitted changes mean for this run: with a release named for HEAD, the name
    does not describe what is on disk; with a release named explicitly, the name is the
    user's, but its commits still end at HEAD and miss the changes."""
    if named:
        return (
            f"{root} has uncommitted changes: the release keeps the name you gave, but the "
            "commits associated with it end at HEAD and miss them; commit them first"
        )
    return (
        f"{root} has uncommitted changes: the release is named for HEAD, not for what is on "
        "disk; commit them first"
    )


def configure_logging(debug: bool, *, github: bool = False) -> None:
    """With --debug, the tool's own loggers (HTTP calls) on stderr, secrets redacted."""
    if not debug:
        return
    import logging

    class Redacting(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            text = redact(super().format(record))
            return neutralise_commands(text) if github else text

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(Redacting("debug: %(name)s: %(message)s"))
    root = logging.getLogger("sentry_release")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG)


def warn_plain_http(settings: Settings, out: Output) -> None:
    """The token in clear text on the network is worth a warning (not an error: some
    self-hosted installs sit behind a private network on purpose)."""
    from urllib.parse import urlsplit

    parts = urlsplit(settings.url)
    if parts.scheme == "http" and not is_loopback(parts.hostname) and settings.auth_token:
        out.warn(
            f"the auth token will be sent over plain http to {parts.hostname}: use an "
            "https SENTRY_URL"
        )


@dataclass(frozen=True)
class Failure:
    """What the user is told when a run stops: exit code, annotation title, one message."""

    code: int
    title: str
    message: str
    kind: str = "internal"  # the error class's `kind` (`--json`'s error.kind)

    def json(self, answer: Mapping[str, object]) -> dict[str, object]:
        """`--json` on failure: what the command had done (its partial answer and the steps
        it finished), then the error: kind, message, exit code."""
        done = answer.get("steps")
        return {
            **answer,
            "done": list(done) if isinstance(done, (list, tuple)) else [],
            "error": {
                "kind": self.kind,
                "title": self.title,
                "message": self.message,
                "exit_code": self.code,
            },
        }


@contextmanager
def cancellable() -> Iterator[None]:
    """SIGINT and SIGTERM raise `Cancelled` in the main thread, so a cancelled job ends like
    a failed one: groups closed, one line, outputs and summary. A second signal while that
    is written is ignored (the runner sends SIGKILL later if it must)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        for each in (signal.SIGINT, signal.SIGTERM):
            signal.signal(each, signal.SIG_IGN)
        raise Cancelled(signum)

    previous = {each: signal.signal(each, handler) for each in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for each, action in previous.items():
            signal.signal(each, action)


def failure_of(exc: BaseException, step: str | None = None) -> Failure:
    """The one error -> exit code mapping: the error's own code (2 bad input, 1 Sentry,
    3 gate), 128 + the signal for a cancelled run (130 SIGINT, 143 SIGTERM), 1 for a bug."""
    if isinstance(exc, SentryReleaseError):
        return Failure(exc.exit_code, exc.title, str(exc), exc.kind)
    if isinstance(exc, Cancelled):
        step = exc.step or step
        during = f" during {step}" if step else ""
        return Failure(exc.exit_code, "Cancelled", f"{exc}{during}", "cancelled")
    if isinstance(exc, KeyboardInterrupt):
        return Failure(130, "Interrupted", "interrupted", "interrupted")
    return Failure(1, CRASH_TITLE, f"internal error: {exc.__class__.__name__}: {redact(str(exc))}")


# sentry-cli's SENTRY_LOG_LEVEL (src/config.rs get_default_log_level): these levels show
# its request log, which is what our --debug shows.
DEBUG_LOG_LEVELS = frozenset({"trace", "debug", "info"})
ALLOWED_CODES = frozenset({1, 2})  # release steps and bad input; never the gate's 3


def parse_flag(value: str | None) -> bool:
    """A boolean environment variable read leniently (sentry-cli takes 1 and true)."""
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def debug_requested(environ: Mapping[str, str]) -> bool:
    """Whether the environment asks for debug output: SENTRY_RELEASE_DEBUG, or sentry-cli's
    SENTRY_LOG_LEVEL at trace, debug or info."""
    level = environ.get("SENTRY_LOG_LEVEL", "").strip().lower()
    return level in DEBUG_LOG_LEVELS or parse_flag(environ.get("SENTRY_RELEASE_DEBUG"))


def report_failure(
    exc: BaseException, out: Output, *, debug: bool, allow_failure: bool = False
) -> Failure:
    """Tell the user: one line (an `::error title=…::` annotation on GitHub), the traceback
    only with --debug (and always for a bug on GitHub, where the log is the only trace)."""
    failure = failure_of(exc, out.current_step)
    expected = isinstance(exc, (SentryReleaseError, KeyboardInterrupt, Cancelled))
    traced = debug or (out.github and not expected)
    if traced:
        import traceback  # only for --debug

        trace = escape_controls(redact(traceback.format_exc()))
        sys.stderr.write(neutralise_commands(trace) + "\n" if out.github else trace)
    message = failure.message
    if not out.github:
        message = " ".join(message.splitlines())
    if not expected and not traced:
        message += " (run with --debug for details)"
    if allow_failure and failure.code in ALLOWED_CODES:
        # sentry-cli's SENTRY_ALLOW_FAILURE (src/commands/mod.rs): said, then exit 0.
        out.warn(f"{message} (allow_failure is set: exiting with 0)")
        return replace(failure, code=0)
    out.error(message, title=failure.title)
    return replace(failure, message=message)
