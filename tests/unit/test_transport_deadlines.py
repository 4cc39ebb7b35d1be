"""One exchange bounded by the clock on the wall: a server that does not answer in time is
abandoned naming the limit, a cancelled run abandons the exchange at once, a real wait between
attempts ends, and the calls that are repeated by default (reads, PUT, DELETE)."""

from __future__ import annotations

import logging
import threading
import time

import pytest
import requests
import responses

from sentry_release.errors import NetworkError
from sentry_release.sentry.transport import RetryPolicy, Transport


def settle(before: set[threading.Thread]) -> None:
    """Wait for the abandoned exchange to end, so its late call lands in this test."""
    for thread in set(threading.enumerate()) - before:
        thread.join(5)


BASE = "https://sentry.example.com/"
API = BASE + "api/0"


@responses.activate
def test_an_answer_slower_than_the_timeout_is_abandoned_naming_it() -> None:
    release = threading.Event()

    def slow(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        release.wait(5)
        return 200, {}, "{}"

    responses.add_callback(responses.GET, f"{API}/x/", callback=slow)
    t = Transport(BASE, "tok", timeout=0.05, retry=RetryPolicy(attempts=1))
    before = set(threading.enumerate())
    try:
        with pytest.raises(NetworkError) as raised:
            t.request("GET", "/x/")
    finally:
        release.set()
        settle(before)
    assert str(raised.value).startswith("GET /x/ timed out: no complete answer within 0.05s")
    assert raised.value.method == "GET" and raised.value.endpoint == "/x/"


@responses.activate
def test_a_cancel_abandons_the_exchange_in_flight() -> None:
    release = threading.Event()
    t = Transport(BASE, "tok", timeout=20.0, retry=RetryPolicy(attempts=1))

    def cancelled(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        t.cancel()
        release.wait(5)
        return 200, {}, "{}"

    responses.add_callback(responses.GET, f"{API}/x/", callback=cancelled)
    before = set(threading.enumerate())
    try:
        with pytest.raises(NetworkError) as raised:
            t.request("GET", "/x/")
    finally:
        release.set()
        settle(before)
    assert str(raised.value).startswith("GET /x/: abandoned, the run was cancelled")
    assert raised.value.method == "GET" and raised.value.endpoint == "/x/"


@responses.activate
def test_a_real_wait_between_attempts_ends() -> None:
    responses.get(f"{API}/x/", status=503, json={})
    responses.get(f"{API}/x/", json={"ok": 1})
    t = Transport(BASE, "tok", retry=RetryPolicy(attempts=2, base=0.01, cap=0.01))
    assert t.sleep is time.sleep
    assert t.request("GET", "/x/").json() == {"ok": 1}


@pytest.mark.parametrize("method", ["PUT", "DELETE", "GET"])
@responses.activate
def test_reads_puts_and_deletes_are_repeated_after_a_503(method: str) -> None:
    responses.add(method, f"{API}/x/", status=503, json={})
    responses.add(method, f"{API}/x/", status=204)
    t = Transport(BASE, "tok", sleep=lambda s: None, retry=RetryPolicy(attempts=3))
    assert t.request(method, "/x/").status == 204
    assert len(responses.calls) == 2


@responses.activate
def test_a_post_is_not_repeated_after_a_503_by_default() -> None:
    responses.post(f"{API}/x/", status=503, json={})
    t = Transport(BASE, "tok", sleep=lambda s: None, retry=RetryPolicy(attempts=3))
    with pytest.raises(Exception, match="HTTP 503"):
        t.request("POST", "/x/")
    assert len(responses.calls) == 1


@responses.activate
def test_form_data_and_files_are_sent() -> None:
    responses.post(f"{API}/form/", json={})
    responses.post(f"{API}/files/", json={})
    t = Transport(BASE, "tok")
    t.request("POST", "/form/", data={"name": "app.js"})
    t.request("POST", "/files/", files={"file": ("app.js", b"console.log(1)")})
    assert responses.calls[0].request.body == "name=app.js"
    assert b"console.log(1)" in responses.calls[1].request.body


def test_a_dry_run_answer_names_the_endpoint() -> None:
    t = Transport(BASE, "tok", dry_run=True)
    assert t.request("POST", "/organizations/acme/releases/?a=1").endpoint == (
        "/organizations/acme/releases/"
    )


def test_an_endpoint_ends_at_the_first_question_mark() -> None:
    assert Transport(BASE, "tok").endpoint(f"{API}/x/?a=1?b=2") == "/x/"


@responses.activate
def test_each_exchange_is_logged_at_debug_without_secrets(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="sentry_release.http")
    responses.get(f"{API}/x/", status=201, json={})
    Transport(BASE, "tok").request("GET", "/x/?token=abc")
    assert caplog.messages == [f"GET {API}/x/?token=[redacted] -> 201"]  # the secret masked


def test_a_deadline_error_names_the_call() -> None:
    t = Transport(BASE, "tok")
    with t.step("Upload", seconds=-1.0), pytest.raises(NetworkError) as raised:
        t.request("GET", "/x/")
    assert raised.value.method == "GET" and raised.value.endpoint == "/x/"
    t.cancel()
    with pytest.raises(NetworkError) as raised:
        t.request("GET", "/x/")
    assert raised.value.method == "GET" and raised.value.endpoint == "/x/"
