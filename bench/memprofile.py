"""Where our upload's peak memory goes: run `upload-sourcemaps` under tracemalloc, print the
allocations alive at the peak (sampled every 20 ms), biggest first.

    python bench/memprofile.py VERSION DIR REPORT  # SENTRY_* point at a running stand-in

Used by run.py when the peak-memory target is missed; the stand-in runs in its own process,
so only the client's memory is counted.
"""

from __future__ import annotations

import linecache
import sys
import threading
import time
import tracemalloc

SAMPLE_EVERY = 0.02
TOP = 10


def main(argv: list[str]) -> int:
    """Profile one upload; print the top allocation sites at the sampled peak."""
    from sentry_release.cli import run_cli

    version, directory, report = argv
    tracemalloc.start(1)
    best: list[object] = [0, None]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            current, _ = tracemalloc.get_traced_memory()
            if current > int(best[0]):  # type: ignore[call-overload]
                best[0], best[1] = current, tracemalloc.take_snapshot()
            time.sleep(SAMPLE_EVERY)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    code = run_cli(["upload-sourcemaps", version, directory, "--wait"])
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    _, peak = tracemalloc.get_traced_memory()
    snapshot = best[1]
    lines = [
        f"exit {code} in {elapsed:.2f} s (under tracemalloc); traced peak {peak / 1e6:.1f} MB; "
        f"alive at the sampled peak {int(best[0]) / 1e6:.1f} MB:"  # type: ignore[call-overload]
    ]
    if isinstance(snapshot, tracemalloc.Snapshot):
        for stat in snapshot.statistics("lineno")[:TOP]:
            frame = stat.traceback[0]
            where = frame.filename.split("site-packages/")[-1].split("/src/")[-1]
            where = where.split("lib/python3")[-1]
            text = linecache.getline(frame.filename, frame.lineno).strip()[:70]
            lines.append(
                f"{stat.size / 1e6:8.1f} MB {stat.count:6d} blocks  {where}:{frame.lineno}  {text}"
            )
    with open(report, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
