"""Step 6: the deploy gate. Pure decisions (`evaluate`, the rate test) live here;
`watch.py` polls Sentry and feeds them. Built by the deploy gate work (issue 5)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PASS = "PASS"
FAIL = "FAIL"
INCONCLUSIVE = "INCONCLUSIVE"


@dataclass(frozen=True)
class GateReport:
    """The verdict and everything that led to it."""

    verdict: str
    reason: str
    new_issues: tuple[dict[str, Any], ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
