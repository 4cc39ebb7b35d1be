"""Step 5b: record the deploy, each time the step runs.

Sentry keeps every deploy; the release's deploy count and the environment's "last deployed"
come from them. So a re-run job deploys again and a rollback (A, B, A) is recorded as three
deploys, as getsentry/action-release and `sentry-cli deploys new` do. Within one run a deploy
is never recorded twice: a lost answer is looked for before resending (see `SentryApi
.create_deploy`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sentry_release.config.settings import Settings
from sentry_release.sentry.api import SentryApi
from sentry_release.sentry.models import Deploy


@dataclass(frozen=True)
class DeployResult:
    """The deploy this run recorded."""

    deploy: Deploy
    created: bool = True

    @property
    def id(self) -> str:
        """Sentry's deploy id."""
        return self.deploy.id


def record_deploy(
    settings: Settings,
    client: SentryApi,
    version: str,
    *,
    now: datetime | None = None,
) -> DeployResult:
    """Record one deploy of `version` to the configured environment."""
    options = settings.deploy
    assert settings.org is not None and options.environment is not None
    deploy = client.create_deploy(
        settings.org,
        version,
        environment=options.environment,
        name=options.name,
        url=options.url,
        date_started=options.started,
        date_finished=options.finished or now or datetime.now(timezone.utc),
        projects=options.projects,
    )
    return DeployResult(deploy, True)
