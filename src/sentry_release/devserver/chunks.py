"""Stand-in endpoints for source maps: chunk upload, artifact bundle assemble, release files.

Filled in by the source maps work (issue 4).
"""

from __future__ import annotations
