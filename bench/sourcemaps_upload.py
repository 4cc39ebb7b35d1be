"""Side by side: `sentry-release upload-sourcemaps` vs `sentry-cli sourcemaps upload`.

Generates the fixture (2,000 bundles with maps, ~100 MB), then for each tool starts a fresh
stand-in in its own process (so neither tool finds the other's chunks) and times a cold upload
and an unchanged re-upload, both with --wait. Prints the figures and the ratio; never run as a
test. Usage: python bench/sourcemaps_upload.py [--count N] [--bytes B] [--runs R]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from sourcemaps_fixture import make_bundles  # noqa: E402

TOKEN = "bench-token"
SERVER = (
    "import sys,time\n"
    "from sentry_standin import DevServer, Store\n"
    f"s=DevServer(Store(orgs=('acme',),projects=('web',),tokens=({TOKEN!r},))).start()\n"
    "print(s.url,flush=True)\n"
    "sys.stdin.read()\n"
)


def start_server() -> tuple[subprocess.Popen[str], str]:
    """A fresh stand-in in its own process; returns (process, url)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def timed(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed


def run_tool(name: str, cmd: list[str]) -> tuple[float, float]:
    """Cold upload and unchanged re-upload against a fresh stand-in."""
    proc, url = start_server()
    try:
        env = {
            **os.environ,
            "SENTRY_URL": url,
            "SENTRY_AUTH_TOKEN": TOKEN,
            "SENTRY_ORG": "acme",
            "SENTRY_PROJECT": "web",
        }
        cold = timed(cmd, env)
        warm = timed(cmd, env)
    finally:
        proc.terminate()
        proc.wait()
    print(f"{name:16s} cold {cold:7.2f}s   re-upload {warm:7.2f}s", flush=True)
    return cold, warm


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--bytes", type=int, default=100_000_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    sentry_cli = shutil.which("sentry-cli") or str(Path(sys.executable).parent / "sentry-cli")
    work = args.dir or Path(tempfile.mkdtemp(prefix="sm-bench-"))
    fixture = work / "dist"
    if not fixture.exists():
        started = time.perf_counter()
        make_bundles(fixture, args.count, args.bytes, seed=1)
        print(f"fixture: {args.count} bundles in {time.perf_counter() - started:.1f}s")
    size = sum(p.stat().st_size for p in fixture.rglob("*") if p.is_file())
    print(f"fixture size: {size / 1e6:.1f} MB in {sum(1 for _ in fixture.rglob('*.js'))} JS files")
    # Source map paths must lie inside the working directory: point --cwd at the fixture's.
    ours_cmd = [
        *(sys.executable, "-m", "sentry_release", "upload-sourcemaps", "1.0", "dist"),
        *("--cwd", str(work)),
    ]
    cli_cmd = [sentry_cli, "sourcemaps", "upload", "--release", "1.0", "--wait", str(fixture)]
    ours, theirs = [], []
    for _ in range(args.runs):
        ours.append(run_tool("sentry-release", ours_cmd))
        theirs.append(run_tool("sentry-cli", cli_cmd))
    o_cold = statistics.median(c for c, _ in ours)
    t_cold = statistics.median(c for c, _ in theirs)
    o_warm = statistics.median(w for _, w in ours)
    t_warm = statistics.median(w for _, w in theirs)
    print(
        f"cold upload: sentry-release {o_cold:.2f}s vs sentry-cli {t_cold:.2f}s "
        f"-> ratio {o_cold / t_cold:.2f}x (target <= 0.80x)"
    )
    print(
        f"re-upload:   sentry-release {o_warm:.2f}s vs sentry-cli {t_warm:.2f}s "
        f"-> ratio {o_warm / t_warm:.2f}x"
    )


if __name__ == "__main__":
    main()
