"""``python -m sentry_release`` runs the CLI."""

from __future__ import annotations

from sentry_release.cli import main

if __name__ == "__main__":
    main()
