"""The action's entry point (the image's, and the Python path's on macOS and Windows).

The connection to Sentry starts opening before the action's modules load (`preconnect`: the
`url` input, else SENTRY_URL; nothing when neither is set or a proxy is configured)."""

from __future__ import annotations

import os
import sys

from sentry_release import preconnect

if __name__ == "__main__":
    url = os.environ.get("INPUT_URL") or os.environ.get("SENTRY_URL") or ""
    # `command: propose-version` (the naming step) opens no connection: it sends nothing.
    command = (os.environ.get("INPUT_COMMAND") or "run").strip().lower()
    preconnect.start([command], {**os.environ, "SENTRY_URL": url})
    import sentry_release.action

    sys.exit(sentry_release.action.main())
