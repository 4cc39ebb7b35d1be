"""The gate's Sentry reads with `responses`: numeric project ids from the release details,
one project per query (merged), scopes named on 401/403, Sentry's clock, answers parsed."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from sentry_release.errors import ConfigError
from sentry_release.gate.reads import Reads, interval
from sentry_release.sentry.api import SentryApi

BASE = "https://sentry.example.com/"
API = BASE + "api/0/organizations/acme"
START = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)
END = datetime(2026, 5, 1, 12, 3, tzinfo=timezone.utc)
RELEASE = {"version": "1.1", "projects": [{"id": 11, "slug": "web"}, {"id": 12, "slug": "api"}]}


def query(call: responses.Call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url or "").query)


def reads(clock: float = 0.0) -> Reads:
    responses.get(f"{API}/releases/1.1/", json=RELEASE)
    found = Reads(SentryApi(BASE, "tok"), "acme", "production", clock=lambda: clock)
    found.bind_projects("1.1", ())
    return found


@responses.activate
def test_every_query_names_one_numeric_project_and_results_merge() -> None:
    gate = reads()
    assert [p.id for p in gate.projects] == [11, 12]
    issue = {"id": "7", "shortId": "WEB-7", "count": "4", "userCount": 2, "project": {"id": "11"}}
    responses.get(f"{API}/issues/", json=[issue])
    responses.get(f"{API}/issues/", json=[{**issue, "id": "8", "shortId": "API-1"}])
    found = gate.issues('firstRelease:"1.1"', START, END, "new")
    assert [i.short_id for i in found] == ["WEB-7", "API-1"]
    assert [query(c)["project"] for c in responses.calls[1:]] == [["11"], ["12"]]
    assert all(query(c)["environment"] == ["production"] for c in responses.calls[1:])


@responses.activate
def test_configured_projects_are_mapped_to_ids_and_unknown_ones_refused() -> None:
    responses.get(f"{API}/releases/1.1/", json=RELEASE)
    gate = Reads(SentryApi(BASE, "tok"), "acme", "production")
    assert [p.id for p in gate.bind_projects("1.1", ("api",))] == [12]
    with pytest.raises(ConfigError, match="'shop' is not a project of release"):
        gate.bind_projects("1.1", ("shop",))


@responses.activate
@pytest.mark.parametrize(("status", "scope"), [(401, "event:read"), (403, "event:read")])
def test_401_and_403_are_config_errors_naming_the_scope(status: int, scope: str) -> None:
    gate = reads()
    responses.get(f"{API}/issues/", status=status, json={"detail": "no"})
    with pytest.raises(ConfigError, match=f"needs the {scope} scope"):
        gate.issues("is:unresolved", START, END, "new")


@responses.activate
def test_sessions_by_status_per_minute_and_sentrys_clock() -> None:
    gate = reads(clock=datetime(2026, 5, 1, 12, 31, tzinfo=timezone.utc).timestamp())
    body = {
        "intervals": ["2026-05-01T12:00:00Z", "2026-05-01T12:01:00Z", "2026-05-01T12:02:00Z"],
        "groups": [
            {"by": {"session.status": "healthy"}, "series": {"sum(session)": [90, 95, 0]}},
            {"by": {"session.status": "errored"}, "series": {"sum(session)": [5, 3, 0]}},
            {"by": {"session.status": "crashed"}, "series": {"sum(session)": [1, 0, 0]}},
        ],
    }
    for _ in gate.projects:
        responses.get(
            f"{API}/sessions/", json=body, headers={"Date": "Fri, 01 May 2026 12:30:00 GMT"}
        )
    result = gate.session_series("1.1", START, END, 60.0)
    assert result is not None
    errored, total = result
    assert errored.values == (12.0, 6.0, 0.0)  # both projects, errored + crashed
    assert total.values == (192.0, 196.0, 0.0)
    params = query(responses.calls[1])
    assert params["groupBy"] == ["session.status"] and params["interval"] == ["1m"]
    assert params["query"] == ['release:"1.1"']
    # Sentry's clock is a minute behind ours: a moment has passed when both clocks say so
    assert gate.now() == datetime(2026, 5, 1, 12, 30, tzinfo=timezone.utc)


def test_interval_syntax() -> None:
    assert (interval(60.0), interval(1.0), interval(3600.0)) == ("1m", "1s", "60m")


@responses.activate
def test_without_sessions_transactions_are_the_unit_and_a_sessions_error_is_kept() -> None:
    gate = reads()
    gate.projects = gate.projects[:1]
    responses.get(f"{API}/sessions/", status=400, json={"detail": "Invalid query"})
    stats = {"data": [[1777636800, [{"count": 2}]], [1777636860, [{"count": 0}]]]}
    responses.get(f"{API}/events-stats/", json=stats)  # errors
    busy = {"data": [[1777636800, [{"count": 500}]], [1777636860, [{"count": 480}]]]}
    responses.get(f"{API}/events-stats/", json=busy)  # transactions
    traffic = gate.traffic("1.1", START, END, 60.0)
    assert traffic.unit == "transactions"
    assert traffic.errored.values[:2] == (2.0, 0.0)
    assert traffic.exposure is not None and traffic.exposure.values[:2] == (500.0, 480.0)
    assert traffic.note is not None and "Invalid query" in traffic.note
    datasets = [query(c).get("dataset") for c in responses.calls[2:]]
    assert datasets == [["errors"], ["transactions"]]


@responses.activate
def test_outcomes_count_what_sentry_dropped() -> None:
    gate = reads()
    groups = [
        {"by": {"outcome": "accepted"}, "totals": {"sum(quantity)": 90}},
        {"by": {"outcome": "rate_limited"}, "totals": {"sum(quantity)": 7}},
        {"by": {"outcome": "client_discard"}, "totals": {"sum(quantity)": 1}},
    ]
    for _ in gate.projects:
        responses.get(f"{API}/stats_v2/", json={"groups": groups})
    outcomes = gate.outcomes(START, END)
    assert (outcomes.accepted, outcomes.rate_limited, outcomes.dropped) == (180, 14, 16)
    assert query(responses.calls[1])["category"] == ["error"]
