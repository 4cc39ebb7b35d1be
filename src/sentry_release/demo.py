"""`sentry-release demo`: the whole pipeline, twice, against an in-process stand-in that
already holds an hour and a half of history, so the deploy gate decides at once.

The story: `demo@1.0.0` served healthy traffic; `demo@1.1.0` was deployed 50 minutes ago and
served as well (its gate PASSes); `demo@1.2.0`, deployed 20 minutes ago, raised a new fatal
error in the file its one commit touched and errored many more sessions (its gate FAILs,
exit 3, naming the suspect commit and the release to roll back to). The deploys and the
traffic lie in the past, so each gate window is over before the gate starts reading.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sentry_release.config.settings import (
    CommitOptions,
    DeployOptions,
    GatePolicy,
    Settings,
    SourceMapOptions,
)
from sentry_release.errors import GateFailed
from sentry_release.git import GitRepo
from sentry_release.output import Output
from sentry_release.report import step_line
from sentry_release.sentry.api import SentryApi
from sentry_release.steps.pipeline import PipelineResult, run
from sentry_standin import Options, seed
from sentry_standin.app import DevServer
from sentry_standin.store import DEFAULT_ORG, DEFAULT_PROJECT, DEFAULT_TOKEN, Store

ENVIRONMENT = "production"
BASELINE, GOOD, BAD = "demo@1.0.0", "demo@1.1.0", "demo@1.2.0"
MINUTE = 60.0
WINDOW = 10 * MINUTE  # each gate watches ten minutes of (past) traffic
SESSIONS_PER_MINUTE = 2000
# the gate's own options, as a user would pass them: no grace, no ingestion lag to wait for
# (the window lies in the past), a short poll against the local stand-in
GATE = GatePolicy(
    enabled=True, grace=0, window=WINDOW, settle=0, settle_sessions=0, poll=0.2, bucket=MINUTE
)
DEMO_ENV = {
    "GIT_AUTHOR_NAME": "Demo Dev",
    "GIT_AUTHOR_EMAIL": "demo@example.com",
    "GIT_COMMITTER_NAME": "Demo Dev",
    "GIT_COMMITTER_EMAIL": "demo@example.com",
}
# (file, text, message, tag): the last two commits are the two new releases
HISTORY = [
    ("README.md", "# demo app\n", "docs: readme", None),
    ("src/greet.js", "export const greet = (n) => 'hi ' + n;\n", "greet: first version", BASELINE),
    ("src/greet.js", "export const greet = (n) => 'hello, ' + n;\n", "greet: friendlier", GOOD),
    ("src/cart.js", "export const total = (c) => c.items.price;\n", "cart: total from price", BAD),
]
DEMO_SOURCE = "export function greet(name) {\n  return 'hello, ' + name;\n}\n"
DEMO_BUNDLE = 'function greet(n){return"hello, "+n}\n//# sourceMappingURL=app.min.js.map\n'
DEMO_MAP = {
    "version": 3,
    "file": "app.min.js",
    "sources": ["../src/greet.js"],
    "names": ["greet", "name"],
    # greet -> line 1 col 16, n -> name; enough for Sentry to resolve the frame
    "mappings": "AAAO,SAASA,MAAMC",
}


def make_demo_repo(path: Path) -> None:
    """A small repository: one commit per release, each tagged, and a built bundle."""
    env = {**os.environ, **DEMO_ENV}

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=path, env=env, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    for name, text, message, tag in HISTORY:
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text, encoding="utf-8")
        git("add", name)
        git("commit", "-q", "-m", message)
        if tag:
            git("tag", tag)
    git("remote", "add", "origin", "https://github.com/acme/demo-app.git")
    write_demo_bundle(path / "dist")


def write_demo_bundle(dist: Path) -> None:
    """A minified bundle with its source map, as a build step would leave it (not committed)."""
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "app.min.js").write_text(DEMO_BUNDLE, encoding="utf-8")
    (dist / "app.min.js.map").write_text(json.dumps(DEMO_MAP), encoding="utf-8")


@dataclass(frozen=True)
class Timeline:
    """When each release was deployed (epoch seconds, on whole minutes)."""

    now: float

    @property
    def baseline(self) -> float:
        return self.good - 3 * WINDOW

    @property
    def good(self) -> float:
        return self.bad - 3 * WINDOW

    @property
    def bad(self) -> float:
        return self.now - self.now % MINUTE - 2 * WINDOW


def seed_history(store: Store, when: Timeline) -> None:
    """What Sentry would hold by now: the baseline release deployed; each release's sessions
    until the next took over (a few errored per thousand); the bad release's errors."""
    org, project = DEFAULT_ORG, DEFAULT_PROJECT
    seed.deployed_release(
        store,
        org,
        BASELINE,
        [project],
        environment=ENVIRONMENT,
        started=when.baseline,
        finished=when.baseline + 30,
    )
    served = [
        (BASELINE, when.baseline, when.good, 10),
        (GOOD, when.good, when.bad, 10),
        (BAD, when.bad, when.now - when.now % MINUTE, 60),
    ]
    for release, start, end, errored in served:
        minutes = range(int((end - start) // MINUTE))
        buckets = [(start + MINUTE * i, SESSIONS_PER_MINUTE, errored) for i in minutes]
        seed.sessions(store, org, project, release, ENVIRONMENT, buckets)
    for i in range(6):  # a fatal, unhandled error in the file the bad release changed
        seed.error(
            store,
            org,
            project,
            release=BAD,
            environment=ENVIRONMENT,
            when=when.bad + MINUTE * (i + 1),
            exc_type="TypeError",
            value="Cannot read properties of undefined (reading 'price')",
            filename="src/cart.js",
            level="fatal",
            handled=False,
            user=f"buyer{i}",
        )


def demo_settings(
    url: str, checkout: Path, release: str, deployed: float, *, maps: bool = True
) -> Settings:
    """The settings of one release's run: the same as `equivalent_command` spells out (a
    checkout of the user's own, `--repo`, has no demo bundle: no source maps then)."""
    moment = datetime.fromtimestamp(deployed, tz=timezone.utc)
    return Settings(
        url=url,
        auth_token=DEFAULT_TOKEN,
        org=DEFAULT_ORG,
        projects=(DEFAULT_PROJECT,),
        release=release,
        working_directory=checkout,
        commits=CommitOptions(mode="local"),
        deploy=DeployOptions(environment=ENVIRONMENT, started=moment, finished=moment),
        sourcemaps=SourceMapOptions(paths=(checkout / "dist",) if maps else ()),
        gate=GATE,
    )


def equivalent_command(release: str, *, maps: bool = True) -> str:
    """The shell command that runs what the demo ran for `release` (against real Sentry)."""
    return (
        f"sentry-release run {release} --org {DEFAULT_ORG} --project {DEFAULT_PROJECT} "
        f"--mode local{' --sourcemaps dist' if maps else ''} --env {ENVIRONMENT} --gate "
        "--window 10m"
    )


WORKFLOW_STEP = f"""\
  - uses: sentry-release/sentry-release@v1  # SENTRY_AUTH_TOKEN in env, from secrets
    with:
      org: {DEFAULT_ORG}
      projects: {DEFAULT_PROJECT}
      set_commits: local
      sourcemaps: dist
      environment: {ENVIRONMENT}
      gate: true
      gate_window: 10m"""


@dataclass
class DemoResult:
    """Both runs: the good release's and the bad one's (its gate FAILed)."""

    runs: list[PipelineResult]
    failure: GateFailed | None


@contextmanager
def _checkout(repo_path: Path | None, keep: bool, out: Output) -> Iterator[Path]:
    workdir = Path(tempfile.mkdtemp(prefix="sentry-release-demo-")) if repo_path is None else None
    try:
        if workdir is not None:
            make_demo_repo(workdir)
        yield repo_path or workdir  # type: ignore[misc]
    finally:
        if workdir is not None and not keep:
            shutil.rmtree(workdir, ignore_errors=True)
        elif workdir is not None:
            out.info(f"Demo repository kept at {workdir}")


def demo(
    out: Output,
    *,
    repo_path: Path | None = None,
    keep: bool = False,
    clock: float | None = None,
) -> DemoResult:
    """Start a stand-in holding the history, run the good release and the bad one, print
    the equivalent command and workflow step. Never raises GateFailed: the caller decides."""
    when = Timeline(time.time() if clock is None else clock)
    store = Store()
    seed_history(store, when)
    runs: list[PipelineResult] = []
    failure: GateFailed | None = None
    # the steps' results and warnings, not their narration: the story fits a screen
    steps_out = copy.copy(out)
    steps_out.quiet = True
    with _checkout(repo_path, keep, out) as checkout, DevServer(store, options=Options()) as server:
        out.info(f"Sentry stand-in at {server.url}: {BASELINE} served healthy traffic")
        client = SentryApi(server.url, DEFAULT_TOKEN, echo=out.result)
        for release, deployed in ((GOOD, when.good), (BAD, when.bad)):
            settings = demo_settings(
                server.url, checkout, release, deployed, maps=repo_path is None
            )
            if repo_path is None:  # each release is built from its own tag
                _git(checkout, "checkout", "-q", release)
            repo = GitRepo(checkout)
            out.result(f"$ {equivalent_command(release, maps=repo_path is None)}")
            done, error = _run_release(settings, client, repo, out, steps_out)
            runs.append(done)
            failure = failure or error
        out.result("The same in a workflow (the action runs the same code):")
        for line in WORKFLOW_STEP.splitlines():
            out.result(line)
    return DemoResult(runs, failure)


def _run_release(
    settings: Settings, client: SentryApi, repo: GitRepo, out: Output, steps_out: Output
) -> tuple[PipelineResult, GateFailed | None]:
    """One release's run, as `sentry-release run` does it: its step lines, and its failed
    gate handed back (not raised) so the demo goes on to the end."""
    seen: list[PipelineResult] = []

    def on_step(partial: PipelineResult) -> None:
        seen[:] = [partial]  # the same object, filled step by step
        line = step_line(partial, settings)
        if line is not None:
            out.result(line)

    try:
        run(settings, client, repo, steps_out, environ={}, on_step=on_step)
    except GateFailed as exc:
        return seen[-1], exc
    return seen[-1], None


def _git(path: Path, *args: str) -> None:
    env = {**os.environ, **DEMO_ENV}
    subprocess.run(["git", *args], cwd=path, env=env, check=True, capture_output=True)


__all__ = ["DemoResult", "demo"]
