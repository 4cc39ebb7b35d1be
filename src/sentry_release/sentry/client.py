"""Compatibility names while the code moves to `sentry.api` / `sentry.transport`."""

from __future__ import annotations

from sentry_release.sentry.api import SentryApi as SentryClient
from sentry_release.sentry.transport import RetryPolicy, rate_limit_wait

__all__ = ["RetryPolicy", "SentryClient", "rate_limit_wait"]
