"""Running one step of one tool and measuring it: wall, CPU, peak RSS, bytes the server received.

Each step is a child process reaped with `os.wait4`, whose rusage covers the child and every
descendant it waited for (git processes count towards our CPU; peak RSS is the largest single
process of the tree, not a sum). Bytes come from the stand-in's bench counters, read before and
after the step.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STEPS = ("new", "set-commits", "inject", "upload", "finalize", "deploy")
OURS, CLI = "ours", "sentry-cli"
TOOLS = (OURS, CLI)
TOKEN = "sntrys_bench_token_not_secret"
PROJECT = "web"
STEP_TIMEOUT = 900

NOT_IMPLEMENTED = (
    "NotImplementedError",
    "not implemented by the stand-in yet",
    "is built by issue",
)


@dataclass
class Sample:
    """One measured run of one step by one tool."""

    tool: str
    step: str
    round: int
    phase: str  # "first" | "rerun" | "profile"
    status: str  # ok | n/a | failed
    wall: float = 0.0
    cpu: float = 0.0
    rss_kb: int = 0
    body_bytes: int = 0
    chunk_bytes: int = 0
    requests: int = 0
    # at the shaping proxy (network runs only): connections opened, request/response
    # exchanges, bytes each way including headers
    connections: int = 0
    exchanges: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    network: str = ""
    rc: int = 0
    note: str = ""
    stderr_tail: str = ""
    argv: list[str] = field(default_factory=list)

    def ok_status(self) -> bool:
        """The step ran and exited 0."""
        return self.status == "ok"


@dataclass
class Exec:
    """What a child process did."""

    rc: int
    wall: float
    cpu: float
    rss_kb: int
    stdout: str
    stderr: str


def run_measured(
    argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, timeout: float = STEP_TIMEOUT
) -> Exec:
    """Run `argv` to completion; wall from spawn to reap, CPU and max RSS from wait4."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(argv), env=dict(env), cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL
        )
        killer = threading.Timer(timeout, proc.kill)  # a hung step must not hang the bench
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Exec(
            rc=proc.returncode,
            wall=wall,
            cpu=usage.ru_utime + usage.ru_stime,
            rss_kb=usage.ru_maxrss,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
        )


class StandIn:
    """The stand-in (bench/standin.py) in its own process, on an ephemeral port; with a
    `network` profile, behind the shaping proxy (bench/netem_proxy.py, its own process too).

    `url` is what the tools talk to (the proxy when there is one); `direct` is the stand-in's
    own address, used by the bench's counters and read-backs so they cross no emulated network.
    """

    def __init__(
        self,
        python: str,
        log: Path,
        network: str | None = None,
        projects: Sequence[str] = (PROJECT,),
    ) -> None:
        here = Path(__file__).resolve().parent
        self._log = log.open("w")
        self.proxy: subprocess.Popen[str] | None = None
        self.network: dict[str, Any] = {}
        argv = [python, str(here / "standin.py"), "--token", TOKEN]
        for project in projects:
            argv += ["--project", project]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self._log, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("http"):
            self.stop()
            raise RuntimeError(f"the stand-in did not start (see {log})")
        self.url = self.direct = line
        if network:
            port = line.rstrip("/").rsplit(":", 1)[1]
            self.proxy = subprocess.Popen(
                [
                    python,
                    str(here / "netem_proxy.py"),
                    "--upstream",
                    f"127.0.0.1:{port}",
                    "--profile",
                    network,
                ],
                stdout=subprocess.PIPE,
                stderr=self._log,
                text=True,
            )
            assert self.proxy.stdout is not None
            first = self.proxy.stdout.readline().strip()
            if not first.startswith("{"):
                self.stop()
                raise RuntimeError(f"the proxy did not start (see {log})")
            self.network = json.loads(first)
            self.url = self.network["url"]
            from urllib.parse import quote

            self._call("POST", f"/bench/public-url/?url={quote(self.url, safe='')}")

    def proxy_stats(self) -> dict[str, Any]:
        """The proxy's cumulative counters (empty without a network)."""
        if not self.network:
            return {}
        with urllib.request.urlopen(self.network["control"], timeout=30) as response:
            data: dict[str, Any] = json.loads(response.read())
            return data

    def _call(self, method: str, path: str, token: str | None = None) -> dict[str, Any]:
        request = urllib.request.Request(self.direct.rstrip("/") + path, method=method)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=30) as response:
            data: dict[str, Any] = json.loads(response.read())
            return data

    def post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """Seed the stand-in over its API (direct, with the bench token)."""
        request = urllib.request.Request(
            self.direct.rstrip("/") + path,
            method="POST",
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            data: dict[str, Any] = json.loads(response.read() or b"{}")
            return data

    def counters(self) -> dict[str, Any]:
        """Totals of requests and body bytes received so far."""
        return self._call("GET", "/bench/counters/")

    def add_org(self, slug: str) -> None:
        """A fresh org: no previous release, so every round does the full work."""
        self._call("POST", f"/bench/orgs/{slug}/")

    def release(self, org: str, version: str) -> dict[str, Any]:
        """The release as Sentry's read endpoint returns it (to check what each tool left)."""
        from urllib.parse import quote

        try:
            return self._call(
                "GET", f"/api/0/organizations/{org}/releases/{quote(version, safe='')}/", TOKEN
            )
        except OSError as exc:
            return {"error": str(exc)}

    def __enter__(self) -> StandIn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Terminate the proxy and the stand-in and wait for them."""
        if self.proxy is not None:
            self.proxy.terminate()
            try:
                self.proxy.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proxy.kill()
                self.proxy.wait()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


@dataclass(frozen=True)
class Tools:
    """How to start each tool."""

    ours: tuple[str, ...]
    cli: str

    @classmethod
    def find(cls, sentry_cli: str | None = None) -> Tools:
        """Our console script next to this interpreter; sentry-cli from there or PATH."""
        bindir = Path(sys.executable).parent
        script = bindir / "sentry-release"
        ours = (str(script),) if script.exists() else (sys.executable, "-m", "sentry_release")
        cli = sentry_cli or str(bindir / "sentry-cli")
        if not Path(cli).exists():
            import shutil

            found = shutil.which("sentry-cli")
            if found is None:
                raise SystemExit("sentry-cli not found: pip install sentry-cli==3.8.2")
            cli = found
        return cls(ours=ours, cli=cli)


def step_argv(
    tools: Tools, tool: str, step: str, version: str, dist: Path, depth: int
) -> list[str]:
    """The command line of `step` for `tool` (same work, each tool's own spelling)."""
    if tool == OURS:
        ours = list(tools.ours)
        return {
            "new": [*ours, "new", version],
            "set-commits": [
                *ours,
                "set-commits",
                version,
                "--mode",
                "local",
                "--initial-depth",
                str(depth),
            ],
            "inject": [*ours, "inject", str(dist)],
            "upload": [*ours, "upload-sourcemaps", version, str(dist), "--wait"],
            "finalize": [*ours, "finalize", version],
            "deploy": [*ours, "deploy", version, "--env", "production"],
        }[step]
    cli = tools.cli
    return {
        "new": [cli, "releases", "new", version],
        "set-commits": [
            cli,
            "releases",
            "set-commits",
            version,
            "--local",
            "--initial-depth",
            str(depth),
        ],
        "inject": [cli, "sourcemaps", "inject", str(dist)],
        "upload": [cli, "sourcemaps", "upload", "--release", version, "--wait", str(dist)],
        "finalize": [cli, "releases", "finalize", version],
        "deploy": [cli, "deploys", "new", "-r", version, "-e", "production"],
    }[step]


def run_argv(tools: Tools, version: str, dist: Path, depth: int) -> list[str]:
    """Our whole sequence as one command (what the GitHub Action runs)."""
    return [
        *tools.ours,
        "run",
        version,
        "--mode",
        "local",
        "--initial-depth",
        str(depth),
        "--sourcemaps",
        str(dist),
        "--wait",
        "--env",
        "production",
    ]


def tool_env(url: str, org: str, home: Path) -> dict[str, str]:
    """A clean environment: the stand-in, a fresh org, an empty HOME, no CI variables."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SENTRY_", "GITHUB_", "INPUT_")) and k != "CI"
    }
    env.update(
        SENTRY_URL=url,
        SENTRY_AUTH_TOKEN=TOKEN,
        SENTRY_ORG=org,
        SENTRY_PROJECT=PROJECT,
        SENTRY_LOAD_DOTENV="0",
        SENTRY_DISABLE_UPDATE_CHECK="1",
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
    )
    return env


def classify(result: Exec, unrouted: str = "") -> tuple[str, str]:
    """ok / n/a (a side not built yet) / failed, with the line that says why."""
    if result.rc == 0:
        return "ok", ""
    text = result.stderr + result.stdout
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    marked = [line for line in lines if any(m in line for m in NOT_IMPLEMENTED)]
    errors = [line for line in lines if line.lower().startswith("error")]
    why = (marked or errors or lines or [f"exit {result.rc}"])[0][:200]
    if unrouted:
        return "n/a", f"stand-in: no route for {unrouted} ({why})"
    if marked:
        where = "stand-in" if "stand-in" in why else "not implemented"
        return "n/a", f"{where}: {why}"
    return "failed", f"exit {result.rc}: {why}"


def measure_step(
    server: StandIn,
    argv: list[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    tool: str,
    step: str,
    round_: int,
    phase: str,
) -> Sample:
    """Run one step and turn it into a Sample with the bytes the server received meanwhile."""
    before = server.counters()
    net_before = server.proxy_stats()
    result = run_measured(argv, env=env, cwd=cwd)
    net_after = server.proxy_stats()
    after = server.counters()

    def net(key: str) -> int:
        return int(net_after.get(key, 0)) - int(net_before.get(key, 0))

    unrouted = after["last_unrouted"] if after["unrouted"] > before["unrouted"] else ""
    status, note = classify(result, str(unrouted))
    return Sample(
        tool=tool,
        step=step,
        round=round_,
        phase=phase,
        status=status,
        wall=result.wall,
        cpu=result.cpu,
        rss_kb=result.rss_kb,
        body_bytes=after["body_bytes"] - before["body_bytes"],
        chunk_bytes=after["chunk_bytes"] - before["chunk_bytes"],
        requests=after["requests"] - before["requests"],
        connections=net("connections"),
        exchanges=net("exchanges"),
        bytes_up=net("bytes_up"),
        bytes_down=net("bytes_down"),
        network=str(net_after.get("profile", {}).get("name", "")),
        rc=result.rc,
        note=note,
        stderr_tail="" if status == "ok" else "\n".join(result.stderr.splitlines()[-15:]),
        argv=argv,
    )


def sample_dict(sample: Sample) -> dict[str, object]:
    """JSON-ready form of a Sample."""
    return asdict(sample)
