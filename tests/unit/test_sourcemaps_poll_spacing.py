"""--wait polls `delay` apart from one poll's start to the next (#23): a round trip longer
than the delay is wait enough, a short one is topped up, so the server sees no more polls
per second than with a fixed sleep after each answer."""

from __future__ import annotations

import io
from pathlib import Path

from sentry_release.config.settings import Settings, SourceMapOptions
from sentry_release.output import Output
from sentry_release.sentry.models import AssembleState, ChunkOptions
from sentry_release.sourcemaps.bundle import BundleFile, spool_bundle
from sentry_release.sourcemaps.chunks import upload_bundle


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


class Sentry:
    """Every chunk present; assembling takes two polls; each call costs `rtt` of the clock."""

    def __init__(self, clock: Clock, rtt: float) -> None:
        self.clock, self.rtt = clock, rtt
        self.states = iter(["created", "assembling", "ok"])

    def assemble_artifact_bundle(self, org: str, **_: object) -> AssembleState:
        self.clock.now += self.rtt
        return AssembleState(next(self.states))


def _sleeps(rtt: float, tmp_path: Path) -> list[float]:
    clock = Clock()
    settings = Settings(
        org="o",
        projects=("p",),
        working_directory=tmp_path,
        sourcemaps=SourceMapOptions(wait=True),
    )
    files = [BundleFile("~/a.js", "minified_source", b"x" * 100)]
    bundle, _id = spool_bundle(files, org="o", projects=["p"], release="1", dist=None)
    options = ChunkOptions(url="https://s/chunks/", accept=("artifact_bundles_v2",))
    out = Output(stdout=io.StringIO(), stderr=io.StringIO())
    with bundle:
        done = upload_bundle(
            settings, Sentry(clock, rtt), "1", bundle, options, out,  # type: ignore[arg-type]
            sleep=clock.sleep, clock=clock,
        )  # fmt: skip
    assert done.state == "ok" and done.bytes_sent == 0 and done.bytes_reused == len(bundle)
    return clock.sleeps


def test_a_far_round_trip_is_wait_enough(tmp_path: Path) -> None:
    assert _sleeps(0.15, tmp_path) == [0.0, 0.05]  # delays 0.1 then 0.2, from each poll's start


def test_a_near_round_trip_is_topped_up_to_the_delay(tmp_path: Path) -> None:
    assert _sleeps(0.01, tmp_path) == [0.09, 0.19]
