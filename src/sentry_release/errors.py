"""One error tree; each class knows its exit code and the title shown on GitHub."""

from __future__ import annotations

from sentry_release.redact import redact


class SentryReleaseError(Exception):
    """Base of every error the tool reports to its user (never with a traceback)."""

    exit_code = 1
    title = "sentry-release failed"
    kind = "error"  # `--json`'s error.kind: what a script branches on

    def __str__(self) -> str:
        return redact(super().__str__())


class ConfigError(SentryReleaseError):
    """Bad or missing input: a flag, an env var, an action input."""

    exit_code = 2
    title = "Invalid configuration"
    kind = "bad_input"


class GitError(SentryReleaseError):
    """The working directory is not a usable git checkout for this step."""

    exit_code = 2
    title = "Git error"
    kind = "git"


class SourceMapError(SentryReleaseError):
    """A JavaScript bundle or source map failed validation before upload."""

    exit_code = 2
    title = "Invalid source maps"
    kind = "source_maps"


class SentryAPIError(SentryReleaseError):
    """Sentry answered with an error, or could not be reached; carries Sentry's own words."""

    exit_code = 1
    title = "Sentry API error"
    kind = "remote"
    final = False  # True when another attempt would meet the same failure (TLS, a loop)

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        detail: str | None = None,
        method: str | None = None,
        endpoint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail
        self.method = method
        self.endpoint = endpoint

    def with_note(self, note: str) -> SentryAPIError:
        """The same error with `note` appended to its message (errors are not edited)."""
        noted = type(self)(
            super().__str__() + note,
            status=self.status,
            detail=self.detail,
            method=self.method,
            endpoint=self.endpoint,
        )
        noted.__dict__.update({k: v for k, v in self.__dict__.items() if k not in noted.__dict__})
        return noted


class AuthError(SentryAPIError):
    """401/403: the token is wrong, expired or lacks a scope: a configuration error in every
    step (the gate included), since no retry or policy can fix it."""

    exit_code = 2
    title = "Sentry authentication failed"
    kind = "auth"


class NotFoundError(SentryAPIError):
    """404: the organization, project or release does not exist."""

    title = "Not found in Sentry"
    kind = "not_found"


class NetworkError(SentryAPIError):
    """Sentry could not be reached or did not answer in time."""

    title = "Sentry unreachable"
    kind = "unreachable"
    unsent = False  # True when the request provably never reached the server
    refused = False  # True when nothing listened at the address (connection refused)


class UploadError(SentryAPIError):
    """Sentry refused or failed to assemble an upload."""

    title = "Upload failed"
    kind = "upload"


class GateFailed(SentryReleaseError):
    """The deploy gate found a regression (or could not see, under a strict policy)."""

    exit_code = 3
    title = "Deploy gate failed"
    kind = "gate"


class StepsFailed(SentryReleaseError):
    """Steps that ran side by side failed each in its own way: every failure is told, and
    the exit code is the worst of theirs."""

    title = "Several steps failed"
    kind = "steps"

    def __init__(self, failures: list[tuple[str, BaseException]]) -> None:
        self.failures = failures
        codes = [e.exit_code if isinstance(e, SentryReleaseError) else 1 for _, e in failures]
        self.exit_code = max(codes)
        super().__init__("; ".join(f"{step}: {error}" for step, error in failures))


class Cancelled(BaseException):
    """SIGINT or SIGTERM (a Ctrl-C, a cancelled job): the run stops where it is. A
    BaseException, like KeyboardInterrupt, so no step's `except Exception` swallows it."""

    def __init__(self, signum: int) -> None:
        import signal

        self.signum = signum
        self.name = signal.Signals(signum).name
        self.exit_code = 128 + signum
        self.step: str | None = None  # the step it stopped, once known
        self.kind = "cancelled"
        super().__init__(f"cancelled by {self.name}")
