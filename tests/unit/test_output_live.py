"""Output that changes when something changes: the gate's waiting line redrawn in place on a
terminal, printed on change (else once a minute) in CI logs; log groups opened by their first
line, never empty, held lines inside their own group."""

from __future__ import annotations

import io

from sentry_release.gate.render import gate_status
from sentry_release.output import STATUS_EVERY, Output
from tests.helpers import FakeTime


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def waiting(left: int, issues: int = 0) -> str:
    """A line as the watch loop narrates it while it waits."""
    return f"Deploy gate: {issues} issue(s), 0 above the floors; not enough data yet; {left}s left"


def test_gate_status_is_the_waiting_line_without_its_countdown() -> None:
    assert gate_status(waiting(41)) == gate_status(waiting(3)) is not None
    assert gate_status(waiting(41, issues=1)) != gate_status(waiting(41))
    assert gate_status("Deploy gate: watching 1.0 in production from ...") is None
    assert gate_status("Deploy gate: PASS") is None


def test_on_a_terminal_the_status_is_one_line_redrawn_in_place() -> None:
    err, stdout = Terminal(), io.StringIO()
    out = Output(stdout=stdout, stderr=err, is_tty=True)
    with out.live(gate_status) as live:
        live.info("Deploy gate: watching 1.0")
        for left in (40, 39, 38):
            live.info(waiting(left))
        live.result("Deploy gate: PASS")
    text = err.getvalue()
    assert text.count("\n") == 1  # only the ordinary line ends with a newline
    assert text.count("\r\x1b[K") == 3 + 1  # three redraws, then cleared before the result
    assert "| Deploy gate: 0 issue(s)" in text and "/ Deploy gate" in text
    assert text.endswith("\r\x1b[K")  # nothing left on the line when the report follows
    assert stdout.getvalue() == "Deploy gate: PASS\n"


def test_in_ci_a_status_line_when_it_changes_else_once_a_minute() -> None:
    err = io.StringIO()
    fake = FakeTime(0.0)
    out = Output(stdout=io.StringIO(), stderr=err, is_tty=False)
    with out.live(gate_status, clock=fake.clock) as live:
        for _ in range(10):  # two a second for five seconds: the same state
            live.info(waiting(100 - int(fake.now)))
            fake.now += 0.5
        fake.now = STATUS_EVERY + 1
        live.info(waiting(40))  # a minute later: said again
        live.info(waiting(39, issues=1))  # a new issue: said at once
    assert err.getvalue().splitlines() == [waiting(100), waiting(40), waiting(39, issues=1)]


def test_a_group_opens_at_its_first_line_and_an_empty_one_is_never_written() -> None:
    stdout = io.StringIO()
    out = Output(stdout=stdout, stderr=stdout, github=True)
    with out.group("Finalize release"):
        pass
    with out.group("Record deploy"):
        out.result("Recorded deploy 7")
        out.warn("slow")
    assert stdout.getvalue().splitlines() == [
        "::group::Record deploy",
        "Recorded deploy 7",
        "::warning::slow",
        "::endgroup::",
    ]


def test_held_lines_are_printed_inside_the_group_they_are_released_in() -> None:
    stdout = io.StringIO()
    out = Output(stdout=stdout, stderr=stdout, github=True)
    held, release = out.held()
    held.result("repository  commits")
    with out.group("Upload source maps"):
        out.result("Uploaded 2 file(s)")
    with out.group("Associate commits"):
        release()
    assert stdout.getvalue().splitlines() == [
        "::group::Upload source maps",
        "Uploaded 2 file(s)",
        "::endgroup::",
        "::group::Associate commits",
        "repository  commits",
        "::endgroup::",
    ]
