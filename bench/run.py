"""Side-by-side benchmark of sentry-release and sentry-cli against the local Sentry stand-in.

    python bench/run.py [--sizes small,medium,large] [--rounds N] [--out bench/README.md]
    python bench/run.py --quick          # smoke run: small, 1 round, under a minute

For every size: build the fixtures (cached, deterministic), start the stand-in in its own
process, then per round run new -> set-commits --local -> inject -> upload -> finalize ->
deploy with each tool, alternating which tool goes first, then the same sequence again on
unchanged inputs (the re-run rows). Each (round, tool) gets a fresh org (no previous release,
so set-commits walks --initial-depth = all commits) and its own copy of the bundles. Writes
the README with the tables, the machine and the date. Never run as a test.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE)]

import harness  # noqa: E402
import report  # noqa: E402
from harness import CLI, OURS, STEPS, TOOLS, Sample, StandIn, Tools  # noqa: E402

import fixtures  # noqa: E402

HELP_RUNS = 10
HELP_TARGET = 0.1  # issue #16
SEQUENCE_TARGET = 0.8


def log(message: str) -> None:
    """Progress on stderr, with a timestamp."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


Check = dict[str, object]


def run_size(
    size: fixtures.Size,
    rounds: int,
    tools: Tools,
    *,
    profile: bool,
    network: str | None = None,
    selfchecks: list[dict[str, Any]] | None = None,
) -> tuple[fixtures.FixtureSet, list[Sample], dict[str, str], list[Check]]:
    """All rounds of one size: the fixture, the samples, profiles taken, server-side checks.

    Every round (and the one-command pass, and the profiles) gets a fresh stand-in: its chunk
    store is global, so a deterministic bundle uploaded in an earlier round would otherwise be
    deduplicated and the round would not do the full work. With `network`, each stand-in sits
    behind a fresh shaping proxy of that profile (bench/netem_proxy.py), whose self-check is
    appended to `selfchecks`.
    """
    fixture = fixtures.build(size, log=log)
    work = fixtures.WORK / "run" / (f"{network}-{size.name}" if network else size.name)

    def standin(name: str) -> StandIn:
        server = StandIn(sys.executable, work / name, network=network)
        if network and selfchecks is not None:
            selfchecks.append({"size": size.name, **server.network})
        return server

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    # The tools run in the fixture repository, and our CLI refuses source map paths outside
    # its working directory: each round's copy of the bundles lives in an untracked folder
    # of that repository (untracked files do not make the tree dirty).
    scratch = fixture.repo / ".bench-dist"
    shutil.rmtree(scratch, ignore_errors=True)
    home = work / "home"
    home.mkdir()
    samples: list[Sample] = []
    checks: list[Check] = []
    profiles: dict[str, str] = {}

    def measure(
        server: StandIn,
        argv: list[str],
        env: dict[str, str],
        tool: str,
        step: str,
        k: int,
        phase: str,
    ) -> None:
        sample = harness.measure_step(
            server, argv, env=env, cwd=fixture.repo, tool=tool, step=step, round_=k, phase=phase
        )
        samples.append(sample)
        net = f"{sample.connections:3d} conn {sample.exchanges:4d} exch " if network else ""
        log(
            f"  {phase:6} {step:11} {tool:10} {sample.status:6} {sample.wall:7.2f}s "
            f"{net}{sample.note[:90]}"
        )

    for k in range(rounds):
        order = TOOLS if k % 2 == 0 else tuple(reversed(TOOLS))
        version = f"bench-{size.name}-r{k}"
        where = f" over {network}" if network else ""
        log(f"{size.name}{where} round {k + 1}/{rounds} ({' first, '.join(order)} second)")
        with standin(f"standin-r{k}.log") as server:
            setups = {}
            for tool in TOOLS:
                org = f"{size.name}-r{k}-{'ours' if tool == OURS else 'cli'}"
                server.add_org(org)
                dist = fixtures.copy_dist(fixture, scratch / f"r{k}-{tool}" / "dist")
                setups[tool] = (harness.tool_env(server.url, org, home), dist)
            for phase in ("first", "rerun"):
                for step in STEPS:
                    for tool in order:
                        env, dist = setups[tool]
                        argv = harness.step_argv(tools, tool, step, version, dist, size.commits)
                        measure(server, argv, env, tool, step, k, phase)
                if phase == "first":
                    for tool in TOOLS:
                        org = setups[tool][0]["SENTRY_ORG"]
                        checks.append(release_check(server, org, version, tool, k))
        # how the action runs it: `sentry-release run`, one process for every step
        with standin(f"standin-r{k}-run.log") as server:
            org = f"{size.name}-r{k}-run"
            server.add_org(org)
            dist = fixtures.copy_dist(fixture, scratch / f"r{k}-run" / "dist")
            env = harness.tool_env(server.url, org, home)
            argv = harness.run_argv(tools, version, dist, size.commits)
            measure(server, argv, env, OURS, "run", k, "one-command")
            checks.append(release_check(server, org, version, "ours `run`", k))
            measure(server, argv, env, OURS, "run", k, "one-command-rerun")
        for tool in (*TOOLS, "run"):
            shutil.rmtree(scratch / f"r{k}-{tool}", ignore_errors=True)
    if profile:
        wanted = steps_to_profile(samples)
        if wanted:
            with StandIn(sys.executable, work / "standin-profile.log") as server:
                profiles = profile_ours(server, tools, fixture, work, home, wanted)
        if not memory_bounded(samples, fixture.bytes_on_disk):
            with StandIn(sys.executable, work / "standin-memprofile.log") as server:
                profiles["upload (memory)"] = profile_memory(server, tools, fixture, work, home)
    return fixture, samples, profiles, checks


def release_check(server: StandIn, org: str, version: str, tool: str, round_: int) -> Check:
    """What a tool left on the server: commit count, last commit, finalized, deploys."""
    rel = server.release(org, version)
    last = rel.get("lastCommit") or {}
    return {
        "tool": tool,
        "round": round_,
        "commits": rel.get("commitCount"),
        "last_commit": (last.get("id") or "")[:12] if isinstance(last, dict) else "",
        "finalized": bool(rel.get("dateReleased")),
        "deploys": rel.get("deployCount"),
        "error": rel.get("error", ""),
    }


def steps_to_profile(samples: list[Sample]) -> list[str]:
    """Our steps that missed the target: slower than 0.8x sentry-cli, or re-run chunk bytes."""
    wanted = []
    for step in STEPS:
        ours = [s for s in samples if s.phase == "first" and s.step == step and s.tool == OURS]
        cli = [s for s in samples if s.phase == "first" and s.step == step and s.tool == CLI]
        if not ours or any(s.status != "ok" for s in ours) or not cli:
            continue
        if any(s.status != "ok" for s in cli):
            continue
        ratio = statistics.median(s.wall for s in ours) / statistics.median(s.wall for s in cli)
        rerun_bytes = [
            s.chunk_bytes
            for s in samples
            if s.phase == "rerun" and s.step == step and s.tool == OURS
        ]
        if ratio > SEQUENCE_TARGET or any(rerun_bytes):
            wanted.append(step)
    return wanted


def memory_bounded(samples: list[Sample], input_bytes: int) -> bool:
    """Whether the upload's memory growth stays under MEMORY_FACTOR x the bundle bytes
    ("not the whole bundle set in memory twice")."""
    measured = report.upload_memory(samples)
    if measured is None:
        return True  # nothing to profile
    peak, base = measured
    return peak - base <= report.MEMORY_FACTOR * input_bytes + report.MEMORY_SLACK


def profile_memory(
    server: StandIn, tools: Tools, fixture: fixtures.FixtureSet, work: Path, home: Path
) -> str:
    """Our upload under tracemalloc (bench/memprofile.py) on a fresh org and injected copy."""
    org = f"{fixture.size.name}-memprofile"
    server.add_org(org)
    dist = fixtures.copy_dist(fixture, fixture.repo / ".bench-dist" / "memprofile" / "dist")
    env = harness.tool_env(server.url, org, home)
    version = f"bench-{fixture.size.name}-memprofile"
    log(f"{fixture.size.name}: memory profile of our upload")
    for step in ("new", "inject"):
        argv = harness.step_argv(tools, OURS, step, version, dist, fixture.size.commits)
        harness.run_measured(argv, env=env, cwd=fixture.repo)
    report_file = work / "memprofile" / "report.txt"
    result = harness.run_measured(
        [sys.executable, str(HERE / "memprofile.py"), version, str(dist), str(report_file)],
        env=env,
        cwd=fixture.repo,
    )
    text = report_file.read_text() if report_file.exists() else f"(failed: exit {result.rc})"
    shutil.rmtree(work / "memprofile", ignore_errors=True)
    shutil.rmtree(dist.parent, ignore_errors=True)
    return f"peak RSS of the profiled run: {result.rss_kb / 1024:.0f} MiB\n{text}"


def profile_ours(
    server: StandIn,
    tools: Tools,
    fixture: fixtures.FixtureSet,
    work: Path,
    home: Path,
    wanted: list[str],
) -> dict[str, str]:
    """One extra sequence of ours under cProfile (fresh org); top entries of the wanted steps."""
    import pstats
    from io import StringIO

    org = f"{fixture.size.name}-profile"
    server.add_org(org)
    dist = fixtures.copy_dist(fixture, fixture.repo / ".bench-dist" / "profile" / "dist")
    env = harness.tool_env(server.url, org, home)
    version = f"bench-{fixture.size.name}-profile"
    profiles: dict[str, str] = {}
    (work / "profile").mkdir(parents=True, exist_ok=True)  # cProfile -o does not create it
    log(f"{fixture.size.name}: profiling ours for {', '.join(wanted)}")
    for step in STEPS:
        argv = harness.step_argv(tools, OURS, step, version, dist, fixture.size.commits)
        out = work / "profile" / f"{step}.prof"
        argv = [
            sys.executable,
            "-m",
            "cProfile",
            "-o",
            str(out),
            "-m",
            "sentry_release",
            *argv[len(tools.ours) :],
        ]
        result = harness.run_measured(argv, env=env, cwd=fixture.repo)
        if step not in wanted:
            continue
        if result.rc != 0 or not out.exists():
            profiles[step] = f"(profile run failed: exit {result.rc})"
            continue
        text = StringIO()
        stats = pstats.Stats(str(out), stream=text)
        stats.strip_dirs().sort_stats("cumulative").print_stats(60)
        text.write("\n--- by own time ---\n")
        stats.sort_stats("tottime").print_stats(12)
        profiles[step] = _trim_pstats(text.getvalue(), result.wall)
    shutil.rmtree(work / "profile", ignore_errors=True)
    return profiles


NOISE = ("<frozen ", "builtins.exec", "<string>:", "runpy", "(<module>)", "core.py:", "cli.py:5")


def _trim_pstats(text: str, wall: float) -> str:
    """Drop pstats headers and the frames every run has (import machinery, click dispatch)."""
    keep = [f"wall under cProfile: {wall:.2f} s"]
    kept_in_section = 0
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("---"):
            kept_in_section = 0
        if not stripped or stripped.startswith(("Ordered by", "List reduced", "Random listing")):
            continue
        if re.match(r"^\w{3} \w{3} ", stripped):  # the dated file header
            continue
        if stripped[0].isdigit() and "function calls" not in stripped:
            if any(noise in stripped for noise in NOISE) or kept_in_section >= 16:
                continue
            kept_in_section += 1
        keep.append(line.rstrip())
    return "\n".join(keep)


FLOOR = (
    ("python -c pass", "pass"),
    ("import click", "import click"),
    ("import requests", "import requests"),
    ("import git (GitPython)", "import git"),
    ("import sentry_release.cli", "import sentry_release.cli"),
    (
        "import sentry_release.cli + sentry.api",
        "import sentry_release.cli, sentry_release.sentry.api",
    ),
)


def precompile() -> None:
    """Byte-compile our package as `pip install` does: an editable install under
    PYTHONDONTWRITEBYTECODE would otherwise recompile every module on every run."""
    import compileall

    import sentry_release

    compileall.compile_dir(str(Path(sentry_release.__file__).parent), quiet=1)


def measure_help(tools: Tools) -> dict[str, object]:
    """`--help` wall time (median of 10), import time of sentry_release.cli, heavy modules."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTRY_")}
    cwd = Path.cwd()
    ours = [
        harness.run_measured([*tools.ours, "--help"], env=env, cwd=cwd).wall
        for _ in range(HELP_RUNS)
    ]
    cli = [
        harness.run_measured([tools.cli, "--help"], env=env, cwd=cwd).wall for _ in range(HELP_RUNS)
    ]
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import sentry_release.cli"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    entries = []
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if match:
            entries.append((int(match[2]), int(match[1]), len(match[3]) - 1, match[4]))
    total = next((c for c, _, _, name in entries if name == "sentry_release.cli"), 0)
    probe = (
        "import sys, sentry_release.cli; print(','.join(m for m in "
        "('requests', 'urllib3', 'git', 'gitdb', 'http.client', 'ssl') "
        "if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=False
    ).stdout.strip()
    floor = {}
    for label, code in FLOOR:
        runs = [
            harness.run_measured([sys.executable, "-c", code], env=env, cwd=cwd).wall
            for _ in range(5)
        ]
        floor[label] = statistics.median(runs)
    return {
        "floor": floor,
        "ours_median": statistics.median(ours),
        "ours_runs": ours,
        "cli_median": statistics.median(cli),
        "import_total_us": total,
        "import_top": sorted(entries, reverse=True)[:15],
        "heavy_loaded": loaded,
    }


def save_raw(path: Path, results: list[dict[str, Any]], context: dict[str, Any]) -> None:
    """Everything the README is made of, as JSON (bench/results/ is git-ignored)."""
    path.parent.mkdir(exist_ok=True)
    data = {
        "context": {k: v for k, v in context.items() if k not in ("tools", "started")},
        "started": context["started"].isoformat(),
        "tools": {"ours": list(context["tools"].ours), "cli": context["tools"].cli},
        "sizes": [
            {
                "fixture": {**asdict(r["fixture"]), "size": asdict(r["fixture"].size)},
                "rounds": r["rounds"],
                "samples": [harness.sample_dict(s) for s in r["samples"]],
                "checks": r["checks"],
                "profiles": r["profiles"],
            }
            for r in results
        ],
        "network": [
            {
                "network": r["network"],
                "fixture": {**asdict(r["fixture"]), "size": asdict(r["fixture"].size)},
                "rounds": r["rounds"],
                "samples": [harness.sample_dict(s) for s in r["samples"]],
                "checks": r["checks"],
                "selfchecks": r["selfchecks"],
            }
            for r in context.get("net_results", [])
        ],
    }
    path.write_text(json.dumps(data, indent=1, default=str))


def load_raw(path: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The inverse of save_raw: re-render a README (e.g. after editing NOTES.md) unmeasured."""
    data = json.loads(path.read_text())
    context = dict(data["context"])
    context["started"] = datetime.fromisoformat(data["started"])
    context["tools"] = Tools(ours=tuple(data["tools"]["ours"]), cli=data["tools"]["cli"])
    results = []
    for entry in data["sizes"]:
        results.append(
            {
                "fixture": _load_fixture(entry["fixture"]),
                "rounds": entry["rounds"],
                "samples": [Sample(**s) for s in entry["samples"]],
                "checks": entry["checks"],
                "profiles": entry["profiles"],
            }
        )
    context["net_results"] = [
        {
            "network": entry["network"],
            "fixture": _load_fixture(entry["fixture"]),
            "rounds": entry["rounds"],
            "samples": [Sample(**s) for s in entry["samples"]],
            "checks": entry["checks"],
            "selfchecks": entry["selfchecks"],
        }
        for entry in data.get("network", [])
    ]
    return results, context


def _load_fixture(raw: dict[str, Any]) -> fixtures.FixtureSet:
    raw_fixture = dict(raw)
    raw_fixture["size"] = fixtures.Size(**raw_fixture["size"])
    for key in ("repo", "dist"):
        raw_fixture[key] = Path(raw_fixture[key])
    return fixtures.FixtureSet(**raw_fixture)


def main(argv: list[str] | None = None) -> int:
    """Parse options, run the sizes, write the README."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="small,medium,large")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--large-rounds",
        type=int,
        default=None,
        help="rounds for the large size (default: --rounds)",
    )
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--network",
        nargs="?",
        const="runner,far",
        default=None,
        help="also run behind the shaping proxy with these profiles (default runner,far); "
        "implies --monorepo and --history",
    )
    parser.add_argument("--net-sizes", default="medium,large")
    parser.add_argument("--net-rounds", type=int, default=2)
    parser.add_argument("--net-large-rounds", type=int, default=1)
    parser.add_argument("--monorepo", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--history", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument(
        "--scale-network",
        default="runner",
        help="profile for the monorepo and history runs (default runner; 'loopback': none)",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: small, 1 round")
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument(
        "--keep-from",
        type=Path,
        default=None,
        help="a saved bench/results/*.json: take from it the parts this run does not measure "
        "(loopback sizes, monorepo, history, waits), e.g. to re-measure only the network",
    )
    parser.add_argument("--sentry-cli", default=None, help="path of the sentry-cli binary")
    parser.add_argument(
        "--render",
        type=Path,
        default=None,
        help="re-render the README from a saved bench/results/*.json",
    )
    args = parser.parse_args(argv)
    if args.render:
        results, context = load_raw(args.render)
        out = args.out or HERE / "README.md"
        out.write_text(report.render(results, context), encoding="utf-8")
        log(f"rendered {out} from {args.render}")
        return 0
    if args.quick:
        args.sizes, args.rounds, args.profile = "small", 1, False
    out = args.out or (fixtures.WORK / "README.quick.md" if args.quick else HERE / "README.md")
    names = [n.strip() for n in args.sizes.split(",") if n.strip() and n.strip() != "none"]
    net_names = [n.strip() for n in args.net_sizes.split(",") if n.strip()]
    profiles_wanted = [p.strip() for p in (args.network or "").split(",") if p.strip()]
    if args.monorepo is None:
        args.monorepo = bool(profiles_wanted)
    if args.history is None:
        args.history = bool(profiles_wanted)
    unknown = [n for n in [*names, *net_names] if n not in fixtures.SIZES]
    if unknown:
        parser.error(f"unknown size(s) {unknown}; choose from {list(fixtures.SIZES)}")
    tools = Tools.find(args.sentry_cli)
    started = datetime.now(timezone.utc)
    rev = report.current_rev()
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    precompile()
    log("measuring --help and import time")
    help_stats = measure_help(tools)
    results = []
    for name in names:
        rounds = args.large_rounds if name == "large" and args.large_rounds else args.rounds
        fixture, samples, profiles, checks = run_size(
            fixtures.SIZES[name], rounds, tools, profile=args.profile
        )
        results.append(
            {
                "fixture": fixture,
                "rounds": rounds,
                "samples": samples,
                "profiles": profiles,
                "checks": checks,
            }
        )
    net_results = []
    for network in profiles_wanted:
        for name in net_names:
            rounds = args.net_large_rounds if name == "large" else args.net_rounds
            selfchecks: list[dict[str, Any]] = []
            fixture, samples, _, checks = run_size(
                fixtures.SIZES[name],
                rounds,
                tools,
                profile=False,
                network=network,
                selfchecks=selfchecks,
            )
            net_results.append(
                {
                    "network": network,
                    "fixture": fixture,
                    "rounds": rounds,
                    "samples": samples,
                    "checks": checks,
                    "selfchecks": selfchecks,
                }
            )
    waits_result = None
    if profiles_wanted:
        import waits

        log("where ours waits: each step under the recorder, runner profile, medium")
        waits_result = waits.run_waits(
            tools,
            network="runner",
            fixture=fixtures.build(fixtures.SIZES["medium"], log=log),
            log=log,
            work=fixtures.WORK / "run" / "waits",
        )
    scale_net = None if args.scale_network == "loopback" else args.scale_network
    monorepo_result = None
    if args.monorepo:
        import monorepo

        monorepo_result = monorepo.run(tools, network=scale_net, log=log)
    history_result = None
    if args.history:
        import history

        history_result = history.run(tools, network=scale_net, log=log)
    elapsed = time.perf_counter() - t0
    context = {
        "net_results": net_results,
        "waits": waits_result,
        "monorepo": monorepo_result,
        "history": history_result,
        "started": started,
        "elapsed": elapsed,
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "command": "python bench/run.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "tools": tools,
        "help": help_stats,
        "help_target": HELP_TARGET,
        "sequence_target": SEQUENCE_TARGET,
        "quick": args.quick,
        "rev": rev,
    }
    if args.keep_from:
        kept, old = load_raw(args.keep_from)
        if not results:
            results = kept
        for key in ("net_results", "monorepo", "history", "waits"):
            if not context.get(key):
                context[key] = old.get(key)
        context["kept_from"] = f"{args.keep_from.name} (started {old['started']:%H:%M} UTC)"
    text = report.render(results, context)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    raw = HERE / "results" / f"{started:%Y%m%dT%H%M%SZ}.json"
    save_raw(raw, results, context)
    log(
        f"done in {elapsed:.0f} s: wrote {out} (raw results: {raw}; re-render with "
        f"--render {raw.relative_to(HERE.parent)})"
    )
    print(report.tables_only(results, context))
    import netreport

    print("\n".join(netreport.targets16(context)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
