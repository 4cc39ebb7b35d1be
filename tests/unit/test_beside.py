"""A step run beside others: held output, a forked client, the result or error handed back."""

from __future__ import annotations

import io
import threading

import pytest

from sentry_release.output import Output
from sentry_release.sentry.api import SentryApi
from sentry_release.steps.pipeline import Beside

URL = "https://sentry.example.com/"


def test_held_lines_wait_for_release_and_keep_their_order_across_streams() -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    out = Output(stdout=stdout, stderr=stderr)
    twin, release = out.held()
    twin.info("one")
    twin.result("two")
    twin.warn("three")
    assert stdout.getvalue() == stderr.getvalue() == ""
    out.info("main")  # the main output is not held
    release()
    assert stderr.getvalue() == "main\none\nwarning: three\n"
    assert stdout.getvalue() == "two\n"
    assert out.warnings == ["three"]  # one warnings list for the run's summary


def test_a_fork_has_its_own_step_deadline_and_shares_the_connections() -> None:
    api = SentryApi(URL, "tok", step_timeout=60)
    lines: list[str] = []
    twin = api.fork(echo=lines.append)
    assert twin.transport.session is api.transport.session and twin.stats is api.stats
    with api.step("upload", 5):
        remaining = api.transport._remaining()
        assert remaining is not None and remaining <= 5
        with twin.step("commits", 50):
            twin_remaining = twin.transport._remaining()
            assert twin_remaining is not None and 5 < twin_remaining <= 50
        again = api.transport._remaining()
        assert again is not None and again <= 5  # the twin's step did not end ours
    twin.echo("x")
    assert lines == ["x"]


def test_beside_returns_the_work_and_prints_its_lines_then() -> None:
    stderr = io.StringIO()
    out = Output(stdout=io.StringIO(), stderr=stderr)
    started = threading.Event()

    def work(api: SentryApi, output: Output) -> int:
        assert threading.current_thread() is not threading.main_thread()
        output.info("from the thread")
        started.set()
        return 42

    beside = Beside("Associate commits", work, SentryApi(URL, "tok"), out)
    started.wait(5)
    out.info("main step")
    assert beside.result() == 42
    assert stderr.getvalue() == "main step\nfrom the thread\n"


def test_beside_raises_the_works_error_in_the_caller_after_its_lines() -> None:
    stderr = io.StringIO()
    out = Output(stdout=io.StringIO(), stderr=stderr)

    def work(api: SentryApi, output: Output) -> int:
        output.info("tried")
        raise ValueError("git failed")

    beside = Beside("Associate commits", work, SentryApi(URL, "tok"), out)
    with pytest.raises(ValueError, match="git failed"):
        beside.result()
    assert stderr.getvalue() == "tried\n"


def test_finish_prints_the_held_lines_once_even_when_the_result_is_never_asked() -> None:
    stderr = io.StringIO()
    out = Output(stdout=io.StringIO(), stderr=stderr)

    def work(api: SentryApi, output: Output) -> int:
        output.info("fetching 50 more commits")
        return 1

    beside = Beside("Associate commits", work, SentryApi(URL, "tok"), out)
    beside.finish()  # the main steps failed: no result is asked, the lines still print
    assert stderr.getvalue() == "fetching 50 more commits\n"
    assert beside.result() == 1
    assert stderr.getvalue() == "fetching 50 more commits\n"  # not a second time
