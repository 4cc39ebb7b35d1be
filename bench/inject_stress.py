"""Concurrent injects over one build: every map must equal a single inject's, byte for byte.

    python bench/inject_stress.py [--trials 20] [--pairs 400] [--workers 8]

Each trial copies a generated build (`sourcemaps_fixture.make_bundles`), runs `--workers`
`sentry-release inject` processes on it at once, and compares every file with one
uninterrupted inject of the same build. The suite runs 3 trials
(`tests/e2e/test_sourcemaps_inject_concurrency.py`, marked slow); this script runs 20.
Exit 0 when every trial matched, 1 otherwise.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from sourcemaps_fixture import make_bundles  # noqa: E402


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under `directory` (hidden ones included: a leftover temp file is a failure)."""
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def inject(directory: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "sentry_release", "inject", "dist"],
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def trial(template: Path, expected: dict[str, bytes], work: Path, workers: int) -> list[str]:
    """Run `workers` injects at once on a copy of `template`; the differences found."""
    shutil.copytree(template, work / "dist")
    procs = [inject(work) for _ in range(workers)]
    errors = [p.communicate(timeout=600)[1].decode() for p in procs]
    failed = [e for p, e in zip(procs, errors, strict=True) if p.returncode != 0]
    got = snapshot(work / "dist")
    diffs = [
        name for name in sorted(set(got) | set(expected)) if got.get(name) != expected.get(name)
    ]
    return [f"inject failed: {e.strip()}" for e in failed] + diffs


def run(trials: int, pairs: int, workers: int, base: Path) -> int:
    template = base / "template"
    make_bundles(template, pairs, pairs * 4000, seed=7)
    single = base / "single"
    shutil.copytree(template, single / "dist")
    if inject(single).wait() != 0:
        raise SystemExit("the single inject failed")
    expected = snapshot(single / "dist")
    bad = 0
    for number in range(1, trials + 1):
        started = time.monotonic()
        diffs = trial(template, expected, base / f"trial{number}", workers)
        bad += bool(diffs)
        state = "ok" if not diffs else f"{len(diffs)} difference(s), first {diffs[0]}"
        print(
            f"trial {number}: {workers} injects over {pairs} pairs in "
            f"{time.monotonic() - started:.1f}s: {state}"
        )
    print(f"{trials - bad}/{trials} trials byte-identical to a single inject")
    return 1 if bad else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--pairs", type=int, default=400)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        return run(args.trials, args.pairs, args.workers, Path(tmp))


if __name__ == "__main__":
    sys.exit(main())
