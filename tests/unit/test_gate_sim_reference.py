"""Frozen reference values of `bench/gate_sim.py`: a few runs of the real gate against the
simulated Sentry on a simulated clock, seeded. A change to the gate's loop, reads or
statistics that changes a verdict or a decision time shows here; then re-run the full
simulation (bench/README.md) and update these values with it."""

from __future__ import annotations

import functools
import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).parents[2] / "bench" / "gate_sim.py"


@functools.cache
def gate_sim() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gate_sim", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gate_sim", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("3x, mild noise", [("FAIL", 243.1), ("FAIL", 223.3), ("FAIL", 170.2)]),
        ("boundary 1.5x, CV 0.5", [("INCONCLUSIVE", 1039.1)]),
        ("fatal new issue", [("FAIL", 4.8), ("FAIL", 11.9)]),
        # the end's exact look (after the late updates' wait) and one FAIL while watching
        ("5x, 20/min", [("FAIL", 1012.8), ("FAIL", 1022.0), ("FAIL", 591.9)]),
    ],
)
def test_seeded_runs_give_the_frozen_verdicts_and_times(
    cell: str, expected: list[tuple[str, float]]
) -> None:
    sim = gate_sim()
    rng = random.Random(f"22-{cell}")
    got = [sim.run_once(sim.CELLS[cell], rng) for _ in expected]
    assert [(o.verdict, round(o.at, 1)) for o in got] == expected


def test_the_bench_stand_in_imports() -> None:
    # bench/standin.py is run by hand (bench/run.py, next_release.py): a moved name in the
    # stand-in once kept it from starting, unnoticed by the suite
    spec = importlib.util.spec_from_file_location("bench_standin", BENCH.parent / "standin.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert callable(module.counters)
