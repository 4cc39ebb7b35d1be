"""Which projects a request reads: Sentry's `project=` parameter rules, shared by every
organization-level read (releases, deploys, issues, events, sessions)."""

from __future__ import annotations

from typing import Any

from sentry_standin import rules
from sentry_standin.routing import HTTPError, Request


def requested_projects(request: Request, org: str) -> list[dict[str, Any]]:
    """The projects a `project=` query selects, as api/bases/organization.py `get_projects`:

    - every value must be a number (`get_requested_project_ids_unchecked`: 400 otherwise);
      the `project-slugs` lenient flag also accepts slugs;
    - `-1` (ALL_ACCESS_PROJECT_ID) means every project the token can access;
    - no value means the projects the token is a member of (every project here);
    - a named project that does not exist, or that the token cannot access, is a 403
      (`_validate_fetched_projects` raises PermissionDenied).
    """
    values = [v for v in request.args("project") if v != ""]
    record = request.store.org(org) or {"projects": {}}
    everything = [dict(p) for p in record["projects"].values()]
    if not values:
        return everything
    ids = rules.parse_project_ids(values)
    if ids is None:
        if not request.options.lenient_on("project-slugs"):
            raise HTTPError(400, {"detail": rules.INVALID_PROJECT_PARAMETER})
        found = [request.store.project(org, v) for v in values]
        if any(p is None for p in found):
            raise HTTPError(403, {"detail": rules.FORBIDDEN})
        return [p for p in found if p is not None]
    if rules.ALL_ACCESS_PROJECT_ID in ids:
        return everything
    chosen = [p for p in everything if int(p["id"]) in ids]
    if len(chosen) != len(ids):
        raise HTTPError(403, {"detail": rules.FORBIDDEN})
    return chosen


def project_slugs(request: Request, org: str) -> set[str] | None:
    """Slugs of `requested_projects`, or None when no `project=` was given (all of them)."""
    chosen = requested_projects(request, org)
    return {p["slug"] for p in chosen} if request.args("project") else None


def single_project_unless_global_views(
    request: Request, org: str, projects: list[dict[str, Any]], message: str
) -> None:
    """400 for a query over more than one project without the `global-views` feature
    (api/endpoints/organization_group_index.py, api/bases/organization_events.py)."""
    has_feature = rules.GLOBAL_VIEWS in request.options.features or request.store.has_feature(
        org, rules.GLOBAL_VIEWS
    )
    if len(projects) > 1 and not has_feature:
        raise HTTPError(400, {"detail": message})
