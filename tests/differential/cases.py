"""One list of requests (issue #21): every endpoint the client uses, with good and bad input
and each scope, sent in order to a Sentry (the real 23.7.1, the stand-in in each mode) and
reduced to what is compared: the status, the answer's keys, and the few values that matter
(a 4xx body whole, the chunk-upload `accept` list, an assemble `state`).

`tests/fixtures/sentry-23.7.1-answers.json` holds what the real Sentry 23.7.1 answered
(tests/realserver/test_differential_real.py records and checks it); the stand-in's half
(tests/standin/test_differential.py) runs without the real server.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import requests

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "sentry-23.7.1-answers.json"
# Token roles: org = an org auth token (org:ci); read = org:read project:read event:read;
# releases = project:releases; event = event:read only; member = member:read only.
ROLES = ("org", "read", "releases", "event", "member")
CHUNK = b"differential chunk\n"
CHUNK_SHA = hashlib.sha1(CHUNK).hexdigest()
SHA = "a" * 40


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str  # under /api/0/; {org}, {release}, {web_id} are filled in
    role: str = "org"
    params: tuple[tuple[str, str], ...] = ()
    body: Any = None
    chunk: bool = False  # a multipart chunk upload of CHUNK
    values: tuple[str, ...] = ()  # top-level fields of a 2xx answer compared by value
    # keys compared only among these (answers the stand-in shapes only as far as clients read)
    only: tuple[str, ...] = ()


def _window() -> tuple[tuple[str, str], ...]:
    end = datetime.now(timezone.utc).replace(microsecond=0)
    start = end - timedelta(minutes=10)
    return (("start", start.isoformat()), ("end", end.isoformat()))


def gate(name: str, path: str, role: str, *params: tuple[str, str]) -> Case:
    """A gate read of one project and environment over the last ten minutes."""
    scoped = (*params, ("environment", "production"), ("project", "{web_id}"))
    return Case(name, "GET", path, role, params=scoped)


STATS = (("yAxis", "count()"), ("interval", "1m"))
EVENTS = (("field", "release"), ("field", "count()"))
SESSIONS = (("field", "sum(session)"), ("groupBy", "session.status"))

CASES: tuple[Case, ...] = (
    Case("root", "GET", "/"),
    Case("org details, org:ci", "GET", "/organizations/{org}/"),
    Case(
        "org details, read",
        "GET",
        "/organizations/{org}/",
        "read",
        only=("id", "slug", "name"),
    ),
    Case("projects, org:ci", "GET", "/organizations/{org}/projects/"),
    Case(
        "projects, read",
        "GET",
        "/organizations/{org}/projects/",
        "read",
        only=("id", "slug", "name", "platform"),
    ),
    Case(
        "previous release create, with commits",
        "POST",
        "/organizations/{org}/releases/",
        body={"version": "{release}-prev", "projects": ["web"], "commits": [{"id": SHA}]},
    ),
    Case(
        "release create",
        "POST",
        "/organizations/{org}/releases/",
        body={"version": "{release}", "projects": ["web"]},
        values=("version", "status", "commitCount", "deployCount"),
    ),
    Case(
        "release create again",
        "POST",
        "/organizations/{org}/releases/",
        body={"version": "{release}", "projects": ["web"]},
    ),
    Case(
        "release create, unknown project",
        "POST",
        "/organizations/{org}/releases/",
        body={"version": "{release}-x", "projects": ["ghost"]},
    ),
    Case(
        "release create, no version",
        "POST",
        "/organizations/{org}/releases/",
        body={"projects": ["web"]},
    ),
    Case(
        "release create, member scope",
        "POST",
        "/organizations/{org}/releases/",
        "member",
        body={"version": "{release}-m", "projects": ["web"]},
    ),
    Case(
        "release create, project:releases",
        "POST",
        "/organizations/{org}/releases/",
        "releases",
        body={"version": "{release}-r", "projects": ["web"]},
    ),
    Case("release details", "GET", "/organizations/{org}/releases/{release}/"),
    Case("release details, read", "GET", "/organizations/{org}/releases/{release}/", "read"),
    Case("release details, member", "GET", "/organizations/{org}/releases/{release}/", "member"),
    Case("release details, unknown", "GET", "/organizations/{org}/releases/{release}-none/"),
    Case(
        "release update, commits",
        "PUT",
        "/organizations/{org}/releases/{release}/",
        body={"commits": [{"id": SHA, "message": "one", "author_name": "A"}]},
        values=("version",),
    ),
    Case(
        "release update, bad date",
        "PUT",
        "/organizations/{org}/releases/{release}/",
        body={"dateReleased": "yesterday"},
    ),
    Case(
        "release finalize",
        "PUT",
        "/organizations/{org}/releases/{release}/",
        body={"dateReleased": "2026-01-01T00:00:00Z"},
        values=("dateReleased",),
    ),
    Case(
        "previous with commits",
        "GET",
        "/organizations/{org}/releases/{release}/previous-with-commits/",
    ),
    Case(
        "releases of a project",
        "GET",
        "/organizations/{org}/releases/",
        params=(("project", "{web_id}"), ("per_page", "5")),
    ),
    Case(
        "deploy create",
        "POST",
        "/organizations/{org}/releases/{release}/deploys/",
        body={"environment": "production"},
        values=("environment",),
    ),
    Case(
        "deploy create, bad environment",
        "POST",
        "/organizations/{org}/releases/{release}/deploys/",
        body={"environment": "bad/name"},
    ),
    Case("deploys", "GET", "/organizations/{org}/releases/{release}/deploys/"),
    Case("repos, org:ci", "GET", "/organizations/{org}/repos/"),
    Case("repos, read", "GET", "/organizations/{org}/repos/", "read"),
    Case("chunk-upload options", "GET", "/organizations/{org}/chunk-upload/", values=("accept",)),
    Case("chunk upload", "POST", "/organizations/{org}/chunk-upload/", chunk=True),
    Case(
        "assemble, a chunk never uploaded",
        "POST",
        "/organizations/{org}/artifactbundle/assemble/",
        # a new checksum each run: Sentry keeps an assemble state per checksum
        body={"checksum": "{never}", "chunks": ["{never}"], "projects": ["web"]},
        values=("state", "missingChunks"),
    ),
    Case(
        "assemble, bad checksum",
        "POST",
        "/organizations/{org}/artifactbundle/assemble/",
        body={"checksum": "nope", "chunks": [], "projects": ["web"]},
    ),
    Case(
        "assemble, unknown project",
        "POST",
        "/organizations/{org}/artifactbundle/assemble/",
        body={"checksum": CHUNK_SHA, "chunks": [CHUNK_SHA], "projects": ["ghost"]},
    ),
    gate(
        "issues, read",
        "/organizations/{org}/issues/",
        "read",
        ("query", "is:unresolved"),
        ("limit", "100"),
    ),
    gate("issues, org:ci", "/organizations/{org}/issues/", "org", ("query", "is:unresolved")),
    gate(
        "events-stats, errors",
        "/organizations/{org}/events-stats/",
        "read",
        *STATS,
        ("dataset", "errors"),
        ("query", "event.type:error"),
    ),
    gate(
        "events-stats, transactions",
        "/organizations/{org}/events-stats/",
        "read",
        *STATS,
        ("dataset", "transactions"),
        ("query", "event.type:transaction"),
    ),
    gate(
        "events-stats, discover",
        "/organizations/{org}/events-stats/",
        "read",
        *STATS,
        ("dataset", "discover"),
        ("query", "event.type:error"),
    ),
    gate(
        "events-stats, event:read only",
        "/organizations/{org}/events-stats/",
        "event",
        *STATS,
        ("dataset", "discover"),
    ),
    gate(
        "events, errors",
        "/organizations/{org}/events/",
        "read",
        *EVENTS,
        ("dataset", "errors"),
        ("query", "event.type:error"),
    ),
    gate(
        "events, discover",
        "/organizations/{org}/events/",
        "read",
        *EVENTS,
        ("dataset", "discover"),
        ("query", "event.type:error"),
    ),
    gate(
        "events, event:read only",
        "/organizations/{org}/events/",
        "event",
        *EVENTS,
        ("dataset", "discover"),
    ),
    gate("sessions, 30s", "/organizations/{org}/sessions/", "read", *SESSIONS, ("interval", "30s")),
    gate("sessions, 1m", "/organizations/{org}/sessions/", "read", *SESSIONS, ("interval", "1m")),
    # the gate's read: sessions and users in one query (issue #22)
    gate(
        "sessions and users, 1m",
        "/organizations/{org}/sessions/",
        "read",
        *SESSIONS,
        ("field", "count_unique(user)"),
        ("interval", "1m"),
    ),
    gate(
        "sessions, unknown field",
        "/organizations/{org}/sessions/",
        "read",
        ("field", "count_unique(session)"),
        ("interval", "1m"),
    ),
    gate("sessions, no field", "/organizations/{org}/sessions/", "read", ("interval", "1m")),
    gate(
        "sessions, event:read only",
        "/organizations/{org}/sessions/",
        "event",
        *SESSIONS,
        ("interval", "1m"),
    ),
    Case(
        "stats_v2",
        "GET",
        "/organizations/{org}/stats_v2/",
        "read",
        params=(
            ("field", "sum(quantity)"),
            ("groupBy", "outcome"),
            ("category", "error"),
            ("interval", "1h"),
            ("project", "{web_id}"),
        ),
    ),
    Case(
        "latest event, unknown issue",
        "GET",
        "/organizations/{org}/issues/999999/events/latest/",
        "read",
    ),
)


# Cases added after the last recording from the real 23.7.1 (tests/realserver/, which needs
# that server; `SENTRY_REAL_RECORD=1` records them): until then `differences` cannot compare
# them, and tests/standin/test_sessions_users.py holds the stand-in to the answers read from
# 23.7.1's code. Remove a name once it is recorded.
UNRECORDED: frozenset[str] = frozenset()  # the users cases were recorded on 2026-12-07


@dataclass
class Target:
    """A Sentry to send the cases to."""

    url: str  # with no trailing slash
    tokens: Mapping[str, str]  # role -> token
    names: dict[str, str] = field(default_factory=dict)  # {org}, {release}, {web_id}

    def fill(self, value: Any) -> Any:
        if isinstance(value, str):
            for key, name in self.names.items():
                value = value.replace("{" + key + "}", name)
            return value
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.fill(v) for v in value)
        return value


def send(target: Target, case: Case) -> requests.Response:
    params = [
        (k, target.fill(v))
        for k, v in (
            *case.params,
            *(
                _window()
                if case.path.endswith(
                    ("/issues/", "-stats/", "/events/", "/sessions/", "/stats_v2/")
                )
                else ()
            ),
        )
    ]
    kwargs: dict[str, Any] = {}
    if case.chunk:
        kwargs["files"] = [
            ("file_gzip", (CHUNK_SHA, gzip.compress(CHUNK), "application/octet-stream"))
        ]
    elif case.body is not None:
        kwargs["json"] = target.fill(case.body)
    return requests.request(
        case.method,
        target.url + "/api/0" + target.fill(case.path),
        params=params,
        headers={"Authorization": f"Bearer {target.tokens[case.role]}"},
        timeout=60,
        **kwargs,
    )


def outcome(case: Case, response: requests.Response) -> dict[str, Any]:
    """What is compared of one answer."""
    try:
        body = response.json()
    except ValueError:
        body = None
    found: dict[str, Any] = {"status": response.status_code}
    if response.status_code >= 400:
        if isinstance(body, dict):
            body.pop("errorId", None)
        found["body"] = body
        return found
    first = body[0] if isinstance(body, list) and body else body
    keys = (
        sorted(k for k in first if not case.only or k in case.only)
        if isinstance(first, dict)
        else None
    )
    found["keys"] = keys if keys is not None else type(body).__name__
    for name in case.values:
        found[name] = first.get(name) if isinstance(first, dict) else None
    return found


def run(target: Target) -> dict[str, dict[str, Any]]:
    """Every case's outcome, with this run's release name put back as `{release}`."""
    target.names.setdefault("never", hashlib.sha1(uuid.uuid4().bytes).hexdigest())
    found = {case.name: outcome(case, send(target, case)) for case in CASES}
    text = json.dumps(found).replace(target.names["release"], "{release}")
    return dict(json.loads(text))


def recorded() -> dict[str, dict[str, Any]]:
    return dict(json.loads(RECORDED.read_text(encoding="utf-8"))["answers"])


def differences(
    got: Mapping[str, Mapping[str, Any]], want: Mapping[str, Mapping[str, Any]]
) -> dict[str, tuple[Any, Any]]:
    """Case name -> (got, want) where they differ."""
    return {name: (got.get(name), want.get(name)) for name in want if got.get(name) != want[name]}
