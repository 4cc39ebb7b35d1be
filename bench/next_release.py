"""Next release vs sentry-cli (#23): upload release N, change one line, upload N+1.

Workloads: `vite` (a React + ECharts app built by Vite from the npm registry, bench/vite_app.py:
14 files, 8.6 MB) and `monorepo` (bench/sourcemaps_fixture.py bundles, one file changed).
For each network profile (bench/netem_proxy.py) and round, the two tools run as an A/B pair
(order alternating) against fresh stand-ins behind the shaping proxy: each injects its own copy
of build N (untimed), uploads it (timed: "first"), then injects and uploads build N+1 (timed:
"next"). Bytes are what the stand-in received (request bodies, chunk POSTs apart); wall is the
upload command from spawn to exit. Prints a Markdown table and writes JSON next to it.

    python bench/next_release.py [--profiles runner,far] [--rounds 3] [--workloads vite,monorepo]
        [--baseline OLD/src]     # also run sentry-release from another tree, as "today"
    python bench/next_release.py --big   # peak RSS with a sparse 3 GiB file in the folder,
                                         # and a 1.5 GB one under a 1 GiB RLIMIT_AS
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import vite_app  # noqa: E402
from harness import CLI, OURS, StandIn, Tools, run_measured, step_argv, tool_env  # noqa: E402
from sourcemaps_fixture import make_bundles  # noqa: E402

WORK = HERE / ".work"


def builds(workload: str, root: Path) -> tuple[Path, Path, str]:
    """Build N and N+1 of `workload` under `root`; returns their folders and a description."""
    if workload == "vite":
        one = vite_app.build(WORK / "viteapp", 1, root / "n1")
        two = vite_app.build(WORK / "viteapp", 2, root / "n2")
    else:
        one, two = root / "n1", root / "n2"
        make_bundles(one, 1000, 48_000_000, seed=11)
        shutil.copytree(one, two)
        target = sorted(two.rglob("*.min.js"))[500]
        target.write_text(target.read_text().replace("function", "function ", 1))
    files = [p for p in one.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    return one, two, f"{len(files)} files, {size / 1e6:.1f} MB"


TODAY = "today"  # our CLI from another source tree (`--baseline`): the code before #23


def one_tool(
    tool: str, tools: Tools, profile: str, n1: Path, n2: Path, tmp: Path, baseline: Path | None
) -> dict[str, Any]:
    """Upload N then N+1 with `tool` against a fresh stand-in; what each upload cost."""
    out: dict[str, Any] = {}
    with StandIn(sys.executable, tmp / f"{tool}.log", network=profile) as standin:
        org = f"bench-{os.getpid()}-{time.monotonic_ns()}"
        standin.add_org(org)
        env = tool_env(standin.url, org, tmp / "home")
        if tool == TODAY:
            assert baseline is not None
            env["PYTHONPATH"] = str(baseline)
            tools = Tools(ours=(sys.executable, "-m", "sentry_release"), cli=tools.cli)
            tool = OURS
        for phase, build, version in (("first", n1, "1.0.0"), ("next", n2, "1.0.1")):
            dist = tmp / f"{tool}-{phase}"
            shutil.copytree(build, dist)
            for step in ("inject", "new"):
                done = run_measured(
                    step_argv(tools, tool, step, version, dist, 0), env=env, cwd=tmp
                )
                assert done.rc == 0, done.stderr
            before = standin.counters()
            done = run_measured(
                step_argv(tools, tool, "upload", version, dist, 0), env=env, cwd=tmp
            )
            assert done.rc == 0, done.stderr
            after = standin.counters()
            out[phase] = {
                "wall": done.wall,
                "rss_kb": done.rss_kb,
                "requests": after["requests"] - before["requests"],
                "body_bytes": after["body_bytes"] - before["body_bytes"],
                "chunk_requests": after["chunk_requests"] - before["chunk_requests"],
                "chunk_bytes": after["chunk_bytes"] - before["chunk_bytes"],
            }
    return out


def big_file(
    tools: Tools, root: Path, size: int = 3 * 1024**3, address_space: int | None = None
) -> dict[str, Any]:
    """A sparse `size`-byte `.js` among a small build (3 GiB: over Sentry's 2 GiB limit;
    1.5 GB under a 1 GiB RLIMIT_AS (`prlimit --as`): over the memory left): `upload-sourcemaps`
    exit code, its error line and peak RSS (wait4), against a stand-in that must receive
    nothing but GETs."""
    dist = root / "big"
    make_bundles(dist, 4, 200_000, seed=2)
    with open(dist / "huge.min.js", "wb") as sparse:
        sparse.truncate(size)
    with StandIn(sys.executable, root / "big.log") as standin:
        org = f"bench-big-{os.getpid()}"
        standin.add_org(org)
        env = tool_env(standin.url, org, root / "home")
        argv = step_argv(tools, OURS, "upload", "1.0.0", dist, 0)
        if address_space is not None:
            argv = ["prlimit", f"--as={address_space}", "--", *argv]
        done = run_measured(argv, env=env, cwd=root)
        received = standin.counters()["requests"]
    error = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    return {
        "size": size,
        "rlimit_as": address_space,
        "rc": done.rc,
        "rss_kb": done.rss_kb,
        "error": error,
        "requests": received,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profiles", default="runner,far")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workloads", default="vite,monorepo")
    parser.add_argument("--out", type=Path, default=WORK / "next_release.json")
    parser.add_argument(
        "--baseline", type=Path, help="a src/ tree of sentry-release to run as 'today' too"
    )
    parser.add_argument(
        "--big",
        action="store_true",
        help="only the big-file measurements (3 GiB; 1.5 GB under 1 GiB RLIMIT_AS)",
    )
    args = parser.parse_args()
    tools = Tools.find()
    if args.big:
        for size, limit in ((3 * 1024**3, None), (1_500_000_000, 1024**3)):
            with tempfile.TemporaryDirectory(prefix="next-big-") as raw:
                print(json.dumps(big_file(tools, Path(raw), size, limit), indent=1))
        return
    results: dict[str, Any] = {"load_start": os.getloadavg(), "runs": {}}
    for workload in args.workloads.split(","):
        with tempfile.TemporaryDirectory(prefix=f"next-{workload}-") as raw:
            root = Path(raw)
            n1, n2, what = builds(workload, root)
            for profile in args.profiles.split(","):
                key = f"{workload}/{profile}"
                runs: list[dict[str, Any]] = []
                for index in range(args.rounds):
                    order = [OURS, CLI] + ([TODAY] if args.baseline else [])
                    if index % 2:
                        order.reverse()
                    pair: dict[str, Any] = {}
                    for tool in order:
                        tmp = root / f"{profile}-{index}-{tool}"
                        tmp.mkdir()
                        pair[tool] = one_tool(tool, tools, profile, n1, n2, tmp, args.baseline)
                        shutil.rmtree(tmp)
                    runs.append(pair)
                results["runs"][key] = {"what": what, "rounds": runs}
                print(render_one(key, what, runs), flush=True)
    results["load_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(f"load average at start {results['load_start']}, at end {results['load_end']}")


def _median(runs: list[dict[str, Any]], tool: str, phase: str, key: str) -> float:
    return statistics.median(r[tool][phase][key] for r in runs)


def render_one(key: str, what: str, runs: list[dict[str, Any]]) -> str:
    """One Markdown table: medians per tool and phase, and the ratios."""
    lines = [
        f"### {key} ({what}, {len(runs)} A/B round(s), medians)",
        "",
        "| upload | ours wall | sentry-cli wall | ratio | ours sent | sentry-cli sent "
        "| bytes ratio | ours requests | sentry-cli requests |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    today = TODAY in runs[0]
    if today:
        lines[2] += " today wall | today sent | today requests |"
        lines[3] += "---:|---:|---:|"
    for phase, label in (("first", "release N (nothing on the server)"), ("next", "release N+1")):
        w_o, w_c = (_median(runs, t, phase, "wall") for t in (OURS, CLI))
        b_o, b_c = (_median(runs, t, phase, "body_bytes") for t in (OURS, CLI))
        r_o, r_c = (_median(runs, t, phase, "requests") for t in (OURS, CLI))
        lines.append(
            f"| {label} | {w_o:.2f} s | {w_c:.2f} s | {w_o / w_c:.2f}x | {b_o / 1e3:,.1f} KB "
            f"| {b_c / 1e3:,.1f} KB | {b_o / b_c:.1%} | {r_o:.0f} | {r_c:.0f} |"
        )
        if today:
            w_t, b_t, r_t = (
                _median(runs, TODAY, phase, k) for k in ("wall", "body_bytes", "requests")
            )
            lines[-1] += f" {w_t:.2f} s | {b_t / 1e3:,.1f} KB | {r_t:.0f} |"
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
