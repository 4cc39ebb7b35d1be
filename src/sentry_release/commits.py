"""Step 3: which commits belong to the release, sent as integration refs or local history.

Built by the set-commits work (issue 3). The interface below is what the CLI, the pipeline
and the action call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sentry_release.git import GitRepo
from sentry_release.output import Output
from sentry_release.sentry.client import SentryClient
from sentry_release.settings import Settings


@dataclass(frozen=True)
class Association:
    """One row of the "what was associated" table."""

    repository: str
    mode: str  # refs | local
    previous: str | None
    head: str
    count: int


@dataclass(frozen=True)
class CommitsResult:
    """What set-commits did."""

    mode: str
    associations: tuple[Association, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def count(self) -> int:
        """Commits associated in total (refs count as reported by Sentry)."""
        return sum(a.count for a in self.associations)


def associate_commits(
    settings: Settings,
    client: SentryClient,
    repo: GitRepo | None,
    version: str,
    out: Output,
) -> CommitsResult:
    """Associate commits with `version` according to `settings.commits.mode`."""
    raise NotImplementedError("set-commits is built by issue 3")
