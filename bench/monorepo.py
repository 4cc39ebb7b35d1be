"""Monorepo scale: 10 projects x 500 bundles (about 1 GB of JS and maps) in one release, both
tools, with peak RSS.

    python bench/monorepo.py [--network runner|far|loopback] [--projects 10] [--bundles 500]

Generating 1 GB of maps with the bundle generator would take minutes, so it makes one
project's worth (500 bundles, ~100 MB, `sourcemaps_fixture.make_bundles`) and derives the other
nine by two byte edits per file that keep every mapping valid: a comment line before the
`//# sourceMappingURL` line of each bundle (after every mapped line) and a
`"x_bench_project"` key at the start of each map. Every project's files are thus distinct
(distinct debug IDs, nothing deduplicated), the set is built in seconds and cached under the
temp dir (`$SENTRY_RELEASE_BENCH_CACHE`, default /tmp/sentry-release-bench/), never in the
repository.

Ours runs the whole release as one `sentry-release run` with every project; sentry-cli runs its
separate commands with the same projects (`-p` repeated). Both get one directory holding a
folder per project (`~/p3/part0/chunk-0001.min.js`: a URL names one project's file).
Each tool gets a fresh stand-in behind a fresh proxy and its own copy of the bundles (inject
rewrites them). Used by `run.py --network`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE)]

import harness  # noqa: E402
from harness import CLI, OURS, StandIn, Tools  # noqa: E402
from history import cache_dir, wait_for_builder  # noqa: E402

PROJECTS = 10
BUNDLES = 500
BYTES_PER_PROJECT = 100_000_000
SEED = 11
COMMITS = 50
VERSION = "mono-1"
FORMAT = 1  # bump when the derivation changes


def derive(base: Path, target: Path, tag: str) -> None:
    """A copy of `base` whose every bundle and map differs (mappings stay valid)."""
    marker = b"\n//# sourceMappingURL="
    for src in base.rglob("*"):
        if not src.is_file():
            continue
        dst = target / src.relative_to(base)
        dst.parent.mkdir(parents=True, exist_ok=True)
        data = src.read_bytes()
        if src.name.endswith(".map") and data[:1] == b"{":
            data = b'{"x_bench_project":"%s",' % tag.encode() + data[1:]
        elif src.suffix in (".js", ".mjs", ".cjs"):
            at = data.rfind(marker)
            if at >= 0:
                data = data[:at] + b"\n/* project %s */" % tag.encode() + data[at:]
        dst.write_bytes(data)


def build(
    projects: int, bundles: int, log: Callable[[str], None]
) -> tuple[Path, list[str], dict[str, Any]]:
    """(workspace repository, project slugs, facts) — cached; the bundles are in
    `<root>/pristine/<project>`."""
    from git_fixture import make_repo
    from sourcemaps_fixture import make_bundles

    root = cache_dir() / f"monorepo-{projects}x{bundles}-v{FORMAT}"
    slugs = [f"p{i}" for i in range(projects)]
    stamp = root / "built.json"
    wait_for_builder(root, log)
    if stamp.is_file():
        return root / "repo", slugs, json.loads(stamp.read_text())
    log(f"building the monorepo fixture ({projects} x {bundles} bundles) in {root}")
    started = time.perf_counter()
    make_repo(root / "repo", COMMITS, seed=SEED)
    base = root / "base"
    make_bundles(base, bundles, BYTES_PER_PROJECT, SEED)
    for slug in slugs:
        derive(base, root / "pristine" / slug, slug)
    shutil.rmtree(base)
    files = [p for p in (root / "pristine").rglob("*") if p.is_file()]
    facts = {
        "generate_s": time.perf_counter() - started,
        "bytes": sum(p.stat().st_size for p in files),
        "js_files": sum(1 for p in files if p.suffix in (".js", ".mjs", ".cjs")),
    }
    stamp.write_text(json.dumps(facts))
    (root / "building.pid").unlink(missing_ok=True)
    return root / "repo", slugs, facts


def commands(
    tools: Tools, tool: str, slugs: list[str], dirs: list[str]
) -> list[tuple[str, list[str]]]:
    """(step, argv) of each command the tool runs for the whole release."""
    ps = [arg for slug in slugs for arg in ("-p", slug)]
    if tool == OURS:
        run = [*tools.ours, "run", VERSION, *ps, "--mode", "local", "--initial-depth", "20"]
        for d in dirs:
            run += ["--sourcemaps", d]
        return [("run", [*run, "--wait", "--env", "production"])]
    cli = tools.cli
    return [
        ("new", [cli, "releases", "new", VERSION, *ps]),
        (
            "set-commits",
            [cli, "releases", "set-commits", VERSION, "--local", "--initial-depth", "20"],
        ),
        ("inject", [cli, "sourcemaps", "inject", *dirs]),
        ("upload", [cli, "sourcemaps", "upload", "--release", VERSION, *ps, "--wait", *dirs]),
        ("finalize", [cli, "releases", "finalize", VERSION]),
        ("deploy", [cli, "deploys", "new", "-r", VERSION, "-e", "production"]),
    ]


def run(
    tools: Tools,
    *,
    network: str | None,
    log: Callable[[str], None],
    projects: int = PROJECTS,
    bundles: int = BUNDLES,
    tools_run: tuple[str, ...] = (OURS, CLI),
) -> dict[str, Any]:
    """Both tools, one fresh stand-in (and proxy) each; JSON-ready results for the README."""
    repo, slugs, facts = build(projects, bundles, log)
    pristine = repo.parent / "pristine"
    work = cache_dir() / "monorepo-run"
    shutil.rmtree(work, ignore_errors=True)
    (work / "home").mkdir(parents=True)
    result: dict[str, Any] = {
        "projects": projects,
        "bundles": bundles,
        "cache": str(repo.parent),
        "describe": "loopback (no proxy)",
        **facts,
    }
    for tool in tools_run:
        scratch = repo / ".bench-dist" / tool
        shutil.rmtree(repo / ".bench-dist", ignore_errors=True)
        for slug in slugs:
            shutil.copytree(pristine / slug, scratch / slug)
        # one directory holding a folder per project: each file's URL (~/p3/part0/...) is
        # unique, as a monorepo's build output would be under distinct URL prefixes
        dirs = [str(scratch)]
        steps = []
        with StandIn(
            sys.executable, work / f"standin-{tool}.log", network=network, projects=slugs
        ) as server:
            result["describe"] = server.network.get("describe", result["describe"])
            org = f"mono-{'ours' if tool == OURS else 'cli'}"
            server.add_org(org)
            env = harness.tool_env(server.url, org, work / "home")
            env["SENTRY_PROJECT"] = slugs[0]
            for step, argv in commands(tools, tool, slugs, dirs):
                sample = harness.measure_step(
                    server, argv, env=env, cwd=repo, tool=tool, step=step, round_=0, phase="mono"
                )
                log(
                    f"  monorepo {tool:10} {step:11} {sample.status:6} {sample.wall:7.2f}s "
                    f"{sample.rss_kb / 1024:6.0f} MiB {sample.exchanges} exch {sample.note[:80]}"
                )
                steps.append(
                    {
                        "step": step,
                        "wall": sample.wall,
                        "cpu": sample.cpu,
                        "rss_kb": sample.rss_kb,
                        "status": sample.status,
                        "note": sample.note,
                        "stderr_tail": sample.stderr_tail,
                        "requests": sample.requests,
                        "connections": sample.connections,
                        "exchanges": sample.exchanges,
                        "bytes_up": sample.bytes_up,
                        "bytes_down": sample.bytes_down,
                        "chunk_bytes": sample.chunk_bytes,
                    }
                )
            rel = server.release(org, VERSION)
        result[tool] = {
            "steps": steps,
            "wall": sum(s["wall"] for s in steps),
            "max_rss_kb": max(s["rss_kb"] for s in steps),
            "run_rss_kb": max(s["rss_kb"] for s in steps),
            "release": {k: rel.get(k) for k in ("commitCount", "deployCount", "dateReleased")},
        }
        shutil.rmtree(repo / ".bench-dist", ignore_errors=True)
    return result


def main() -> int:
    """Command line (prints the results as JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--network", default="runner")
    parser.add_argument("--projects", type=int, default=PROJECTS)
    parser.add_argument("--bundles", type=int, default=BUNDLES)
    parser.add_argument(
        "--tools", default=f"{OURS},{CLI}", help="comma-separated: ours, sentry-cli (default both)"
    )
    args = parser.parse_args()
    network = None if args.network == "loopback" else args.network
    result = run(
        Tools.find(),
        network=network,
        log=lambda m: print(m, file=sys.stderr, flush=True),
        projects=args.projects,
        bundles=args.bundles,
        tools_run=tuple(t for t in args.tools.split(",") if t in (OURS, CLI)),
    )
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
