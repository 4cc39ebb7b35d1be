"""sentry-release: the release-tracking step of CI/CD pipelines that ship to Sentry."""

from __future__ import annotations

__version__ = "1.0.0"
