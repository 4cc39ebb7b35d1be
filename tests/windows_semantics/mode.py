"""Running Python with Windows semantics (see sitecustomize.py here): the environment that
loads it, and a check that it took."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

HERE = Path(__file__).parent
MARK = "SENTRY_RELEASE_WINDOWS_SEMANTICS"


def windows_env(env: Mapping[str, str]) -> dict[str, str]:
    """`env` with this folder first on PYTHONPATH, so its sitecustomize runs at start-up."""
    rest = env.get("PYTHONPATH", "")
    return {**env, "PYTHONPATH": os.pathsep.join(p for p in (str(HERE), rest) if p)}
