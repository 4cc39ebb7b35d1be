"""The stand-in's gate endpoints behave like Sentry's: DSN auth on ingestion, grouping,
per-environment issue fields, the query syntax, pagination, events aggregates."""

from __future__ import annotations

import json
import time
from typing import Any

import requests

from sentry_standin import DevServer
from tests.e2e.test_gate import ENV, api, error_event, send_envelopes
from tests.helpers import ORG, TOKEN


def store_url(server: DevServer) -> tuple[str, str]:
    dsn = server.dsn(ORG, "web")
    key = dsn.split("//", 1)[1].split("@", 1)[0]
    return f"{server.url}api/{dsn.rsplit('/', 1)[1]}/store/", key


def web_id(server: DevServer) -> str:
    """Project `web`'s numeric id: org-level reads name one project (no global-views)."""
    project = server.store.project(ORG, "web")
    assert project is not None
    return str(project["id"])


def issues(server: DevServer, **params: Any) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = api(
        server, "GET", f"/organizations/{ORG}/issues/", params={"project": web_id(server), **params}
    ).json()
    return result


def test_ingestion_needs_the_project_key(server: DevServer) -> None:
    url, key = store_url(server)
    event = json.dumps(error_event("1.0", time.time()))
    assert requests.post(url, data=event, timeout=5).status_code == 401
    wrong = requests.post(url, params={"sentry_key": "0" * 32}, data=event, timeout=5)
    assert (wrong.status_code, wrong.json()["detail"]) == (401, "invalid api key")
    done = requests.post(url, params={"sentry_key": key}, data=event, timeout=5)
    assert done.status_code == 200 and len(done.json()["id"]) == 32
    assert [i["count"] for i in issues(server)] == ["1"]


def test_grouping_environments_and_queries(server: DevServer) -> None:
    now = time.time()
    events = [
        error_event("1.0", now - 100, "KeyError", "a", user="u1"),
        error_event("1.0", now - 90, "KeyError", "a", user="u2"),
        {**error_event("1.1", now - 80, "KeyError", "b", user="u3"), "fingerprint": ["keys"]},
        {**error_event("1.1", now - 70, "KeyError", "c", user="u3"), "fingerprint": ["keys"]},
        {**error_event("1.1", now - 60, "IOError", "disk"), "environment": "staging"},
        {**error_event("1.1", now - 50, "IOError", "disk"), "level": "warning"},
    ]
    send_envelopes(server, events)
    prod = issues(server, environment=ENV, query="")
    assert sorted((i["title"], i["count"], i["userCount"]) for i in prod) == [
        ("IOError: disk", "1", 1),
        ("KeyError: a", "2", 2),
        ("KeyError: b", "2", 1),
    ]
    new = issues(server, environment=ENV, query='firstRelease:"1.1" level:[error,fatal]')
    assert [i["title"] for i in new] == ["KeyError: b"]  # the warning is filtered by level
    staging = issues(server, environment="staging", query="firstRelease:1.1")
    # grouping ignores the environment; the level is the latest event's, as in Sentry
    assert [(i["title"], i["count"], i["level"]) for i in staging] == [
        ("IOError: disk", "1", "warning")
    ]
    page = api(
        server,
        "GET",
        f"/organizations/{ORG}/issues/",
        params={"query": "", "limit": 1, "sort": "freq", "project": web_id(server)},
    )
    assert len(page.json()) == 1 and 'rel="next"; results="true"' in page.headers["Link"]
    bad = requests.get(
        f"{server.url}api/0/organizations/{ORG}/issues/",
        params={"query": "color:red", "project": web_id(server)},
        timeout=5,
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert bad.status_code == 400 and "color" in bad.json()["detail"]
    counts = api(
        server,
        "GET",
        f"/organizations/{ORG}/events/",
        params=[
            ("field", "count()"),
            ("field", "count_unique(user)"),
            ("query", 'event.type:error release:"1.1"'),
            ("environment", ENV),
            ("statsPeriod", "1h"),
            ("project", web_id(server)),
        ],
    ).json()
    assert counts["data"] == [{"count()": 3, "count_unique(user)": 2}]


def test_resolved_issue_regresses_on_a_new_event(server: DevServer) -> None:
    send_envelopes(server, [error_event("1.0", time.time())])
    [issue] = issues(server)
    resolved = api(
        server, "PUT", f"/organizations/{ORG}/issues/{issue['id']}/", json={"status": "resolved"}
    ).json()
    assert resolved["status"] == "resolved"
    assert issues(server) == []
    send_envelopes(server, [error_event("1.0", time.time())])
    [again] = issues(server)
    assert (again["id"], again["status"], again["substatus"]) == (
        issue["id"],
        "unresolved",
        "regressed",
    )
