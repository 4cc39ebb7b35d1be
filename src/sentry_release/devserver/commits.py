"""Stand-in endpoints for commits: repos, refs and commits on a release, reading them back.

Filled in by the set-commits work (issue 3); until then refs/commits are refused loudly.
"""

from __future__ import annotations

from typing import Any

from sentry_release.devserver.app import HTTPError, Request


def apply_refs(request: Request, org: str, release: dict[str, Any], refs: Any) -> None:
    """Integration mode: resolve each ref pair against a known repository."""
    raise HTTPError(400, {"refs": ["not implemented by the stand-in yet"]})


def apply_commits(request: Request, org: str, release: dict[str, Any], commits: Any) -> None:
    """Local mode: store the commits as sent."""
    raise HTTPError(400, {"commits": ["not implemented by the stand-in yet"]})


def add_repo(store: Any, org: str, name: str, url: str) -> dict[str, Any]:
    """Register a repository as if Sentry's GitHub integration had it."""
    raise NotImplementedError("repos are built by issue 3")
