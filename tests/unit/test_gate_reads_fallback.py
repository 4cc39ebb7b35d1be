"""The gate's reads on self-hosted 23.x (issue #21): a 400 naming the dataset switches the
run's events reads to `dataset=discover`, a 400 asking for whole minutes switches its sessions
reads to minute intervals; each is learnt once and kept; other 400s stay errors. Scope hints
name the scope each endpoint's permission class checks."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from sentry_release.errors import ConfigError, SentryAPIError
from sentry_release.sentry.api import SentryApi
from sentry_release.sentry.gate_reads import Reads, minute_interval

BASE = "https://sentry.example.com/"
API = BASE + "api/0/organizations/acme"
START = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)
END = datetime(2026, 5, 1, 12, 3, tzinfo=timezone.utc)
RELEASE = {"version": "1.1", "projects": [{"id": 11, "slug": "web"}]}
# Sentry 23.7.1, api/bases/organization_events.py (DATASET_OPTIONS)
NO_ERRORS_DATASET = {
    "detail": "dataset must be one of: discover, metricsEnhanced, metrics, profiles, "
    "issuePlatform, profileFunctions, spansIndexed, spansMetrics"
}
# Sentry 23.7.1, snuba/sessions_v2.py get_constrained_date_range
WHOLE_MINUTES = {
    "detail": "The interval has to be a multiple of the minimum interval of one minute."
}


def query(call: responses.Call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url or "").query)


def reads() -> Reads:
    responses.get(f"{API}/releases/1.1/", json=RELEASE)
    found = Reads(SentryApi(BASE, "tok"), "acme", "production", clock=lambda: 0.0)
    found.bind_projects("1.1", ())
    return found


@responses.activate
def test_a_400_naming_the_dataset_switches_the_run_to_discover_once() -> None:
    gate = reads()
    stamp = int(START.timestamp())
    responses.get(f"{API}/events-stats/", status=400, json=NO_ERRORS_DATASET)
    responses.get(f"{API}/events-stats/", json={"data": [[stamp, [{"count": 2}]]]})
    responses.get(f"{API}/events-stats/", json={"data": [[stamp, [{"count": 1}]]]})
    errors = gate.error_series("1.1", START, END, 60)
    transactions = gate.error_series("1.1", START, END, 60, dataset="transactions")
    asked = [query(c) for c in responses.calls[1:]]
    assert [q["dataset"] for q in asked] == [["errors"], ["discover"], ["discover"]]
    assert asked[1]["query"] == ['event.type:error release:"1.1"']
    assert asked[2]["query"] == ['event.type:transaction release:"1.1"']
    assert errors.total() == 2 and transactions.total() == 1
    assert gate.fallbacks.legacy_dataset


@responses.activate
def test_the_serving_read_falls_back_too() -> None:
    gate = reads()
    responses.get(f"{API}/sessions/", json={"intervals": [], "groups": []})
    responses.get(f"{API}/events/", status=400, json=NO_ERRORS_DATASET)
    responses.get(f"{API}/events/", json={"data": [{"release": "1.0", "count()": 5}]})
    assert gate.serving(START, END, 60) == [("1.0", 5.0)]
    assert query(responses.calls[-1])["dataset"] == ["discover"]


@responses.activate
@pytest.mark.parametrize(
    "body",
    [{"detail": "Invalid query. Project(s) 12 do not exist"}, {"detail": "Internal Error"}],
)
def test_other_400s_are_not_taken_for_an_older_sentry(body: dict[str, str]) -> None:
    gate = reads()
    responses.get(f"{API}/events-stats/", status=400, json=body)
    with pytest.raises(SentryAPIError):
        gate.error_series("1.1", START, END, 60)
    assert len(responses.calls) == 2 and not gate.fallbacks.legacy_dataset


@responses.activate
def test_discover_refused_too_is_an_error_not_a_loop() -> None:
    gate = reads()
    responses.get(f"{API}/events-stats/", status=400, json=NO_ERRORS_DATASET)
    with pytest.raises(SentryAPIError, match="dataset must be one of"):
        gate.error_series("1.1", START, END, 60)
    assert len(responses.calls) == 3  # release, errors, discover


@responses.activate
def test_sessions_switch_to_whole_minutes_after_sentry_asks_for_them() -> None:
    gate = reads()
    responses.get(f"{API}/sessions/", status=400, json=WHOLE_MINUTES)
    responses.get(f"{API}/sessions/", json={"intervals": [], "groups": []})
    responses.get(f"{API}/sessions/", json={"intervals": [], "groups": []})
    responses.get(f"{API}/events/", json={"data": []})
    assert gate.session_series("1.1", START, END, 30) is None
    assert gate.serving(START, END, 30) == []
    asked = [query(c)["interval"] for c in responses.calls[1:4]]
    assert asked == [["30s"], ["1m"], ["1m"]]
    assert gate.fallbacks.minute_intervals


@responses.activate
def test_whole_minute_buckets_ask_no_fallback() -> None:
    gate = reads()
    responses.get(f"{API}/sessions/", status=400, json=WHOLE_MINUTES)
    with pytest.raises(SentryAPIError):
        gate.session_series("1.1", START, END, 120)
    assert len(responses.calls) == 2


def test_minute_interval_rounds_up() -> None:
    assert [minute_interval(s) for s in (10, 30, 60, 61, 90, 3600)] == [
        "1m",
        "1m",
        "1m",
        "2m",
        "2m",
        "60m",
    ]


@responses.activate
@pytest.mark.parametrize(
    ("path", "call", "scope"),
    [
        ("events-stats/", lambda g: g.error_series("1.1", START, END, 60), "org:read"),
        ("issues/", lambda g: g.issues("is:unresolved", START, END, "new"), "event:read"),
        ("stats_v2/", lambda g: g.outcomes(START, END), "org:read"),
    ],
)
def test_a_403_names_the_scope_the_endpoint_checks(path: str, call: object, scope: str) -> None:
    """events and events-stats: OrganizationPermission (org:read), api/bases/organization_events.py;
    issues: OrganizationEventPermission (event:read), api/endpoints/organization_group_index.py."""
    gate = reads()
    responses.get(f"{API}/{path}", status=403, json={"detail": "no"})
    with pytest.raises(ConfigError, match=f"needs the {scope} scope"):
        call(gate)  # type: ignore[operator]
