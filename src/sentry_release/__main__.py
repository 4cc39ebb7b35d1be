"""The `sentry-release` command (and `python -m sentry_release`): start opening the
connection to Sentry (`preconnect`, standard library only), then load and run the CLI, so the
TCP handshake overlaps the imports instead of following them."""

from __future__ import annotations

import os
import sys

from sentry_release import preconnect


def main() -> None:
    """Entry point of the console script."""
    preconnect.start(sys.argv[1:], os.environ)
    from sentry_release.cli import main as run

    run()


if __name__ == "__main__":
    main()
