"""The client methods the gate relies on, with `responses`: the exact query parameters real
Sentry needs (project ids, quoted release queries, minute intervals) and the rate-limit
headers the poller reads."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

import responses

from sentry_release.sentry.client import SentryClient

BASE = "https://sentry.example.com/"
API = BASE + "api/0"
START = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)
END = datetime(2026, 5, 1, 12, 10, tzinfo=timezone.utc)


def query(call: responses.Call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url or "").query)


@responses.activate
def test_list_projects_follows_pages() -> None:
    first = f"{API}/organizations/acme/projects/"
    responses.get(
        first,
        json=[{"id": "1", "slug": "web"}],
        headers={
            "Link": (f'<{first}?cursor=0:100:0>; rel="next"; results="true"; cursor="0:100:0"')
        },
    )
    responses.get(first, json=[{"id": "2", "slug": "api"}])
    client = SentryClient(BASE, "tok")
    assert [p.slug for p in client.list_projects("acme")] == ["web", "api"]
    assert len(responses.calls) == 2


@responses.activate
def test_issue_event_and_session_queries_carry_what_sentry_needs() -> None:
    responses.get(f"{API}/organizations/acme/issues/", json=[])
    responses.get(f"{API}/organizations/acme/events/", json={"data": [{"count()": 7}]})
    responses.get(
        f"{API}/organizations/acme/sessions/",
        json={"groups": []},
        headers={"X-Sentry-Rate-Limit-Remaining": "39", "X-Sentry-Rate-Limit-Reset": "1770000000"},
    )
    client = SentryClient(BASE, "tok")
    list(
        client.list_issues(
            "acme",
            query='firstRelease:"a b" is:unresolved',
            environment="production",
            projects=["11"],
            start=START,
            end=END,
        )
    )
    rows = client.query_events(
        "acme",
        fields=["count()"],
        query='event.type:error release:"a"',
        start=START,
        end=END,
        environment="production",
        projects=["11"],
    )
    client.query_sessions(
        "acme",
        query='release:"a"',
        start=START,
        end=END,
        interval="1m",
        environment="production",
        projects=["11"],
    )
    assert rows == [{"count()": 7}]
    issues, events, sessions = (query(c) for c in responses.calls)
    assert issues["query"] == ['firstRelease:"a b" is:unresolved']
    assert issues["project"] == ["11"] and issues["environment"] == ["production"]
    assert issues["start"] == ["2026-05-01T12:00:00Z"] and "statsPeriod" not in issues
    assert events["field"] == ["count()"] and events["dataset"] == ["errors"]
    assert sessions["interval"] == ["1m"] and sessions["field"] == ["sum(session)"]
    assert client.rate_limit == {
        "x-sentry-rate-limit-remaining": "39",
        "x-sentry-rate-limit-reset": "1770000000",
    }
