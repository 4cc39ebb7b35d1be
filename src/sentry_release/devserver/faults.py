"""Deterministic fault injection for the stand-in (`dev-server --faults SPEC`).

Built by the reliability work (issue 7). `FaultPlan.before` may answer or drop a request
before it is handled (returns True when it did); `after` may replace or cut the response.
"""

from __future__ import annotations

from typing import Any


class FaultPlan:
    """A parsed fault spec; the default plan injects nothing."""

    @classmethod
    def parse(cls, spec: str) -> FaultPlan:
        """Parse a fault spec."""
        raise NotImplementedError("fault injection is built by issue 7")

    def before(self, handler: Any, method: str, path: str, body: bytes) -> bool:
        """Inject a fault before handling; True when the request was consumed."""
        return False

    def after(self, handler: Any, method: str, path: str, response: Any) -> bool:
        """Inject a fault after handling; True when the response was consumed."""
        return False
