"""Steps 1, 2 and 5a: propose the release name, create the release, finalize it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from sentry_release.config.settings import Settings
from sentry_release.git import GitRepo
from sentry_release.sentry.client import SentryClient
from sentry_release.sentry.models import Release
from sentry_release.version import ProposedVersion, derive_version, read_event


def propose_version(
    settings: Settings,
    repo: GitRepo | None,
    environ: Mapping[str, str],
) -> ProposedVersion:
    """The release name for this checkout (explicit > env > CI > tag > sha); `environ` is
    what the front door read (SENTRY_RELEASE, GITHUB_*)."""
    head = tags = None
    explicit = settings.release is not None or environ.get("SENTRY_RELEASE", "").strip()
    if not explicit and repo is not None:
        head = repo.head_sha
        tags = repo.tags_at_head()
    return derive_version(
        explicit=settings.release,
        environ=environ,
        head_sha=head,
        tags_at_head=tags or (),
        tag_pattern=settings.tag_pattern,
        prefix=settings.release_prefix,
        event=read_event(environ),
    )


@dataclass(frozen=True)
class ReleaseResult:
    """What `new` did."""

    version: str
    created: bool
    projects: tuple[str, ...]
    release: Release


def create_release(
    settings: Settings, client: SentryClient, version: str, *, ref: str | None = None
) -> ReleaseResult:
    """Create the release for every configured project; 208 (exists) is success."""
    assert settings.org is not None
    body, created = client.create_release(
        settings.org,
        version,
        settings.projects,
        url=settings.release_url,
        ref=ref,
        date_started=datetime.now(timezone.utc),
    )
    return ReleaseResult(version, created, settings.projects, body)


def finalize_release(
    settings: Settings, client: SentryClient, version: str, *, when: datetime | None = None
) -> Release:
    """Mark the release as released now (or at `when`); repeating it only moves the date."""
    assert settings.org is not None
    return client.finalize_release(
        settings.org,
        version,
        projects=settings.projects,
        when=when or datetime.now(timezone.utc),
    )
