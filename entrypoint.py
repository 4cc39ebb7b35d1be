"""The Docker action's entry point: the runner starts the container with this script."""

from __future__ import annotations

import sys

import sentry_release.action

if __name__ == "__main__":
    sys.exit(sentry_release.action.main())
