"""The client methods the gate relies on, with `responses`: the exact query parameters real
Sentry needs (project ids, quoted release queries, minute intervals) and the rate-limit
headers the poller reads."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

import responses

from sentry_release.sentry.api import SentryApi

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
    client = SentryApi(BASE, "tok")
    assert [p.slug for p in client.list_projects("acme")] == ["web", "api"]
    assert len(responses.calls) == 2
