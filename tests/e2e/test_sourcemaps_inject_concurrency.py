"""8 parallel injects over 400 pairs leave every file byte-identical to a single inject (#13.4).

Three trials here (slow); `bench/inject_stress.py` runs twenty.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import inject_stress  # noqa: E402


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_parallel_injects_equal_a_single_inject(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert inject_stress.run(trials=3, pairs=400, workers=8, base=tmp_path) == 0
    assert "3/3 trials byte-identical" in capsys.readouterr().out
