"""History written straight into a stand-in's store, as if it had happened: a release
deployed in the past, the sessions it served, the errors it raised. For the demo and for
tests that need a gate to decide at once (its window already over) without sending
envelopes one by one. Records take the shapes the API routes give them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sentry_standin.events import store_event, store_sessions
from sentry_standin.store import Store, now_iso, to_iso


def _iso(epoch: float) -> str:
    from datetime import datetime, timezone

    return to_iso(datetime.fromtimestamp(epoch, tz=timezone.utc))


def deployed_release(
    store: Store,
    org: str,
    version: str,
    projects: Iterable[str],
    *,
    environment: str,
    started: float,
    finished: float,
) -> dict[str, Any]:
    """A release (finalized when its deploy finished) with one deploy to `environment`."""
    slugs = list(projects)
    deploy = {
        "id": str(store.next_id()),
        "environment": environment,
        "name": None,
        "url": None,
        "dateStarted": _iso(started),
        "dateFinished": _iso(finished),
    }
    with store.lock:
        rel = {
            "id": str(store.next_id()),
            "version": version,
            "projects": slugs,
            "dateCreated": now_iso(store),
            "dateReleased": _iso(finished),
            "dateStarted": None,
            "url": None,
            "ref": None,
            "commits": [],
            "lastCommit": None,
            "deploys": [deploy],
            "lastDeploys": {f"{slug}/{environment}": deploy["id"] for slug in slugs},
            "userAgent": None,
        }
        store.releases(org)[version] = rel
    return rel


def sessions(
    store: Store,
    org: str,
    project: str,
    release: str,
    environment: str,
    buckets: Iterable[tuple[float, int, int]],
) -> None:
    """Session aggregates `(started, sessions, errored)`, as a server-mode SDK flushes them."""
    body = {
        "attrs": {"release": release, "environment": environment},
        "aggregates": [{"started": _iso(t), "exited": n - e, "errored": e} for t, n, e in buckets],
    }
    store_sessions(store, org, project, "sessions", body)


def error(
    store: Store,
    org: str,
    project: str,
    *,
    release: str,
    environment: str,
    when: float,
    exc_type: str,
    value: str,
    filename: str,
    level: str = "error",
    handled: bool = True,
    user: str | None = None,
) -> str:
    """One error event with a one-frame stack trace in `filename` (so Sentry can name the
    commit that touched it)."""
    event: dict[str, Any] = {
        "event_id": uuid.uuid4().hex,
        "timestamp": when,
        "level": level,
        "release": release,
        "environment": environment,
        "exception": {
            "values": [
                {
                    "type": exc_type,
                    "value": value,
                    "mechanism": {"type": "generic", "handled": handled},
                    "stacktrace": {"frames": [{"filename": filename, "abs_path": filename}]},
                }
            ]
        },
    }
    if user:
        event["user"] = {"id": user}
    return store_event(store, org, project, event)
