"""Stand-in endpoints for the gate: event ingestion, issues, events and sessions queries.

Filled in by the deploy gate work (issue 5).
"""

from __future__ import annotations
