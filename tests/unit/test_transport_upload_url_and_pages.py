"""Where chunks are sent (`resolve_upload_url`: the token stays on Sentry's origin) and how a
list is read across pages (`paginate`: our own URL, the caller's query kept, the cursor added)."""

from __future__ import annotations

import logging

import pytest
import responses
from responses import matchers

from sentry_release.errors import NotFoundError, SentryAPIError
from sentry_release.sentry.models import ShapeError
from sentry_release.sentry.transport import Transport

BASE = "https://sentry.example.com/"
API = BASE + "api/0"


def transport(base: str = BASE, **kwargs: object) -> Transport:
    return Transport(base, "sntryu_pages_token", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "resolved"),
    [
        # trusted origins: as given, query and all
        (f"{API}/organizations/acme/chunk-upload/", f"{API}/organizations/acme/chunk-upload/"),
        (
            "https://us.sentry.example.com/api/0/organizations/acme/chunk-upload/?x=1",
            "https://us.sentry.example.com/api/0/organizations/acme/chunk-upload/?x=1",
        ),
        # relative: under our root, the query kept
        ("/api/0/organizations/acme/chunk-upload/", f"{API}/organizations/acme/chunk-upload/"),
        (
            "/api/0/organizations/acme/chunk-upload/?v=2",
            f"{API}/organizations/acme/chunk-upload/?v=2",
        ),
        ("/chunks/here/", "https://sentry.example.com/chunks/here/"),
        ("/chunks/here/?a=b", "https://sentry.example.com/chunks/here/?a=b"),
        # another origin with an API path: the same path on our Sentry
        (
            "https://uploads.example.org/api/0/organizations/acme/chunk-upload/?v=2",
            f"{API}/organizations/acme/chunk-upload/?v=2",
        ),
        (
            "https://uploads.example.org/prefix/api/0/a/api/0/b/",
            f"{API}/a/api/0/b/",
        ),
    ],
)
def test_the_chunk_upload_url_stays_on_sentrys_origin(given: str, resolved: str) -> None:
    assert transport().resolve_upload_url(given) == resolved


def test_a_relative_chunk_url_under_a_prefixed_sentry_keeps_the_prefix() -> None:
    t = transport("https://example.com/sentry/")
    assert (
        t.resolve_upload_url("/api/0/organizations/acme/chunk-upload/")
        == "https://example.com/sentry/api/0/organizations/acme/chunk-upload/"
    )


def test_a_foreign_chunk_url_that_is_no_api_path_is_refused_naming_it() -> None:
    with pytest.raises(SentryAPIError) as raised:
        transport().resolve_upload_url("https://uploads.example.org/chunks/")
    assert str(raised.value) == (
        "Sentry's chunk-upload URL https://uploads.example.org/chunks/ is on another host and "
        "is not an API path: refusing to send the auth token there; set SENTRY_URL to that host"
    )


def test_a_moved_chunk_url_is_logged_and_a_relative_one_is_not(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="sentry_release.http")
    t = transport()
    t.resolve_upload_url("/api/0/organizations/acme/chunk-upload/")
    assert caplog.messages == []
    t.resolve_upload_url("https://uploads.example.org/api/0/organizations/acme/chunk-upload/")
    assert caplog.messages == [
        "chunk-upload URL https://uploads.example.org/api/0/organizations/acme/chunk-upload/ "
        f"is not on {BASE}: using {API}/organizations/acme/chunk-upload/"
    ]


def page_link(cursor: str, more: bool = True) -> str:
    flag = "true" if more else "false"
    return f'<{API}/x/?cursor={cursor}>; rel="next"; results="{flag}"; cursor="{cursor}"'


@responses.activate
def test_pages_keep_the_callers_query_and_add_the_cursor() -> None:
    url = f"{API}/organizations/acme/releases/"
    responses.get(
        url,
        json=[1, 2],
        headers={"Link": page_link("0:100:0")},
        match=[matchers.query_param_matcher({"query": "1.0", "per_page": "100"})],
    )
    responses.get(
        url,
        json=[3],
        headers={"Link": page_link("0:200:0", more=False)},
        match=[
            matchers.query_param_matcher({"query": "1.0", "per_page": "100", "cursor": "0:100:0"})
        ],
    )
    items = list(
        transport().paginate("/organizations/acme/releases/", {"query": "1.0", "per_page": 100})
    )
    assert items == [1, 2, 3] and len(responses.calls) == 2


@responses.activate
def test_pages_accept_a_query_as_pairs() -> None:
    url = f"{API}/x/"
    responses.get(
        url,
        json=[1],
        match=[matchers.query_string_matcher("project=1&project=2")],
    )
    assert list(transport().paginate("/x/", [("project", 1), ("project", 2)])) == [1]


@responses.activate
def test_a_page_that_is_not_a_list_names_the_endpoint() -> None:
    responses.get(f"{API}/x/", json={"detail": "?"})
    with pytest.raises(ShapeError) as raised:
        list(transport().paginate("/x/"))
    assert str(raised.value) == "GET /x/: expected a JSON list, got dict"
    assert raised.value.method == "GET" and raised.value.endpoint == "/x/"


@responses.activate
def test_an_empty_cursor_ends_the_list() -> None:
    responses.get(f"{API}/x/", json=[1], headers={"Link": page_link("")})
    assert list(transport().paginate("/x/")) == [1]
    assert len(responses.calls) == 1


def test_a_dry_run_without_a_token_reads_no_page() -> None:
    lines: list[str] = []
    t = Transport(BASE, None, dry_run=True, echo=lines.append)
    assert list(t.paginate("/x/")) == []
    assert lines == [f"[dry-run] not checked (no auth token): GET {API}/x/"]


@responses.activate
def test_the_page_limit_bounds_an_endless_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sentry_release.sentry.transport.MAX_PAGES", 3)
    for n in range(1, 6):
        responses.get(f"{API}/x/", json=[n], headers={"Link": page_link(f"0:{n}:0")})
    assert list(transport().paginate("/x/")) == [1, 2, 3]
    assert len(responses.calls) == 3


@responses.activate
def test_pages_pass_the_callers_words_for_a_missing_list() -> None:
    responses.get(f"{API}/organizations/acme/repos/", status=404, json={"detail": "Not found"})
    with pytest.raises(NotFoundError) as raised:
        list(transport().paginate("/organizations/acme/repos/", not_found="no organization acme"))
    assert str(raised.value) == "no organization acme (Not found)"
