"""What the gate reads from Sentry, parsed once at the boundary (`reads.py`) into types."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sentry_release.dates import parse_rfc3339
from sentry_release.sentry.models import Deploy as Deploy  # one type per Sentry concept
from sentry_release.sentry.models import Project as Project


def parse_when(value: Any) -> datetime | None:
    """Sentry's dates (RFC 3339 with Z and any fraction) as aware datetimes."""
    if not value or not isinstance(value, str):
        return None
    try:
        return parse_rfc3339(value)
    except ValueError:
        return None


def iso(moment: datetime) -> str:
    """RFC 3339 with Z, as Sentry writes it."""
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def at(epoch: float) -> datetime:
    """An aware UTC datetime from epoch seconds."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc)


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


@dataclass(frozen=True)
class Issue:
    """One issue of the issue stream (`GET /organizations/{org}/issues/`)."""

    id: str
    short_id: str
    title: str
    level: str
    status: str
    substatus: str | None
    unhandled: bool
    events: int  # `count`: events in the queried range and environment
    users: int
    first_seen: datetime | None
    last_seen: datetime | None
    permalink: str | None
    project_id: str
    project_slug: str
    kind: str = "new"  # new, regressed or escalating: which search found it

    @classmethod
    def parse(cls, raw: Mapping[str, Any], kind: str = "new") -> Issue:
        """From Sentry's stream serializer (`api/serializers/models/group_stream.py`)."""
        project = raw.get("project") if isinstance(raw.get("project"), Mapping) else {}
        assert isinstance(project, Mapping)
        return cls(
            id=str(raw.get("id") or ""),
            short_id=str(raw.get("shortId") or raw.get("id") or ""),
            title=str(raw.get("title") or ""),
            level=str(raw.get("level") or "error"),
            status=str(raw.get("status") or "unresolved"),
            substatus=str(raw["substatus"]) if raw.get("substatus") else None,
            unhandled=bool(raw.get("isUnhandled")),
            events=_int(raw.get("count")),
            users=_int(raw.get("userCount")),
            first_seen=parse_when(raw.get("firstSeen")),
            last_seen=parse_when(raw.get("lastSeen")),
            permalink=str(raw["permalink"]) if raw.get("permalink") else None,
            project_id=str(project.get("id") or ""),
            project_slug=str(project.get("slug") or ""),
            kind=kind,
        )


@dataclass(frozen=True)
class Series:
    """Counts per bucket from `start`, `bucket` seconds each."""

    start: datetime
    bucket: float
    values: tuple[float, ...]

    def total(self) -> float:
        """Sum over the buckets."""
        return float(sum(self.values))


@dataclass(frozen=True)
class Traffic:
    """One release's traffic in one span of time: errored units over exposure per bucket.

    Sessions read from Sentry also carry their users (`count_unique(user)`: distinct users
    per bucket, and those with an errored, crashed or abnormal session), when the SDK sets
    one; a crash loop is many errored sessions but one errored user."""

    unit: str | None  # sessions, users, transactions, or None when Sentry has no denominator
    errored: Series
    exposure: Series | None
    note: str | None = None  # why a better unit was not used (e.g. the sessions error)
    errored_users: Series | None = None  # sessions only: users with an errored session
    users: Series | None = None  # sessions only: distinct users per bucket

    @property
    def has_users(self) -> bool:
        """The sessions carry users (some bucket counts one)."""
        return self.users is not None and self.users.total() > 0

    def by_users(self) -> Traffic:
        """The same traffic counted in users: errored users over users per bucket."""
        if self.errored_users is None or self.users is None:
            raise ValueError("this traffic carries no users")
        return Traffic("users", self.errored_users, self.users, self.note)


@dataclass(frozen=True)
class Outcomes:
    """`stats_v2` outcomes of error events in the window: what Sentry did not keep."""

    accepted: int = 0
    rate_limited: int = 0
    filtered: int = 0
    invalid: int = 0
    client_discard: int = 0

    @property
    def dropped(self) -> int:
        """Events Sentry received or was sent but does not show."""
        return self.rate_limited + self.invalid + self.client_discard


@dataclass(frozen=True)
class Suspect:
    """The commit Sentry blames for an issue (`.../events/{id}/committers/`)."""

    commit: str
    message: str
    author: str
