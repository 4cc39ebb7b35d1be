"""Which token scopes each step needs, from Sentry's permission classes.

A request is allowed when the token holds ANY scope of the endpoint's set for that method
(`has_object_permission` in `src/sentry/api/bases/organization.py`). Organization auth tokens
(`sntrys_`) carry `org:ci` only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# OrganizationReleasePermission (POST/PUT): releases, commits, deploys, chunk upload, assemble.
RELEASE_WRITE = frozenset({"org:ci", "project:releases", "project:write", "project:admin"})
# OrganizationReleasePermission (GET): reading releases and deploys.
RELEASE_READ = RELEASE_WRITE | {"project:read"}
# OrganizationIntegrationsLoosePermission (GET): the repositories list (set-commits auto).
REPO_READ = frozenset({"org:ci", "org:read", "org:write", "org:admin", "org:integrations"})
# OrganizationPermission (GET): the organization, its projects, events, events-stats, sessions,
# stats_v2 (the events endpoints have no class of their own: `api/bases/organization_events.py`).
ORG_READ = frozenset({"org:read", "org:write", "org:admin"})
# OrganizationEventPermission (GET): issues and an issue's events.
EVENT_READ = frozenset({"event:read", "event:write", "event:admin"})


@dataclass(frozen=True)
class Need:
    """One permission a step needs: a name for people and the scopes that grant it."""

    what: str
    scopes: frozenset[str]

    def granted_by(self, held: Iterable[str]) -> bool:
        """Whether any held scope grants it."""
        return bool(self.scopes & set(held))

    def spelled(self) -> str:
        """`org:ci or project:releases` (the usual scopes first)."""
        order = ["org:ci", "project:releases", "event:read", "org:read", "project:write"]
        ranked = sorted(self.scopes, key=lambda s: (order.index(s) if s in order else 99, s))
        return " or ".join(ranked[:3])


RELEASES = Need("create and finalize releases", RELEASE_WRITE)
COMMITS = Need("associate commits", RELEASE_WRITE)
REPOS = Need("list integration repositories (set-commits auto)", REPO_READ)
UPLOAD = Need("upload source maps", RELEASE_WRITE)
DEPLOY = Need("record deploys", RELEASE_WRITE)
GATE_ISSUES = Need("read issues (gate)", EVENT_READ)
GATE_SESSIONS = Need("read events, sessions and outcomes (gate)", ORG_READ)
PROJECTS = Need("read the projects (ids for the gate)", ORG_READ)
