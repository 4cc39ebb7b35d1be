"""The health rule's verdict from the probes' streaks: FAIL on `needed` failures in a row, PASS
at the end only when every URL has been healthy (`needed` successes in a row at some point),
WATCHING while a URL still lacks its samples."""

from __future__ import annotations

from sentry_release.gate.policy import FAIL, PASS, WATCHING, ProbeStatus, health_verdict


def probed(results: list[bool], needed: int = 3, url: str = "http://app/healthz") -> ProbeStatus:
    status = ProbeStatus(url)
    for i, ok in enumerate(results):
        status = status.record(ok, f"HTTP {200 if ok else 503} #{i}", needed)
    return status


def test_a_probe_counts_its_current_streaks() -> None:
    status = probed([True, True, False, False, True])
    assert (status.attempts, status.successes, status.failures) == (5, 1, 0)
    assert status.last == "HTTP 200 #4" and not status.healthy
    status = probed([True, False, False])
    assert (status.successes, status.failures) == (0, 2)


def test_healthy_once_the_streak_reaches_needed_and_stays_so() -> None:
    assert not probed([True, True]).healthy
    assert probed([True, True, True]).healthy
    assert probed([True, True, True, False, False]).healthy  # was healthy: stays recorded
    assert not probed([True, True, False, True, True]).healthy


def test_needed_failures_in_a_row_fail_at_once_and_name_the_url() -> None:
    two = probed([False, False])
    assert health_verdict([two], 3, False) == (WATCHING, "probing")
    three = probed([False, False, False], url="http://app/ready")
    verdict, reason = health_verdict([probed([True] * 3), three], 3, False)
    assert verdict == FAIL
    assert reason == "health check failed: http://app/ready (HTTP 503 #2, 3 in a row)"


def test_at_the_end_every_url_must_have_been_healthy() -> None:
    good = probed([True] * 3)
    assert health_verdict([good], 3, True) == (PASS, "health checks passed")
    flaky = probed([True, False, True, False, True, False], url="http://app/flaky")
    verdict, reason = health_verdict([good, flaky], 3, True)
    assert verdict == FAIL
    assert reason == "health check never passed 3 times in a row: http://app/flaky (HTTP 503 #5)"


def test_a_url_short_of_samples_is_probed_up_to_extra_attempts() -> None:
    short = probed([True, True])
    assert health_verdict([short], 3, True)[0] == WATCHING  # 2 of its 3 samples so far
    assert health_verdict([short], 3, True, extra=1)[0] == WATCHING
    assert health_verdict([probed([True, False, True])], 3, True)[0] == FAIL
    four = probed([True, False, True, True])
    assert health_verdict([four], 3, True, extra=1)[0] == FAIL  # 4 attempts: out of chances
    assert health_verdict([four], 3, True, extra=2) == (WATCHING, "probing until enough samples")


def test_no_url_is_a_pass() -> None:
    assert health_verdict([], 3, False) == (PASS, "no health URL")
