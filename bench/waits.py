"""Where our tool waits under latency: a timeline of one command's HTTP calls, new connections,
sleeps and local work, taken in-process (requests and urllib3 patched, nothing in src/).

    python bench/waits.py OUT.json -- upload-sourcemaps V DIR --wait   # SENTRY_* set

Records, from the moment the interpreter starts running this file:
- every `requests.Session.send`: start, end, method, path (query dropped), status, thread;
- every new urllib3 connection (a TCP connect, plus TLS on https) and on which thread;
- every `time.sleep` of 10 ms or more (assemble polling, retry backoff) and its thread;
- the time spent importing (`import sentry_release.cli` before the command, and the imports
  the command triggers, measured by `sys.modules` growth around the run is not exact, so the
  command is also run once under `-X importtime` by run_waits()).

`critical path`: the main thread's requests in order; a gap between two of them is local work
(git, hashing, zipping) or a wait on worker threads.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

T0 = time.perf_counter()
EVENTS: list[dict[str, Any]] = []
LOCK = threading.Lock()


def _now() -> float:
    return time.perf_counter() - T0


def _record(**event: Any) -> None:
    event["thread"] = threading.current_thread().name
    with LOCK:
        EVENTS.append(event)


def install() -> None:
    """Patch requests, urllib3 and time.sleep to record events."""
    import requests
    import urllib3.connectionpool

    real_send = requests.Session.send

    def send(self: requests.Session, request: Any, **kwargs: Any) -> Any:
        start = _now()
        try:
            response = real_send(self, request, **kwargs)
        except Exception as exc:
            _record(
                kind="http",
                start=start,
                end=_now(),
                method=request.method,
                path=_path(request.url),
                status=type(exc).__name__,
                sent=_size(request.body),
            )
            raise
        _record(
            kind="http",
            start=start,
            end=_now(),
            method=request.method,
            path=_path(request.url),
            status=response.status_code,
            sent=_size(request.body),
            received=len(response.content or b""),
        )
        return response

    requests.Session.send = send  # type: ignore[method-assign]

    real_new_conn = urllib3.connectionpool.HTTPConnectionPool._new_conn

    def new_conn(self: Any) -> Any:
        _record(kind="connect", start=_now())
        return real_new_conn(self)

    urllib3.connectionpool.HTTPConnectionPool._new_conn = new_conn  # type: ignore[method-assign]

    real_sleep = time.sleep

    def sleep(seconds: float) -> None:
        if seconds >= 0.01:
            _record(kind="sleep", start=_now(), seconds=seconds)
        real_sleep(seconds)

    time.sleep = sleep


def install_when_imported() -> None:
    """Patch requests only once the command itself has imported it (importing it here would
    charge its import to commands that never make a request, like `inject`)."""
    import builtins

    real_import = builtins.__import__
    done = [False]

    def hooked(name: str, *args: Any, **kwargs: Any) -> Any:
        module = real_import(name, *args, **kwargs)
        if not done[0]:
            requests = sys.modules.get("requests")
            pool = sys.modules.get("urllib3.connectionpool")
            if hasattr(requests, "Session") and hasattr(pool, "HTTPConnectionPool"):
                done[0] = True
                builtins.__import__ = real_import
                install()
        return module

    builtins.__import__ = hooked


def _path(url: str) -> str:
    from urllib.parse import urlsplit

    path = urlsplit(url).path
    return path.replace("/api/0", "")


def _size(body: Any) -> int:
    if isinstance(body, (bytes, str)):
        return len(body)
    return 0


def main(argv: list[str]) -> int:
    """Run one command of ours under the recorder; write the events as JSON."""
    out, sep, *args = argv
    assert sep == "--", "usage: waits.py OUT.json -- ARGS..."
    t_import = _now()
    from sentry_release.cli import run_cli

    imported = _now() - t_import
    before = set(sys.modules)
    install_when_imported()
    patched = _now()
    start = _now()
    code = run_cli(list(args))
    end = _now()
    Path(out).write_text(
        json.dumps(
            {
                "argv": args,
                "exit": code,
                "import_cli_s": imported,
                "run_start": start,
                "run_end": end,
                "patched_at": patched,
                "modules_loaded_by_command": len(set(sys.modules) - before),
                "events": EVENTS,
            }
        )
    )
    return code


def summarize(data: dict[str, Any]) -> str:
    """A readable timeline: the main thread's requests in order, the parallel ones grouped."""
    events = data["events"]
    http = sorted((e for e in events if e["kind"] == "http"), key=lambda e: e["start"])
    connects = [e for e in events if e["kind"] == "connect"]
    sleeps = [e for e in events if e["kind"] == "sleep"]
    main_http = [e for e in http if e["thread"] == "MainThread"]
    workers = [e for e in http if e["thread"] != "MainThread"]
    run_s = data["run_end"] - data["run_start"]
    lines = [
        f"`{' '.join(data['argv'][:1])}`: {run_s * 1000:.0f} ms in the command after "
        f"{data['import_cli_s'] * 1000:.0f} ms importing the CLI; {len(http)} requests "
        f"({len(main_http)} on the main thread, {len(workers)} on workers), "
        f"{len(connects)} new connection(s), {len(sleeps)} sleep(s) totalling "
        f"{sum(s['seconds'] for s in sleeps) * 1000:.0f} ms.",
    ]
    cursor = data["run_start"]
    local = 0.0
    rows = []
    for e in main_http:
        gap = e["start"] - cursor
        local += max(gap, 0)
        rows.append(
            f"  +{gap * 1000:6.0f} ms local, {(e['end'] - e['start']) * 1000:6.0f} ms "
            f"{e['method']:4} {e['path']} -> {e['status']}"
        )
        cursor = e["end"]
    tail = data["run_end"] - cursor
    if workers:
        first = min(e["start"] for e in workers)
        last = max(e["end"] for e in workers)
        names = {e["thread"] for e in workers}
        methods: dict[str, int] = {}
        for e in workers:
            key = f"{e['method']} {e['path']}"
            methods[key] = methods.get(key, 0) + 1
        rows.append(
            f"  workers ({len(names)} threads) from {first * 1000:.0f} to {last * 1000:.0f} ms: "
            + ", ".join(f"{n} x {k}" for k, n in methods.items())
        )
    for s in sleeps:
        rows.append(
            f"  sleep {s['seconds'] * 1000:.0f} ms at {s['start'] * 1000:.0f} ms ({s['thread']})"
        )
    lines.extend(rows)
    lines.append(
        f"  main thread: {sum(e['end'] - e['start'] for e in main_http) * 1000:.0f} ms in "
        f"{len(main_http)} sequential requests, {local * 1000:.0f} ms local work between them, "
        f"{tail * 1000:.0f} ms after the last"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


def import_ms(stderr: str) -> tuple[float, list[tuple[float, str]]]:
    """From `-X importtime` output: the total (top-level cumulative, in ms) and the
    biggest top-level imports."""
    import re

    top = []
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\S.*)$", line)
        if match:  # exactly one space before the name: a top-level import
            top.append((int(match[2]) / 1000, match[3].strip()))
    return sum(ms for ms, _ in top), sorted(top, reverse=True)[:6]


def run_waits(tools: Any, *, network: str, fixture: Any, log: Any, work: Path) -> dict[str, Any]:
    """Each of our steps (and `run`) under the recorder and -X importtime, against a fresh
    stand-in behind `network`; the timelines as text plus the numbers."""
    import shutil
    import subprocess

    import harness
    from harness import OURS, STEPS, StandIn

    import fixtures

    here = Path(__file__).resolve().parent
    shutil.rmtree(work, ignore_errors=True)
    (work / "home").mkdir(parents=True)
    scratch = fixture.repo / ".bench-dist" / "waits"
    results: dict[str, Any] = {}
    with StandIn(sys.executable, work / "standin.log", network=network) as server:
        for label, version, org, steps in (
            ("steps", "waits-1", "waits-steps", STEPS),
            ("run", "waits-2", "waits-run", ("run",)),
        ):
            server.add_org(org)
            dist = fixtures.copy_dist(fixture, scratch / label / "dist")
            env = harness.tool_env(server.url, org, work / "home")
            for step in steps:
                if step == "run":
                    argv = harness.run_argv(tools, version, dist, fixture.size.commits)
                else:
                    argv = harness.step_argv(tools, OURS, step, version, dist, fixture.size.commits)
                args = argv[len(tools.ours) :]
                out = work / f"{label}-{step}.json"
                done = subprocess.run(
                    [
                        sys.executable,
                        "-X",
                        "importtime",
                        str(here / "waits.py"),
                        str(out),
                        "--",
                        *args,
                    ],
                    env=env,
                    cwd=fixture.repo,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if not out.exists():
                    results[step] = {"text": f"(failed: exit {done.returncode})"}
                    continue
                data = json.loads(out.read_text())
                total, top = import_ms(done.stderr)
                text = summarize(data)
                text += (
                    f"\n  imports: {total:.0f} ms in all (-X importtime), biggest: "
                    + ", ".join(f"{name} {ms:.0f} ms" for ms, name in top[:4])
                )
                results[step] = {
                    "text": text,
                    "import_ms": total,
                    "requests": sum(1 for e in data["events"] if e["kind"] == "http"),
                    "connects": sum(1 for e in data["events"] if e["kind"] == "connect"),
                    "sleep_s": sum(
                        e.get("seconds", 0) for e in data["events"] if e["kind"] == "sleep"
                    ),
                    "run_s": data["run_end"] - data["run_start"],
                    "exit": data["exit"],
                }
                log(
                    f"  waits {step:11} {results[step]['run_s']:6.2f}s "
                    f"{results[step]['requests']} req {results[step]['connects']} conn "
                    f"imports {total:.0f} ms"
                )
    shutil.rmtree(scratch, ignore_errors=True)
    return {
        "network": network,
        "describe": server.network.get("describe", ""),
        "size": fixture.size.name,
        "steps": results,
    }
