"""Step 5b: record the deploy, once per (release, environment, name)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sentry_release.config.settings import Settings
from sentry_release.sentry.client import SentryClient, matching_deploy


@dataclass(frozen=True)
class DeployResult:
    """The deploy record and whether this run created it."""

    deploy: dict[str, Any]
    created: bool

    @property
    def id(self) -> str:
        """Sentry's deploy id."""
        return str(self.deploy.get("id", ""))


def record_deploy(
    settings: Settings,
    client: SentryClient,
    version: str,
    *,
    force_new: bool = False,
    now: datetime | None = None,
) -> DeployResult:
    """Create the deploy unless the same one is already recorded (unless `force_new`)."""
    options = settings.deploy
    assert settings.org is not None and options.environment is not None
    known: list[dict[str, Any]] | None = None
    if not client.dry_run:
        known = client.list_deploys(settings.org, version)
        existing = None if force_new else matching_deploy(known, options.environment, options.name)
        if existing is not None:
            return DeployResult(existing, False)
    deploy = client.create_deploy(
        settings.org,
        version,
        environment=options.environment,
        name=options.name,
        url=options.url,
        date_started=options.started,
        date_finished=options.finished or now or datetime.now(timezone.utc),
        projects=settings.projects,
        known=known,
    )
    return DeployResult(deploy, True)
