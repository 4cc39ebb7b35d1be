"""The local Sentry stand-in: Sentry's real paths, auth, status codes and error bodies.

Used for local try-outs (`sentry-release dev-server`, `sentry-release demo`), for debugging
workflows, and as the server of every end-to-end test.
"""

from __future__ import annotations

from sentry_standin.app import DevServer
from sentry_standin.store import Store

__all__ = ["DevServer", "Store"]
