"""The project-scoped release endpoints sentry-cli 2.x still uses.

sentry-cli 2.x (`src/api/mod.rs`) creates a single-project release with
`POST /projects/{org}/{project}/releases/`, finalizes it with `PUT .../releases/{version}/`
when one project is named, and reads, lists and deletes through the same paths. Sentry serves
them from api/endpoints/project_releases.py and project_release_details.py, guarded by
ProjectReleasePermission (api/bases/project.py).
"""

from __future__ import annotations

from typing import Any

from sentry_standin import commits as commit_area
from sentry_standin.releases import apply_update, checked_version, release_json, save_release
from sentry_standin.routing import PROJECT, HTTPError, Request, Response, paginate, route
from sentry_standin.rules import PROJECT_RELEASE_PERMISSION

RELEASE = PROJECT + r"/releases/(?P<version>[^/]+)"


def _project(request: Request) -> tuple[dict[str, Any], dict[str, Any]]:
    """Authenticate, then the org and project of the path (404), then the scopes (403)."""
    org = request.org()
    project = request.store.project(org["slug"], request.params["project"])
    if project is None:
        raise HTTPError(404)
    return org, project


def _release(request: Request) -> tuple[dict[str, Any], dict[str, Any]]:
    """The release of the path, which must belong to the path's project (404 otherwise)."""
    org, project = _project(request)
    rel = request.store.release(org["slug"], request.params["version"])
    if rel is None or project["slug"] not in rel["projects"]:
        raise HTTPError(404)
    return org, rel


@route("POST", PROJECT + "/releases/", PROJECT_RELEASE_PERMISSION)
def create_project_release(request: Request) -> Response:
    """Create a release of this project (201), or 208 when it already has it."""
    org, project = _project(request)
    body = request.json_object()
    version = checked_version(body)
    return save_release(request, org, version, [project["slug"]], body)


@route("GET", PROJECT + "/releases/", PROJECT_RELEASE_PERMISSION)
def list_project_releases(request: Request) -> Response:
    """The project's releases, newest first."""
    org, project = _project(request)
    items = [
        r for r in request.store.releases(org["slug"]).values() if project["slug"] in r["projects"]
    ]
    items.sort(key=lambda r: (r["dateCreated"], int(r["id"])), reverse=True)
    return paginate(request, [release_json(request.store, org["slug"], r) for r in items])


@route("GET", RELEASE + "/", PROJECT_RELEASE_PERMISSION)
def get_project_release(request: Request) -> Response:
    """One release of the project."""
    org, rel = _release(request)
    commit_area.settle(request.store, org["slug"], rel)
    return Response(200, release_json(request.store, org["slug"], rel))


@route("PUT", RELEASE + "/", PROJECT_RELEASE_PERMISSION)
def update_project_release(request: Request) -> Response:
    """Finalize or update a release of the project."""
    org, rel = _release(request)
    return Response(200, apply_update(request, org["slug"], rel))


@route("DELETE", RELEASE + "/", PROJECT_RELEASE_PERMISSION)
def delete_project_release(request: Request) -> Response:
    """Delete a release of the project."""
    org, rel = _release(request)
    del request.store.releases(org["slug"])[rel["version"]]
    return Response(204, None)


@route("GET", RELEASE + "/commits/", PROJECT_RELEASE_PERMISSION)
def list_project_release_commits(request: Request) -> Response:
    """The release's commits (project_release_commits.py)."""
    org, rel = _release(request)
    commit_area.settle(request.store, org["slug"], rel)
    return paginate(
        request,
        [commit_area.commit_json(request.store, org["slug"], c) for c in rel.get("commits", [])],
    )
