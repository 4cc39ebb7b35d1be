"""Steps 1, 2 and 5a: propose the release name, create the release, finalize it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sentry_release.config.settings import Settings
from sentry_release.errors import NotFoundError, SentryAPIError
from sentry_release.git import GitRepo
from sentry_release.sentry.api import SentryApi
from sentry_release.sentry.models import Release
from sentry_release.version import ProposedVersion, derive_version
from sentry_release.version_inputs import gather


def propose_version(
    settings: Settings,
    repo: GitRepo | None,
    environ: Mapping[str, str],
) -> ProposedVersion:
    """The release name for this checkout (explicit > env > release_from > sentry-cli's);
    `environ` is what the front door read (SENTRY_RELEASE, CI variables, GITHUB_EVENT_PATH)."""
    naming: dict[str, Any] = {
        "explicit": settings.release,
        "environ": environ,
        "release_from": settings.release_from,
        "tag_pattern": settings.tag_pattern,
    }
    facts = gather(**naming, repo=repo, workdir=settings.working_directory)
    return derive_version(**naming, prefix=settings.release_prefix, **facts)


@dataclass(frozen=True)
class ReleaseResult:
    """What `new` did."""

    version: str
    created: bool  # in a dry run: would be created (the release was not found)
    projects: tuple[str, ...]
    release: Release
    dry_run: bool = False
    checked: bool = True  # False: a dry run without a token could not look the release up


def create_release(
    settings: Settings, client: SentryApi, version: str, *, ref: str | None = None
) -> ReleaseResult:
    """Create the release for every configured project; 208 (exists) is success. A dry run
    prints the POST and reads whether the release exists, as the real run would learn it."""
    assert settings.org is not None
    found = preview_lookup(client, settings.org, version) if client.dry_run else None
    try:
        body, created = client.create_release(
            settings.org,
            version,
            settings.projects,
            url=settings.release_url,
            ref=ref,
            date_started=datetime.now(timezone.utc),
        )
    except SentryAPIError as exc:
        if exc.status == 400 and "projects" in str(exc):
            raise exc.with_note(unknown_projects(client, settings.org, settings.projects)) from None
        raise
    if client.dry_run:
        checked = bool(client.token)
        result = found or body
        return ReleaseResult(version, found is None, settings.projects, result, True, checked)
    return ReleaseResult(version, created, settings.projects, body)


def unknown_projects(client: SentryApi, org: str, projects: Sequence[str]) -> str:
    """What to add to Sentry's "Invalid project slugs" (organization_releases.py answers 400 when a
    slug is not a project of the organization the token can see): which slugs, and the fix."""
    try:
        known = [p.slug for p in client.list_projects(org)]
    except SentryAPIError:  # an org:ci token may not list projects: name what was asked
        return (
            f": no project {', '.join(map(repr, projects))} in organization {org!r} that "
            "this token can see; check --project / SENTRY_PROJECT (the projects input)"
        )
    missing = [p for p in projects if p not in known] or list(projects)
    return (
        f": Sentry has no project {', '.join(map(repr, missing))} in organization {org!r}; "
        f"check --project / SENTRY_PROJECT (the projects input); its projects: "
        f"{', '.join(known) or 'none this token can see'}"
    )


def preview_lookup(client: SentryApi, org: str, version: str) -> Release | None:
    """A dry run's look-up of the release: None when Sentry has none (or, without a token,
    when nothing could be read: the printed read's answer is not Sentry's)."""
    try:
        found = client.get_release(org, version)
    except NotFoundError:
        return None
    return found if client.token else None


def finalize_release(
    settings: Settings, client: SentryApi, version: str, *, when: datetime | None = None
) -> Release:
    """Mark the release as released now (or at `when`); repeating it only moves the date."""
    assert settings.org is not None
    return client.finalize_release(
        settings.org,
        version,
        projects=settings.projects,
        when=when or datetime.now(timezone.utc),
    )
