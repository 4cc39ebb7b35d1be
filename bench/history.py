"""Monorepo-scale history: associate commits from a 100,000-commit repository whose previous
release is 1,000 commits behind HEAD, with a full clone and with a shallow one, both tools.

    python bench/history.py [--network runner|far|loopback] [--commits N] [--back N]

The repository is built once by `commits_fixture.build_history` (one `git fast-import`
stream) and cached under the temp dir (`$SENTRY_RELEASE_BENCH_CACHE`, default
/tmp/sentry-release-bench/), never in the repository. For each case and tool: a fresh org on a
fresh stand-in, seeded over the API with the previous release (one commit, HEAD~back) and the
new release; then the tool's `set-commits` in local mode, timed, with the proxy's counters;
then the release is read back for its commit count. Used by `run.py --network`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE)]

import harness  # noqa: E402
from harness import CLI, OURS, StandIn, Tools  # noqa: E402

COMMITS = 100_000
BACK = 1_000
FILES_PER_COMMIT = 2
SHALLOW_DEPTH = 1  # what actions/checkout fetches by default
REPOSITORY = "acme/bench"
PREV, CUR = "hist-prev", "hist-cur"


def cache_dir() -> Path:
    """Big generated inputs live under the temp dir, not in the repository."""
    root = os.environ.get("SENTRY_RELEASE_BENCH_CACHE") or str(
        Path(tempfile.gettempdir()) / "sentry-release-bench"
    )
    return Path(root)


def wait_for_builder(root: Path, log: Callable[[str], None]) -> None:
    """Another bench process building the same cache (its pid in `building.pid`): wait for it
    rather than build the same thing twice in one place; claim the build otherwise."""
    lock = root / "building.pid"
    while lock.is_file():
        try:
            pid = int(lock.read_text().strip() or 0)
            os.kill(pid, 0)
        except (ValueError, ProcessLookupError, PermissionError):
            break  # the builder is gone: build again
        if (root / "built.json").is_file():
            return
        log(f"waiting for process {pid} building {root}")
        time.sleep(10)
    if not (root / "built.json").is_file():
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        lock.write_text(str(os.getpid()))


def build(commits: int, log: Callable[[str], None]) -> tuple[Path, float]:
    """The cached repository of `commits` commits (built once) and the seconds it took."""
    from commits_fixture import build_history

    root = cache_dir() / f"history-{commits}-{FILES_PER_COMMIT}"
    stamp = root / "built.json"
    wait_for_builder(root, log)
    if stamp.is_file():
        return root / "repo", float(json.loads(stamp.read_text())["seconds"])
    log(f"building a {commits:,}-commit history in {root}")
    started = time.perf_counter()
    build_history(root / "repo", commits, FILES_PER_COMMIT)
    seconds = time.perf_counter() - started
    stamp.write_text(json.dumps({"seconds": seconds}))
    (root / "building.pid").unlink(missing_ok=True)
    return root / "repo", seconds


def rev(repo: Path, what: str) -> str:
    """`git rev-parse`."""
    return subprocess.run(
        ["git", "rev-parse", what], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


def shallow_clone(repo: Path, target: Path) -> Path:
    """`git clone --depth N file://.../acme/bench` (file:// so the clone is really shallow and
    can be deepened from its origin). The origin's path ends in REPOSITORY, as a CI checkout's
    remote (github.com/acme/bench) names the repository the previous release's commits were
    filed under; a remote named otherwise is another repository, whose commit does not bound
    the range."""
    shutil.rmtree(target, ignore_errors=True)
    named = repo.parent / "origin" / REPOSITORY
    if not named.exists():
        named.parent.mkdir(parents=True, exist_ok=True)
        named.symlink_to(repo, target_is_directory=True)
    subprocess.run(
        ["git", "clone", "-q", "--depth", str(SHALLOW_DEPTH), f"file://{named}", str(target)],
        check=True,
    )
    return target


def argv(tools: Tools, tool: str) -> list[str]:
    """set-commits in local mode, the range found from the previous release."""
    if tool == OURS:
        return [*tools.ours, "set-commits", CUR, "--mode", "local"]
    return [tools.cli, "releases", "set-commits", CUR, "--local"]


def one(
    tools: Tools, tool: str, repo: Path, prev_sha: str, network: str | None, work: Path, case: str
) -> dict[str, Any]:
    """One tool, one case, on its own stand-in (and proxy)."""
    with StandIn(sys.executable, work / f"standin-{case}-{tool}.log", network=network) as server:
        org = f"hist-{case}-{'ours' if tool == OURS else 'cli'}"
        server.add_org(org)
        base = f"/api/0/organizations/{org}/releases/"
        server.post_json(
            base,
            {
                "version": PREV,
                "projects": [harness.PROJECT],
                "commits": [{"id": prev_sha, "repository": REPOSITORY}],
            },
        )
        server.post_json(base, {"version": CUR, "projects": [harness.PROJECT]})
        env = harness.tool_env(server.url, org, work / "home")
        sample = harness.measure_step(
            server,
            argv(tools, tool),
            env=env,
            cwd=repo,
            tool=tool,
            step="set-commits",
            round_=0,
            phase=case,
        )
        rel = server.release(org, CUR)
        return {
            "wall": sample.wall,
            "cpu": sample.cpu,
            "rss_kb": sample.rss_kb,
            "status": sample.status,
            "note": sample.note,
            "stderr_tail": sample.stderr_tail,
            "commits": rel.get("commitCount"),
            "requests": sample.requests,
            "connections": sample.connections,
            "exchanges": sample.exchanges,
            "bytes_up": sample.bytes_up,
            "bytes_down": sample.bytes_down,
            "describe": server.network.get("describe", "loopback (no proxy)"),
        }


def run(
    tools: Tools,
    *,
    network: str | None,
    log: Callable[[str], None],
    commits: int = COMMITS,
    back: int = BACK,
) -> dict[str, Any]:
    """Both cases, both tools; JSON-ready results for the README."""
    repo, generate_s = build(commits, log)
    prev_sha = rev(repo, f"HEAD~{back}")
    work = cache_dir() / "history-run"
    shutil.rmtree(work, ignore_errors=True)
    (work / "home").mkdir(parents=True)
    cases: dict[str, dict[str, Any]] = {"full": {}, "shallow": {}}
    describe = "loopback (no proxy)"
    for case in ("full", "shallow"):
        for tool in (OURS, CLI):
            # each shallow run starts from a fresh shallow clone (ours deepens it)
            where = repo if case == "full" else shallow_clone(repo, work / f"shallow-{tool}")
            result = one(tools, tool, where, prev_sha, network, work, case)
            describe = result.pop("describe")
            cases[case][tool] = result
            log(
                f"  history {case:7} {tool:10} {result['status']:6} {result['wall']:6.2f}s "
                f"{result['commits']} commits {result['exchanges']} exch {result['note'][:80]}"
            )
    return {
        "commits": commits,
        "back": back,
        "depth": SHALLOW_DEPTH,
        "generate_s": generate_s,
        "cache": str(repo.parent),
        "describe": describe,
        "cases": cases,
    }


def main() -> int:
    """Command line (prints the results as JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--network", default="runner")
    parser.add_argument("--commits", type=int, default=COMMITS)
    parser.add_argument("--back", type=int, default=BACK)
    args = parser.parse_args()
    network = None if args.network == "loopback" else args.network
    result = run(
        Tools.find(),
        network=network,
        log=lambda m: print(m, file=sys.stderr, flush=True),
        commits=args.commits,
        back=args.back,
    )
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
