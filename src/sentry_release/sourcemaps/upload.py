"""Artifact bundle upload over Sentry's chunk protocol (and the legacy release files path)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sentry_release.output import Output
from sentry_release.sentry.client import SentryClient
from sentry_release.settings import Settings


@dataclass(frozen=True)
class UploadResult:
    """What upload-sourcemaps did."""

    bundle_ids: tuple[str, ...] = ()
    files: int = 0
    bytes_total: int = 0
    bytes_sent: int = 0
    warnings: tuple[str, ...] = field(default=())


def upload_sourcemaps(
    settings: Settings, client: SentryClient, version: str | None, out: Output
) -> UploadResult:
    """Discover, validate, bundle and upload source maps for `version`."""
    raise NotImplementedError("upload-sourcemaps is built by issue 4")
