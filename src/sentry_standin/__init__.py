"""The local Sentry stand-in: Sentry's real paths, auth, scopes, status codes and error bodies,
strict by default (`rules.py` cites the Sentry file behind each rule; `options.py` holds the
opt-in lenient flags and modes).

Used for local try-outs (`sentry-release dev-server`, `sentry-release demo`,
`python -m sentry_standin`), for debugging workflows, and as the server of every end-to-end
test. It imports nothing of `sentry_release`.
"""

from __future__ import annotations

from sentry_standin.app import DevServer
from sentry_standin.options import LENIENT_FLAGS, MODES, STRICT, Options
from sentry_standin.store import Store

__all__ = ["LENIENT_FLAGS", "MODES", "STRICT", "DevServer", "Options", "Store"]
