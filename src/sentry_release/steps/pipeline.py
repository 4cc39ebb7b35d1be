"""The whole release step, in order: version, new, commits, inject, upload, finalize,
deploy, gate. Each step is skippable; the result carries what each did, and `on_step` hands
it to the front door after each step (for `report`'s lines, the action's outputs and job
summary). With source maps to upload, commits are associated in a thread beside inject and
upload (git and two requests wait while those work locally) and reported after them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sentry_release.config.settings import Settings
from sentry_release.errors import Cancelled, GateFailed, StepsFailed
from sentry_release.gate.policy import FAIL, GateReport
from sentry_release.git import GitRepo
from sentry_release.output import Output
from sentry_release.sentry.api import SentryApi
from sentry_release.sentry.models import Deploy
from sentry_release.sourcemaps.collect import Collected
from sentry_release.sourcemaps.discover import load_ignore_rules
from sentry_release.sourcemaps.inject import InjectResult, inject_paths
from sentry_release.sourcemaps.upload import UploadResult, prepare_upload, upload_sourcemaps
from sentry_release.steps.commits import CommitsResult, associate_commits
from sentry_release.steps.deploy import DeployResult, record_deploy
from sentry_release.steps.preflight import check_commits
from sentry_release.steps.release import (
    ReleaseResult,
    create_release,
    finalize_release,
    propose_version,
)
from sentry_release.version import ProposedVersion

T = TypeVar("T")


@dataclass
class PipelineResult:
    """What one run did, step by step (None: step skipped or not reached)."""

    version: str
    version_source: str
    release: ReleaseResult | None = None
    commits: CommitsResult | None = None
    injected: InjectResult | None = None
    upload: UploadResult | None = None
    finalized: bool = False
    deploy: DeployResult | None = None
    gate: GateReport | None = None
    steps: list[str] = field(default_factory=list)


def planned_steps(settings: Settings) -> list[str]:
    """The names of the steps `run` takes with these settings, in order."""
    maps = settings.sourcemaps
    steps = [
        ("Create release", settings.create),
        ("Associate commits", settings.commits.mode != "skip"),
        ("Inject debug IDs", bool(maps.paths) and maps.inject),
        ("Upload source maps", bool(maps.paths)),
        ("Finalize release", settings.finalize),
        ("Record deploy", settings.deploy.enabled and bool(settings.deploy.environment)),
        ("Deploy gate", settings.gate.enabled),
    ]
    return [name for name, planned in steps if planned]


def run(
    settings: Settings,
    client: SentryApi,
    repo: GitRepo | None,
    out: Output,
    *,
    environ: Mapping[str, str],
    on_step: Callable[[PipelineResult], None] | None = None,
    proposed: ProposedVersion | None = None,
) -> PipelineResult:
    """Run every enabled step; raise GateFailed (exit 3) after reporting a failing gate.
    `proposed` is the release name when the front door already derived (and warned about) it."""
    # Build files are local input: bad names, FIFOs, a read-only dist/, invalid maps are
    # refused before the release is created; the upload reuses this one collection.
    collected = prepare_upload(settings, out)
    check_commits(settings, repo)
    if proposed is None:
        proposed = propose_version(settings, repo, environ)
        for warning in proposed.warnings:
            out.warn(warning)
    result = PipelineResult(proposed.version, proposed.source)
    version = proposed.version
    out.info(f"Release {version} (from {proposed.source})")

    def step(name: str, field_name: str, action: Callable[[], object]) -> None:
        """Run one step, store its result on `result`, then tell `on_step` (inside the step's
        log group: its result line belongs there)."""
        try:
            with out.group(name):
                with client.step(name):
                    setattr(result, field_name, action())
                result.steps.append(name)
                if on_step is not None:
                    on_step(result)
        except Cancelled as exc:
            exc.step = exc.step or name
            raise

    if settings.create:
        step("Create release", "release", lambda: create_release(settings, client, version))
    beside: Beside[CommitsResult] | None = None
    if settings.commits.mode != "skip":

        def associate(api: SentryApi, output: Output) -> CommitsResult:
            return associate_commits(settings, api, repo, version, output, environ=environ)

        if settings.sourcemaps.paths:  # git and its requests wait beside inject and upload
            beside = Beside("Associate commits", associate, client, out)
        else:
            step("Associate commits", "commits", lambda: associate(client, out))
    try:
        source_map_steps(settings, client, version, out, collected, step)
    except BaseException as exc:
        if beside is not None:  # inject or upload failed: its lines are printed, in its group
            if not isinstance(exc, Exception):  # cancelled: no request starts after this
                client.transport.cancel()
            failed = out.current_step or "Upload source maps"
            with out.group("Associate commits"):
                beside.finish()  # joined: nothing is sent once the run has ended
            out.current_step = failed  # the step that failed, not the group printed after it
            if isinstance(exc, Exception) and isinstance(beside.error, Exception):
                raise StepsFailed([(failed, exc), (beside.name, beside.error)]) from exc
        raise
    if beside is not None:
        step("Associate commits", "commits", beside.result)
    if settings.finalize:
        step(
            "Finalize release",
            "finalized",
            lambda: finalize_release(settings, client, version) is not None,
        )
    if settings.deploy.enabled and settings.deploy.environment:
        step("Record deploy", "deploy", lambda: record_deploy(settings, client, version))
    if settings.gate.enabled:
        given = result.deploy.deploy if result.deploy is not None else None
        step(
            "Deploy gate", "gate", lambda: gate_step(settings, client, version, given, out, environ)
        )
        assert result.gate is not None
        enforce_gate(settings, result.gate)
    return result


def source_map_steps(
    settings: Settings,
    client: SentryApi,
    version: str,
    out: Output,
    collected: Collected | None,
    step: Callable[[str, str, Callable[[], object]], None],
) -> None:
    """`run`'s inject and upload steps, when source map paths are given."""
    maps = settings.sourcemaps
    if maps.paths:
        if maps.inject:
            step(
                "Inject debug IDs",
                "injected",
                lambda: inject_paths(
                    tuple(settings.working_directory / p for p in maps.paths),
                    dry_run=settings.dry_run,
                    out=out,
                    inside=settings.working_directory,
                    ignore=load_ignore_rules(
                        maps.ignore,
                        settings.working_directory / maps.ignore_file if maps.ignore_file else None,
                    ),
                    planner=collected.take_plan() if collected is not None else None,
                ),
            )
        step(
            "Upload source maps",
            "upload",
            lambda: upload_sourcemaps(settings, client, version, out, collected=collected),
        )


class Beside(Generic[T]):
    """A step run in a thread beside the next ones: its work waits on git and the network
    while theirs is local. It gets a fork of the client (its own step deadline, the same
    connections) and an output whose lines are held; `result` prints them inside the step's
    own group, so no group of the log is split."""

    def __init__(
        self, name: str, work: Callable[[SentryApi, Output], T], client: SentryApi, out: Output
    ) -> None:
        self._out, self._release = out.held()
        self._api = client.fork(echo=self._out.result)
        self._work, self.name = work, name
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with self._api.step(self.name):
                self._value = self._work(self._api, self._out)
        except BaseException as exc:  # handed to the main thread by `result`
            self._error = exc

    def finish(self) -> None:
        """Wait until the work is done (bounded by its step deadline and request timeouts),
        then print its held lines (once)."""
        self._thread.join()
        self._release()

    @property
    def error(self) -> BaseException | None:
        """What the work raised (once finished), or None."""
        return self._error

    def result(self) -> T:
        """The work's result, or its error raised here, once its lines are printed."""
        self.finish()
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value


def gate_step(
    settings: Settings,
    client: SentryApi,
    version: str,
    deploy: Deploy | None,
    out: Output,
    environ: Mapping[str, str],
) -> GateReport:
    """The deploy gate, its waiting narration shown as one live status line (redrawn in
    place on a terminal; in CI logs when it changes, else once a minute)."""
    from sentry_release.gate.render import gate_status
    from sentry_release.gate.watch import run_gate

    with out.live(gate_status) as live:
        return run_gate(settings, client, version, deploy, live, environ=environ)


def enforce_gate(settings: Settings, report: GateReport) -> None:
    """The one place a failed gate stops the run (exit 3), unless it is a gate dry run."""
    if report.verdict == FAIL and not settings.gate.dry_run:
        raise GateFailed(f"deploy gate failed: {report.reason}")
