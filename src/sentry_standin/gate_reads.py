"""Stand-in endpoints the deploy gate reads besides issues, events and sessions: event time
series, ingestion outcomes, an issue's latest event and its suspect commits. Each answers in
the shape Sentry serves (getsentry/sentry `src/sentry/`, cited per endpoint)."""

from __future__ import annotations

from typing import Any

from sentry_standin import rules
from sentry_standin.events import (
    _event_matches,
    _events,
    _interval,
    _iso,
    _issues,
    _projects,
    _scoped_events,
    _time_range,
    parse_query,
)
from sentry_standin.routing import ORG, HTTPError, Request, Response, route

OUTCOMES = ("accepted", "filtered", "rate_limited", "invalid", "abuse", "client_discard")


# OrganizationEventsV2EndpointBase has no permission class of its own: OrganizationPermission
# (org:read), api/bases/organization_events.py
@route("GET", ORG + "/events-stats/", rules.ORGANIZATION_PERMISSION)
def events_stats(request: Request) -> Response:
    """`count()` per interval (`api/endpoints/organization_events_stats.py`): without
    `topEvents` Sentry answers `{"data": [[epoch, [{"count": n}]], ...], "start", "end"}`."""
    org = request.org()["slug"]
    y_axis = request.args("yAxis") or ["count()"]
    if y_axis != ["count()"]:
        raise HTTPError(400, {"detail": f"Invalid yAxis: {y_axis}"})
    dataset = request.arg("dataset") or "discover"
    refused = rules.dataset_error(dataset, request.options.mode_on(rules.SELF_HOSTED_23_7))
    if refused is not None:
        raise HTTPError(400, refused)
    start, end = _time_range(request)
    step = _interval(request.arg("interval") or "1h")
    start = start - start % step
    count = max(1, int(-(-(end - start) // step)))
    terms = parse_query(request.arg("query", "") or "")
    values = [0] * count
    for event in _scoped_events(request, org, rules.MULTI_PROJECT_EVENTS):
        if dataset == "errors" and event["type"] == "transaction":
            continue
        if start <= event["timestamp"] < end and _event_matches(event, terms):
            index = int((event["timestamp"] - start) // step)
            if 0 <= index < count:
                values[index] += 1
    data = [[int(start + i * step), [{"count": v}]] for i, v in enumerate(values)]
    body = {"data": data, "start": int(start), "end": int(start + count * step)}
    body.update(isMetricsData=False, meta={"fields": {"count": "integer"}, "units": {}})
    return Response(200, body)


@route("GET", ORG + "/stats_v2/", rules.ORGANIZATION_PERMISSION)
def stats_v2(request: Request) -> Response:
    """Outcomes of ingested data (`api/endpoints/organization_stats_v2.py`,
    `snuba/outcomes.py`): `field=sum(quantity)`, `groupBy=outcome`, `category=error`. The
    stand-in knows accepted error events and those its quotas rate-limited."""
    org = request.org()["slug"]
    if request.args("field") != ["sum(quantity)"]:
        raise HTTPError(400, {"detail": "field must be sum(quantity)"})
    group_by = request.args("groupBy")
    if any(g not in ("outcome", "project", "category", "reason") for g in group_by):
        raise HTTPError(400, {"detail": f"Invalid groupBy: {group_by}"})
    categories = request.args("category")
    start, end = _time_range(request)
    projects = _projects(request, org)
    counts: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
    if not categories or "error" in categories:
        for event in _events(request.store, org):
            if (projects is None or event["project"] in projects) and start <= event[
                "received"
            ] <= end:
                counts["accepted"] += 1
        for row in (request.store.data.get("outcomes") or {}).get(org, []):
            if (projects is None or row["project"] in projects) and start <= row[
                "timestamp"
            ] <= end:
                counts[row["outcome"]] += 1
    groups = [
        {
            "by": {"outcome": name} if "outcome" in group_by else {},
            "totals": {"sum(quantity)": total},
            "series": {"sum(quantity)": [total]},
        }
        for name, total in counts.items()
        if total or "outcome" not in group_by
    ]
    return Response(
        200,
        {"start": _iso(start), "end": _iso(end), "intervals": [_iso(start)], "groups": groups},
    )


def _latest(request: Request, org: str, issue_id: str) -> dict[str, Any]:
    events = [e for e in _events(request.store, org) if e["issue"] == issue_id]
    if not events:
        raise HTTPError(404)
    return max(events, key=lambda e: e["timestamp"])


@route(
    "GET", ORG + r"/issues/(?P<issue_id>\d+)/events/latest/", rules.ORGANIZATION_EVENT_PERMISSION
)
@route(
    "GET", r"/api/0/issues/(?P<issue_id>\d+)/events/latest/", rules.ORGANIZATION_EVENT_PERMISSION
)
def latest_event(request: Request) -> Response:
    """An issue's latest event (`api/endpoints/group_event_details.py`, id `latest`)."""
    if "org" in request.params:
        org = request.org()["slug"]
    else:
        request.authenticate()
        org = next(
            (
                o
                for o in request.store.data["orgs"]
                if request.params["issue_id"] in _issues(request.store, o)
            ),
            "",
        )
    if request.params["issue_id"] not in _issues(request.store, org):
        raise HTTPError(404)
    event = _latest(request, org, request.params["issue_id"])
    return Response(
        200,
        {
            "id": event["id"],
            "eventID": event["id"],
            "groupID": event["issue"],
            "dateCreated": _iso(event["timestamp"]),
            "release": {"version": event["release"]} if event["release"] else None,
            "title": event["title"],
        },
    )


@route(
    "GET",
    r"/api/0/projects/(?P<org>[^/]+)/(?P<project>[^/]+)/events/(?P<event_id>[0-9a-f]+)/committers/",
    # no permission class of its own: ProjectEndpoint's ProjectPermission (project:read), in
    # 23.7.1 and today (api/endpoints/event_file_committers.py)
    rules.PROJECT_PERMISSION,
)
def event_committers(request: Request) -> Response:
    """Suspect commits of an event (`api/endpoints/event_file_committers.py`): commits of
    the event's release that touched a file of its stack trace; 404 "No committers found"
    when none did, as Sentry answers."""
    org = request.org()["slug"]
    project = request.store.project(org, request.params["project"])
    if project is None:
        raise HTTPError(404)
    event = next(
        (
            e
            for e in _events(request.store, org)
            if e["id"] == request.params["event_id"] and e["project"] == project["slug"]
        ),
        None,
    )
    if event is None:
        raise HTTPError(404, {"detail": "Event not found"})
    release = (request.store.data.get("releases") or {}).get(org, {}).get(event["release"] or "")
    frames = [f.lstrip("./") for f in event.get("frames") or []]
    by_author: dict[str, dict[str, Any]] = {}
    for commit in (release or {}).get("commits") or []:
        paths = [c.get("path", "") for c in commit.get("patch_set") or []]
        if not any(f.endswith(p) or p.endswith(f) for f in frames for p in paths if p and f):
            continue
        email = str(commit.get("author_email") or "")
        entry = by_author.setdefault(
            email,
            {"author": {"email": email, "name": commit.get("author_name")}, "commits": []},
        )
        entry["commits"].append(
            {
                "id": commit.get("id"),
                "message": commit.get("message"),
                "dateCreated": commit.get("timestamp"),
                "suspectCommitType": "via commit in release",
            }
        )
    if not by_author:
        raise HTTPError(404, {"detail": "No committers found"})
    return Response(200, {"committers": list(by_author.values())})
