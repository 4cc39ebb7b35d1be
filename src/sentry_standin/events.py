"""Stand-in endpoints for the gate: event ingestion, issues, events and sessions queries.

Events are stored as sent (with their own timestamps, so a test can build a baseline in the
past without waiting) and grouped into issues by fingerprint, else exception type + value,
else message. Issue fields that Sentry scopes to an environment (firstSeen, lastSeen,
firstRelease, count, userCount) are computed from the events at query time, so every filter
(environment, start/end, release) is honoured the same way everywhere.
"""

from __future__ import annotations

import gzip
import json
import re
import shlex
import uuid
import zlib
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from sentry_standin import access, rules
from sentry_standin.routing import ORG, HTTPError, Request, Response, paginate, route
from sentry_standin.rules import ORGANIZATION_EVENT_PERMISSION, ORGANIZATION_PERMISSION
from sentry_standin.store import Store, parse_iso, to_iso

INGEST = r"/api/(?P<project_id>\d+)"
DEFAULT_PERIOD = "14d"
MAX_TITLE = 200
_PERIOD_RE = re.compile(r"^(\d+)([smhdw])$")
_PERIOD_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_TOKEN_RE = re.compile(r'(!?)([\w.\-]+):("(?:[^"\\]|\\.)*"|\[[^\]]*\]|\S+)|("(?:[^"\\]|\\.)*"|\S+)')
ISSUE_STATUSES = {
    "resolved": ("resolved", None),
    "resolvedInNextRelease": ("resolved", None),
    "unresolved": ("unresolved", "ongoing"),
    "ignored": ("ignored", "archived_until_escalating"),
    "archived": ("ignored", "archived_until_escalating"),
}


# --- state -----------------------------------------------------------------------------


def _events(store: Store, org: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = store.data.setdefault("events", {}).setdefault(org, [])
    return events


def _issues(store: Store, org: str) -> dict[str, dict[str, Any]]:
    issues: dict[str, dict[str, Any]] = store.data.setdefault("issues", {}).setdefault(org, {})
    return issues


def _sessions(store: Store, org: str) -> list[dict[str, Any]]:
    sessions: list[dict[str, Any]] = store.data.setdefault("sessions", {}).setdefault(org, [])
    return sessions


# --- ingestion ---------------------------------------------------------------------------


def _decode_body(request: Request) -> bytes:
    encoding = (request.header("content-encoding") or "").strip().lower()
    body = request.body
    try:
        if encoding == "gzip" or body[:2] == b"\x1f\x8b":
            return gzip.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
        if encoding == "br":
            import brotli  # type: ignore[import-not-found]  # only when an SDK sends br

            return bytes(brotli.decompress(body))
    except ImportError:
        raise HTTPError(415, {"detail": "unsupported content encoding: br"}) from None
    except (OSError, zlib.error, EOFError):
        raise HTTPError(400, {"detail": f"invalid {encoding or 'gzip'} body"}) from None
    if encoding not in ("", "identity"):
        raise HTTPError(415, {"detail": f"unsupported content encoding: {encoding}"})
    return body


def _sentry_key(request: Request, envelope_dsn: str | None) -> str | None:
    """The public key from X-Sentry-Auth, Authorization: Sentry, ?sentry_key= or the DSN."""
    for header in ("x-sentry-auth", "authorization"):
        value = request.header(header) or ""
        if value.lower().startswith("sentry "):
            match = re.search(r"sentry_key\s*=\s*([^,\s]+)", value)
            if match:
                return match.group(1)
    if request.arg("sentry_key"):
        return request.arg("sentry_key")
    if envelope_dsn:
        return urlsplit(envelope_dsn).username
    return None


def _ingest_project(request: Request, envelope_dsn: str | None = None) -> tuple[str, str]:
    """`(org slug, project slug)` after checking the DSN key as Relay does."""
    found = request.store.project_by_id(request.params["project_id"])
    if found is None:
        raise HTTPError(404, {"detail": "project not found"})
    org, project = found
    key = _sentry_key(request, envelope_dsn)
    if not key:
        raise HTTPError(401, {"detail": "missing authorization information"})
    if key != project["public_key"]:
        raise HTTPError(401, {"detail": "invalid api key"})
    return org, project["slug"]


def parse_envelope(raw: bytes) -> tuple[dict[str, Any], list[tuple[dict[str, Any], bytes]]]:
    """Split an envelope into its header and `(item header, payload)` pairs."""
    header_line, _, rest = raw.partition(b"\n")
    try:
        header = json.loads(header_line or b"{}")
        items: list[tuple[dict[str, Any], bytes]] = []
        while rest.strip():
            item_line, _, rest = rest.partition(b"\n")
            if not item_line.strip():
                continue
            item = json.loads(item_line)
            length = item.get("length")
            if length is not None:
                payload, rest = rest[: int(length)], rest[int(length) :]
                rest = rest[1:] if rest.startswith(b"\n") else rest
            else:
                payload, _, rest = rest.partition(b"\n")
            items.append((item, payload))
    except (ValueError, TypeError):
        raise HTTPError(400, {"detail": "invalid envelope"}) from None
    if not isinstance(header, dict):
        raise HTTPError(400, {"detail": "invalid envelope"})
    return header, items


@route("POST", INGEST + "/envelope/")
def ingest_envelope(request: Request) -> Response:
    """Envelope endpoint: error events and sessions are kept; other items are accepted."""
    header, items = parse_envelope(_decode_body(request))
    org, project = _ingest_project(request, header.get("dsn"))
    event_id = header.get("event_id")
    for item, payload in items:
        kind = item.get("type")
        if kind in ("event", "error"):
            event = _json_payload(payload)
            event_id = store_event(request.store, org, project, event, header.get("event_id"))
        elif kind in ("session", "sessions"):
            store_sessions(request.store, org, project, kind, _json_payload(payload))
    return Response(200, {"id": event_id} if event_id else {})


@route("POST", INGEST + "/store/")
def ingest_store(request: Request) -> Response:
    """The legacy store endpoint: one JSON event per request."""
    event = _json_payload(_decode_body(request))
    org, project = _ingest_project(request)
    return Response(200, {"id": store_event(request.store, org, project, event)})


def _json_payload(payload: bytes) -> dict[str, Any]:
    try:
        value = json.loads(payload)
    except ValueError:
        raise HTTPError(400, {"detail": "invalid event payload"}) from None
    if not isinstance(value, dict):
        raise HTTPError(400, {"detail": "invalid event payload"})
    return value


def _timestamp(value: Any, default: float) -> float:
    if value in (None, ""):
        return default
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        pass
    try:
        return parse_iso(str(value)).timestamp()
    except ValueError:
        return default


def _message(event: dict[str, Any]) -> str:
    for key in ("logentry", "message"):
        value = event.get(key)
        if isinstance(value, dict):
            value = value.get("formatted") or value.get("message")
        if isinstance(value, str) and value:
            return value
    return ""


def _exception(event: dict[str, Any]) -> dict[str, Any] | None:
    exc = event.get("exception")
    values = exc.get("values") if isinstance(exc, dict) else exc
    if isinstance(values, list) and values and isinstance(values[-1], dict):
        # the last value is the outermost exception, the one Sentry titles the issue with
        return values[-1]
    return None


def _culprit(event: dict[str, Any], exc: dict[str, Any] | None) -> str:
    if event.get("culprit") or event.get("transaction"):
        return str(event.get("culprit") or event.get("transaction"))
    frames = ((exc or {}).get("stacktrace") or {}).get("frames") or []
    for frame in reversed(frames):
        if isinstance(frame, dict) and (frame.get("function") or frame.get("module")):
            where = frame.get("module") or frame.get("filename") or ""
            return f"{where} in {frame.get('function') or '?'}".strip()
    return ""


def _user(event: dict[str, Any]) -> str | None:
    user = event.get("user")
    if not isinstance(user, dict):
        return None
    for key in ("id", "email", "username", "ip_address"):
        if user.get(key) not in (None, ""):
            return f"{key}:{user[key]}"
    return None


def store_event(
    store: Store,
    org: str,
    project: str,
    event: dict[str, Any],
    event_id: str | None = None,
) -> str:
    """Store one event and attach it to its issue (created or regressed as needed)."""
    now = store.clock()
    exc = _exception(event)
    message = _message(event)
    exc_type = str((exc or {}).get("type") or "")
    exc_value = str((exc or {}).get("value") or "")
    if exc is not None:
        title = f"{exc_type}: {exc_value}" if exc_value else exc_type or "<unknown>"
        default_key = ["exception", exc_type, exc_value]
    else:
        title = message or "<unlabeled event>"
        default_key = ["message", message]
    fingerprint = event.get("fingerprint")
    if isinstance(fingerprint, list) and fingerprint:
        key = []
        for part in fingerprint:
            key.extend(default_key if part in ("{{ default }}", "{{default}}") else [str(part)])
    else:
        key = default_key
    group_key = json.dumps([project, *key])
    _check_quota(store, org, project, now)
    mechanism = (exc or {}).get("mechanism") or {}
    unhandled = isinstance(mechanism, dict) and mechanism.get("handled") is False
    level = str(event.get("level") or "error").lower()
    if level == "warn":
        level = "warning"
    record: dict[str, Any] = {
        "id": str(event.get("event_id") or event_id or uuid.uuid4().hex).replace("-", ""),
        "project": project,
        "timestamp": _timestamp(event.get("timestamp"), now),
        "received": now,
        "release": event.get("release") or None,
        "environment": event.get("environment") or None,
        "level": level,
        "type": "error" if exc is not None else "default",
        "user": _user(event),
        "unhandled": unhandled,
        "title": title[:MAX_TITLE],
        "frames": _frame_paths(exc),
    }
    with store.lock:
        issues = _issues(store, org)
        issue = next((i for i in issues.values() if i["key"] == group_key), None)
        if issue is None:
            project_record = store.project(org, project) or {"slug": project}
            counter = store.data.setdefault("short_ids", {})
            number = counter[f"{org}/{project}"] = counter.get(f"{org}/{project}", 0) + 1
            issue = {
                "id": str(store.next_id()),
                "key": group_key,
                "shortId": f"{str(project_record['slug']).upper()}-{number}",
                "project": project,
                "title": title[:MAX_TITLE],
                "culprit": _culprit(event, exc),
                "level": level,
                "type": exc_type,
                "value": exc_value,
                "status": "unresolved",
                "substatus": "new",
                "resolvedAt": None,
                "lastTimestamp": record["timestamp"],
            }
            issues[issue["id"]] = issue
        elif issue["status"] == "resolved" and record["received"] > (issue["resolvedAt"] or 0):
            # a resolved issue that sees a new event regresses, as in Sentry
            issue.update(status="unresolved", substatus="regressed", resolvedAt=None)
        elif issue["substatus"] == "archived_until_escalating" and _escalates(
            store, org, issue, now
        ):
            # `issues/escalating.py`: an issue archived until escalating that exceeds its
            # forecast becomes unresolved with substatus escalating
            issue.update(status="unresolved", substatus="escalating")
        if record["timestamp"] >= issue.get("lastTimestamp", 0):
            # like Sentry, the issue takes the level of its latest event
            issue["level"], issue["lastTimestamp"] = level, record["timestamp"]
        record["issue"] = issue["id"]
        _events(store, org).append(record)
    return str(record["id"])


SESSION_RANK = {"healthy": 0, "errored": 1, "abnormal": 2, "crashed": 3}


def _session_status(body: dict[str, Any]) -> str:
    """A session update's status as Sentry counts it (`snuba/sessions_v2.py`): crashed and
    abnormal by status, errored when it saw errors, else healthy."""
    status = str(body.get("status") or "ok")
    if status in ("crashed", "abnormal"):
        return status
    if status == "errored" or int(body.get("errors") or 0) > 0:
        return "errored"
    return "healthy"


def _did(body: dict[str, Any]) -> str | None:
    """The session's user (`did`, any string the SDK set): counted by `count_unique(user)`;
    a session without one counts for no user (Relay stores the nil UUID, which Snuba's
    `users` columns leave out)."""
    did = body.get("did")
    return str(did) if did not in (None, "") else None


ESCALATING_FORECAST = 10  # events per hour an archived issue may see before it escalates
QUOTA_WINDOW = 60.0


def _frame_paths(exc: dict[str, Any] | None) -> list[str]:
    frames = ((exc or {}).get("stacktrace") or {}).get("frames") or []
    return [
        str(f.get("abs_path") or f.get("filename"))
        for f in frames
        if isinstance(f, dict) and (f.get("abs_path") or f.get("filename"))
    ]


def _escalates(store: Store, org: str, issue: dict[str, Any], now: float) -> bool:
    """More events in the last hour than the forecast (`issues/forecasts.py` keeps a floor
    of 10 a day per hour bucket; the stand-in uses a fixed hourly forecast)."""
    recent = [
        e for e in _events(store, org) if e["issue"] == issue["id"] and e["received"] >= now - 3600
    ]
    return len(recent) + 1 > ESCALATING_FORECAST


def _check_quota(store: Store, org: str, project: str, now: float) -> None:
    """Relay's quotas: beyond `quotas[project]` error events a minute, the event is dropped
    with a `rate_limited` outcome (counted by `/stats_v2/`) and the SDK gets 429."""
    limit = (store.data.get("quotas") or {}).get(project)
    if limit is None:
        return
    with store.lock:
        recent = [
            e
            for e in _events(store, org)
            if e["project"] == project and e["received"] >= now - QUOTA_WINDOW
        ]
        if len(recent) < int(limit):
            return
        outcomes = store.data.setdefault("outcomes", {}).setdefault(org, [])
        outcomes.append({"project": project, "timestamp": now, "outcome": "rate_limited"})
    raise HTTPError(
        429,
        {"detail": "event rejected due to rate limit"},
        headers={"X-Sentry-Rate-Limits": f"{int(QUOTA_WINDOW)}:error:project:project_quota"},
    )


def store_sessions(store: Store, org: str, project: str, kind: str, body: dict[str, Any]) -> None:
    """Sessions per release and environment with their status: single sessions are counted
    at `init` and take the worst status of their updates (by `sid`); aggregates count each
    bucket's exited, errored, abnormal and crashed sessions."""
    attrs = body.get("attrs") or {}
    base = {
        "project": project,
        "release": attrs.get("release"),
        "environment": attrs.get("environment") or None,
    }
    rows: list[dict[str, Any]] = []
    if kind == "session":
        base = {**base, "release": base["release"] or body.get("release")}
        sid = str(body.get("sid") or "") or None
        status = _session_status(body)
        did = _did(body)
        with store.lock:
            known = next((r for r in _sessions(store, org) if sid and r.get("sid") == sid), None)
            if known is not None:
                if SESSION_RANK[status] > SESSION_RANK[known["status"]]:
                    known["status"] = status
                known["did"] = known.get("did") or did
                return
        if body.get("init"):
            started = _timestamp(body.get("started"), store.clock())
            rows.append(
                {**base, "sid": sid, "started": started, "count": 1, "status": status, "did": did}
            )
    else:
        names = {"exited": "healthy", "errored": "errored", "abnormal": "abnormal"}
        names["crashed"] = "crashed"
        for bucket in body.get("aggregates") or []:
            started = _timestamp(bucket.get("started"), store.clock())
            did = _did(bucket)  # server mode: one aggregate item per user, when it has one
            for key, status in names.items():
                count = int(bucket.get(key) or 0)
                if count:
                    rows.append(
                        {**base, "started": started, "count": count, "status": status, "did": did}
                    )
    with store.lock:
        _sessions(store, org).extend(rows)


# --- query syntax ------------------------------------------------------------------------


def parse_query(query: str) -> list[tuple[bool, str, list[str]]]:
    """Sentry's search syntax: `[!]key:value`, `key:"quoted"`, `key:[a,b]`, free text."""
    terms: list[tuple[bool, str, list[str]]] = []
    for negate, key, value, text in _TOKEN_RE.findall(query or ""):
        if not key:
            terms.append((False, "message", [_unquote(text)]))
            continue
        if value.startswith("[") and value.endswith("]"):
            values = [_unquote(v.strip()) for v in value[1:-1].split(",") if v.strip()]
        else:
            values = [_unquote(value)]
        terms.append((bool(negate), key, values))
    return terms


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            return shlex.split(text)[0]
        except ValueError:
            return text[1:-1]
    return text


def _time_range(request: Request) -> tuple[float, float]:
    """`start`/`end` or `statsPeriod` (default 14d) as epoch seconds."""
    now = request.store.clock()
    start, end = request.arg("start"), request.arg("end")
    try:
        if start or end:
            if not (start and end):
                raise HTTPError(400, {"detail": "start and end are both required"})
            return parse_iso(start).timestamp(), parse_iso(end).timestamp()
    except ValueError:
        raise HTTPError(400, {"detail": "Error parsing start or end date"}) from None
    period = request.arg("statsPeriod") or DEFAULT_PERIOD
    match = _PERIOD_RE.match(period)
    if not match:
        raise HTTPError(400, {"detail": f"Invalid statsPeriod: {period!r}"})
    return now - int(match.group(1)) * _PERIOD_UNITS[match.group(2)], now + 1


def _projects(request: Request, org: str, multi_project: str | None = None) -> set[str]:
    """Slugs of the projects the query reads (access.py: numeric ids, -1, none = mine);
    with `multi_project`, more than one needs the org's `global-views` feature."""
    projects = access.requested_projects(request, org)
    if multi_project is not None:
        access.single_project_unless_global_views(request, org, projects, multi_project)
    return {p["slug"] for p in projects}


def _scoped_events(request: Request, org: str, multi_project: str) -> list[dict[str, Any]]:
    """Events of the selected projects and environments (any time)."""
    projects = _projects(request, org, multi_project)
    environments = set(request.args("environment"))
    with request.store.lock:
        events = list(_events(request.store, org))
    return [
        e
        for e in events
        if e["project"] in projects
        and (not environments or (e["environment"] or "") in environments)
    ]


def _event_matches(event: dict[str, Any], terms: Iterable[tuple[bool, str, list[str]]]) -> bool:
    for negate, key, values in terms:
        if key == "event.type":
            ok = event["type"] in values
        elif key == "release":
            ok = (event["release"] or "") in values
        elif key == "environment":
            ok = (event["environment"] or "") in values
        elif key == "level":
            ok = event["level"] in values
        elif key in ("error.unhandled", "error.handled"):
            want = values[0].lower() in ("true", "1")
            ok = event["unhandled"] == (want if key == "error.unhandled" else not want)
        elif key == "issue.id":
            ok = event["issue"] in values
        elif key == "user":
            ok = (event["user"] or "") in values or any(
                (event["user"] or "").endswith(":" + v) for v in values
            )
        elif key == "message":
            ok = any(v.lower() in event["title"].lower() for v in values)
        elif key in ("has",):
            ok = all(event.get(v) not in (None, "") for v in values)
        else:
            raise HTTPError(400, {"detail": f"Invalid search query: unknown field {key!r}"})
        if ok == negate:
            return False
    return True


# --- issues ------------------------------------------------------------------------------


def issue_json(
    request: Request,
    org: str,
    issue: dict[str, Any],
    events: list[dict[str, Any]],
    start: float | None = None,
    end: float | None = None,
) -> dict[str, Any]:
    """An issue as Sentry serialises it; per-environment fields come from `events`."""
    mine = sorted((e for e in events if e["issue"] == issue["id"]), key=lambda e: e["timestamp"])
    in_range = [
        e
        for e in mine
        if (start is None or e["timestamp"] >= start) and (end is None or e["timestamp"] <= end)
    ]
    project = request.store.project(org, issue["project"]) or {"id": "0", "slug": issue["project"]}
    first = mine[0] if mine else None
    return {
        "id": issue["id"],
        "shortId": issue["shortId"],
        "title": issue["title"],
        "culprit": issue["culprit"],
        "permalink": f"{request.server.url}organizations/{org}/issues/{issue['id']}/",
        "level": issue["level"],
        "status": issue["status"],
        "substatus": issue["substatus"],
        "statusDetails": {},
        "isUnhandled": any(e["unhandled"] for e in mine),
        "count": str(len(in_range)),
        "userCount": len({e["user"] for e in in_range if e["user"]}),
        "firstSeen": _iso(first["timestamp"]) if first else None,
        "lastSeen": _iso(mine[-1]["timestamp"]) if mine else None,
        "firstRelease": {"version": first["release"]} if first and first["release"] else None,
        "project": {"id": str(project["id"]), "slug": project["slug"], "name": project["slug"]},
        "type": "error",
        "issueType": "error",
        "issueCategory": "error",
        "metadata": {"type": issue["type"], "value": issue["value"], "title": issue["title"]},
        "numComments": 0,
        "assignedTo": None,
        "isBookmarked": False,
        "hasSeen": False,
    }


def _iso(epoch: float) -> str:
    return to_iso(datetime.fromtimestamp(epoch, tz=timezone.utc))


def _issue_matches(
    issue: dict[str, Any],
    mine: list[dict[str, Any]],
    terms: Iterable[tuple[bool, str, list[str]]],
) -> bool:
    for negate, key, values in terms:
        if key == "is":
            ok = all(_is(issue, mine, v) for v in values)
        elif key in ("firstRelease", "first-release", "firstrelease"):
            first = min(mine, key=lambda e: e["timestamp"]) if mine else None
            ok = first is not None and (first["release"] or "") in values
        elif key == "release":
            ok = any((e["release"] or "") in values for e in mine)
        elif key == "level":
            ok = issue["level"] in values
        elif key in ("issue.category", "issue.type", "event.type"):
            ok = any(v in ("error", "default") for v in values)
        elif key == "error.unhandled":
            ok = any(e["unhandled"] for e in mine) == (values[0].lower() in ("true", "1"))
        elif key in ("issue", "issue.id", "id"):
            ok = issue["shortId"] in values or issue["id"] in values
        elif key == "message":
            ok = any(v.lower() in issue["title"].lower() for v in values)
        elif key == "environment":
            ok = any((e["environment"] or "") in values for e in mine)
        else:
            raise HTTPError(400, {"detail": f"Invalid search query: unknown field {key!r}"})
        if ok == negate:
            return False
    return True


def _is(issue: dict[str, Any], mine: list[dict[str, Any]], value: str) -> bool:
    if value in ("unresolved", "resolved", "ignored"):
        return bool(issue["status"] == value)
    if value == "archived":
        return bool(issue["status"] == "ignored")
    if value in ("new", "regressed", "ongoing", "escalating"):
        return bool(issue["substatus"] == value)
    if value in ("unassigned", "unlinked"):
        return True
    if value in ("assigned", "linked", "bookmarked", "for_review"):
        return False
    raise HTTPError(400, {"detail": f"Invalid search query: unknown is:{value}"})


SORTS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "date": lambda i: i["lastSeen"] or "",
    "new": lambda i: i["firstSeen"] or "",
    "freq": lambda i: int(i["count"]),
    "user": lambda i: i["userCount"],
}


@route("GET", ORG + "/issues/", ORGANIZATION_EVENT_PERMISSION)
def list_issues(request: Request) -> Response:
    """Issues with events in the range, filtered by the query, scoped per environment."""
    org = request.org()["slug"]
    terms = parse_query(request.arg("query", "is:unresolved") or "")
    start, end = _time_range(request)
    sort = request.arg("sort") or "date"
    if sort not in SORTS:
        raise HTTPError(400, {"detail": f"Invalid sort: {sort!r}"})
    events = _scoped_events(request, org, rules.MULTI_PROJECT_ISSUES)
    with request.store.lock:
        issues = list(_issues(request.store, org).values())
    items = []
    for issue in issues:
        mine = [e for e in events if e["issue"] == issue["id"]]
        if not any(start <= e["timestamp"] <= end for e in mine):
            continue
        if not _issue_matches(issue, mine, terms):
            continue
        items.append(issue_json(request, org, issue, mine, start, end))
    items.sort(key=SORTS[sort], reverse=True)
    limit = request.arg("limit")
    if limit and not request.arg("per_page"):
        request.query["per_page"] = [limit]
    return paginate(request, items)


def _set_status(issue: dict[str, Any], body: Any, now: float) -> None:
    if not isinstance(body, dict):
        raise HTTPError(400, {"detail": "Invalid data. Expected a dictionary"})
    status = body.get("status")
    if status is None:
        return
    if status not in ISSUE_STATUSES:
        raise HTTPError(400, {"status": [f'"{status}" is not a valid choice.']})
    issue["status"], substatus = ISSUE_STATUSES[status]
    issue["substatus"] = body.get("substatus") or substatus
    issue["resolvedAt"] = now if issue["status"] == "resolved" else None


@route("PUT", ORG + "/issues/", ORGANIZATION_EVENT_PERMISSION)
def bulk_update_issues(request: Request) -> Response:
    """Resolve, ignore or reopen the issues named by `?id=`."""
    org = request.org()["slug"]
    ids = request.args("id")
    if not ids:
        raise HTTPError(400, {"detail": "You must specify a list of IDs for this operation"})
    issues = _issues(request.store, org)
    if any(i not in issues for i in ids):
        raise HTTPError(404)
    body = request.json()
    for issue_id in ids:
        _set_status(issues[issue_id], body, request.store.clock())
    first = issues[ids[0]]
    return Response(200, {"status": first["status"], "substatus": first["substatus"]})


def _one_issue(request: Request) -> tuple[str, dict[str, Any]]:
    if "org" in request.params:
        org = request.org()["slug"]
        issue = _issues(request.store, org).get(request.params["issue_id"])
        if issue is None:
            raise HTTPError(404)
        return org, issue
    request.authenticate()
    for org in request.store.data["orgs"]:
        issue = _issues(request.store, org).get(request.params["issue_id"])
        if issue is not None:
            return org, issue
    raise HTTPError(404)


@route("GET", ORG + r"/issues/(?P<issue_id>\d+)/", ORGANIZATION_EVENT_PERMISSION)
@route("GET", r"/api/0/issues/(?P<issue_id>\d+)/", ORGANIZATION_EVENT_PERMISSION)
def get_issue(request: Request) -> Response:
    """One issue (all environments)."""
    org, issue = _one_issue(request)
    with request.store.lock:
        events = [e for e in _events(request.store, org) if e["issue"] == issue["id"]]
    return Response(200, issue_json(request, org, issue, events))


@route("PUT", ORG + r"/issues/(?P<issue_id>\d+)/", ORGANIZATION_EVENT_PERMISSION)
@route("PUT", r"/api/0/issues/(?P<issue_id>\d+)/", ORGANIZATION_EVENT_PERMISSION)
def update_issue(request: Request) -> Response:
    """Resolve, ignore or reopen one issue."""
    org, issue = _one_issue(request)
    _set_status(issue, request.json(), request.store.clock())
    events = [e for e in _events(request.store, org) if e["issue"] == issue["id"]]
    return Response(200, issue_json(request, org, issue, events))


# --- events and sessions -----------------------------------------------------------------

_AGGREGATES: dict[str, Callable[[list[dict[str, Any]]], int]] = {
    "count()": len,
    "count_unique(user)": lambda rows: len({e["user"] for e in rows if e["user"]}),
    "count_unique(issue)": lambda rows: len({e["issue"] for e in rows}),
}
_GROUP_FIELDS = {"release", "environment", "level", "event.type", "issue.id", "project"}


@route("GET", ORG + "/events/", ORGANIZATION_PERMISSION)  # org:read: see events-stats
def query_events(request: Request) -> Response:
    """Discover-style aggregates over stored events (`count()`, `count_unique(user)`)."""
    org = request.org()["slug"]
    refused = rules.dataset_error(
        request.arg("dataset") or "discover", request.options.mode_on(rules.SELF_HOSTED_23_7)
    )
    if refused is not None:
        raise HTTPError(400, refused)
    fields = request.args("field")
    if not fields:
        raise HTTPError(400, {"detail": "No columns selected"})
    for name in fields:
        if name not in _AGGREGATES and name not in _GROUP_FIELDS:
            raise HTTPError(400, {"detail": f"Invalid column: {name}"})
    terms = parse_query(request.arg("query", "") or "")
    start, end = _time_range(request)
    rows = [
        e
        for e in _scoped_events(request, org, rules.MULTI_PROJECT_EVENTS)
        if start <= e["timestamp"] <= end and _event_matches(e, terms)
    ]
    group_by = [f for f in fields if f in _GROUP_FIELDS]
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for event in rows:
        key = tuple(_field(event, f) for f in group_by)
        groups.setdefault(key, []).append(event)
    if not group_by:
        groups = {(): rows}
    data = []
    for key, members in groups.items():
        row: dict[str, Any] = dict(zip(group_by, key, strict=True))
        for name in fields:
            if name in _AGGREGATES:
                row[name] = _AGGREGATES[name](members)
        data.append(row)
    meta = {"fields": {f: "integer" if f in _AGGREGATES else "string" for f in fields}}
    return Response(200, {"data": data, "meta": meta})


def _field(event: dict[str, Any], name: str) -> Any:
    return {"event.type": event["type"], "issue.id": event["issue"]}.get(name, event.get(name))


SESSION_GROUPS = ("release", "environment", "project", "session.status")
SESSION_FIELDS = ("sum(session)", "count_unique(user)")
# fields Sentry knows (`snuba/sessions_v2.py` COLUMN_MAP, `release_health/
# metrics_sessions_v2.py` FIELD_MAP) that the stand-in does not compute: a 400 saying so,
# never Sentry's "Invalid field"
SESSION_FIELDS_NOT_SERVED = (
    *(f"{op}(session.duration)" for op in ("avg", "p50", "p75", "p90", "p95", "p99", "max")),
    *(
        f"{rate}({unit})"
        for rate in ("crash_rate", "crash_free_rate")
        for unit in ("session", "user")
    ),
    "anr_rate()",
    "foreground_anr_rate()",
)


def _session_values(field: str, rows: list[dict[str, Any]], status: str | None) -> int:
    """One field of one status, as `snuba/sessions_v2.py` SessionsField/UsersField
    `extract_from_row` explode Snuba's columns: `sessions`/`users`, `*_errored` (crashed and
    abnormal included), `*_crashed`, `*_abnormal`; healthy = all - errored, errored =
    errored - crashed - abnormal (never below 0). Users are distinct `did`s, each counted in
    every status it had a session of (Snuba's `uniqIf(distinct_id, ...)`)."""

    def measure(members: Iterable[dict[str, Any]]) -> int:
        if field == "sum(session)":
            return sum(int(r["count"]) for r in members)
        return len({r["did"] for r in members if r.get("did")})

    every = measure(rows)
    if status is None:
        return every
    errored = measure(r for r in rows if SESSION_RANK[r.get("status") or "healthy"] > 0)
    crashed = measure(r for r in rows if r.get("status") == "crashed")
    abnormal = measure(r for r in rows if r.get("status") == "abnormal")
    value = {
        "healthy": every - errored,
        "crashed": crashed,
        "abnormal": abnormal,
        "errored": errored - crashed - abnormal,
    }[status]
    return max(value, 0)


@route("GET", ORG + "/sessions/", ORGANIZATION_PERMISSION)
def query_sessions(request: Request) -> Response:
    """`sum(session)` and `count_unique(user)` per interval, grouped by release,
    environment, project and/or the virtual `session.status` tag (healthy, errored, crashed,
    abnormal), as `snuba/sessions_v2.py` answers: `intervals`, and per group `by`, `totals`,
    `series` (a user total counts each user once over the range, not the sum of the series)."""
    org = request.org()["slug"]
    projects = _projects(request, org)  # get_filter_params comes before QueryDefinition
    fields = request.args("field")
    if not fields:
        # QueryDefinition raises InvalidField; the endpoint answers ParseError(str(error))
        raise HTTPError(400, {"detail": 'Request is missing a "field"'})
    for name in fields:
        if name in SESSION_FIELDS_NOT_SERVED:
            raise HTTPError(400, {"detail": f"the stand-in does not serve {name}"})
        if name not in SESSION_FIELDS:
            raise HTTPError(400, {"detail": f'Invalid field: "{name}"'})
    fields = list(dict.fromkeys(fields))
    group_by = request.args("groupBy")
    for name in group_by:
        if name not in SESSION_GROUPS:
            raise HTTPError(400, {"detail": f'Invalid groupBy: "{name}"'})
    start, end = _time_range(request)
    step = _interval(request.arg("interval") or "1h")
    if request.options.mode_on(rules.SELF_HOSTED_23_7):
        smallest, words = rules.SESSIONS_MINIMUM_23_7
        if step % smallest or step < smallest:
            detail = f"The interval has to be a multiple of the minimum interval of {words}."
            raise HTTPError(400, {"detail": detail})
    start = start - start % step  # Sentry rounds the range to whole intervals
    intervals = [start + i * step for i in range(max(1, int(-(-(end - start) // step))))]
    environments = set(request.args("environment"))
    terms = parse_query(request.arg("query", "") or "")
    wanted_releases = {v for neg, key, vals in terms if key == "release" and not neg for v in vals}
    with request.store.lock:
        sessions = [dict(s) for s in _sessions(request.store, org)]
    rows = [
        s
        for s in sessions
        if start <= s["started"] < intervals[-1] + step
        and s["project"] in projects
        and (not environments or (s["environment"] or "") in environments)
        and (not wanted_releases or s["release"] in wanted_releases)
    ]
    # Snuba's rows are keyed by the real tags; `session.status` is exploded from columns
    outer = [g for g in group_by if g != "session.status"]
    keyed: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        values = {"release": row["release"], "environment": row["environment"]}
        values["project"] = _project_id(request, org, row)
        keyed.setdefault(tuple(values[g] for g in outer), []).append(row)
    statuses: tuple[str | None, ...] = (
        tuple(SESSION_RANK) if "session.status" in group_by else (None,)
    )
    groups = []
    for key, members in keyed.items():
        per_interval: list[list[dict[str, Any]]] = [[] for _ in intervals]
        for row in members:
            per_interval[int((row["started"] - start) // step)].append(row)
        for status in statuses:
            by = dict(zip(outer, key, strict=True))
            if status is not None:
                by = {
                    g: status if g == "session.status" else by[g] for g in group_by
                }  # in the order asked
            groups.append(
                {
                    "by": by,
                    "totals": {f: _session_values(f, members, status) for f in fields},
                    "series": {
                        f: [_session_values(f, bucket, status) for bucket in per_interval]
                        for f in fields
                    },
                }
            )
    return Response(
        200,
        {
            "start": _iso(start),
            "end": _iso(intervals[-1] + step),
            "intervals": [_iso(t) for t in intervals],
            "groups": groups,
            "query": request.arg("query", "") or "",
        },
    )


def _project_id(request: Request, org: str, row: dict[str, Any]) -> int:
    project = request.store.project(org, row["project"]) or {"id": 0}
    return int(project["id"])


def _interval(value: str) -> float:
    match = _PERIOD_RE.match(value)
    if not match or int(match.group(1)) <= 0:
        raise HTTPError(400, {"detail": f"Invalid interval: {value!r}"})
    return float(int(match.group(1)) * _PERIOD_UNITS[match.group(2)])
