"""Stand-in endpoints: API root, organizations, releases, previous-with-commits, deploys."""

from __future__ import annotations

from typing import Any

from sentry_standin import access, rules
from sentry_standin import commits as commit_area
from sentry_standin.routing import (
    ORG,
    HTTPError,
    Request,
    Response,
    bad_request,
    paginate,
    route,
)
from sentry_standin.rules import ORGANIZATION_PERMISSION, ORGANIZATION_RELEASE_PERMISSION
from sentry_standin.store import Store, now_iso, parse_iso, to_iso

RELEASE = ORG + r"/releases/(?P<version>[^/]+)"


def checked_version(body: dict[str, Any]) -> str:
    """The body's `version`, trimmed as DRF's CharField does, or a 400 as Sentry answers
    (api/serializers/rest_framework/release.py ReleaseWithVersionSerializer.validate_version,
    models/release.py Release.is_valid_version)."""
    version = body.get("version")
    if version is None or (isinstance(version, str) and not version.strip()):
        raise bad_request("version", "This field is required.")
    if not isinstance(version, str):
        raise bad_request("version", "Not a valid string.")
    version = version.strip()
    if len(version) > rules.MAX_VERSION_LENGTH:
        raise bad_request(
            "version", f"Ensure this field has no more than {rules.MAX_VERSION_LENGTH} characters."
        )
    if not rules.is_valid_version(version):
        raise bad_request("version", f"Release with name {version} is not allowed")
    return version


def _date(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise bad_request(key, "Datetime has wrong format.")
    try:
        return to_iso(parse_iso(value))
    except ValueError:
        raise bad_request(
            key,
            "Datetime has wrong format. Use one of these formats instead: "
            "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].",
        ) from None


def release_json(store: Store, org: str, rel: dict[str, Any]) -> dict[str, Any]:
    """A release as Sentry serialises it."""
    projects = [store.project(org, slug) for slug in rel["projects"]]
    deploys = rel.get("deploys", [])
    return {
        "id": int(rel["id"]),
        "version": rel["version"],
        "shortVersion": rel["version"],
        "status": rel.get("status") or "open",  # api/serializers/models/release.py
        "versionInfo": {  # sentry_relay's parse_release, for a version without package@
            "package": None,
            "version": {"raw": rel["version"]},
            "description": rel["version"],
            "buildHash": None,
        },
        "ref": rel.get("ref"),
        "url": rel.get("url"),
        "dateCreated": rel["dateCreated"],
        "dateReleased": rel.get("dateReleased"),
        "data": {},
        "newGroups": rel.get("newGroups", 0),
        "owner": None,
        "commitCount": len(rel.get("commits", [])),  # stale while refs resolve (commits.py)
        "lastCommit": rel.get("lastCommit"),
        "deployCount": len(deploys),
        "lastDeploy": deploys[-1] if deploys else None,
        "authors": [],
        "projects": [
            {
                "id": int(p["id"]),
                "slug": p["slug"],
                "name": p["name"],
                "newGroups": 0,
                "platform": p["platform"],
                "platforms": [p["platform"]],
                "hasHealthData": False,
            }
            for p in projects
            if p
        ],
        "firstEvent": rel.get("firstEvent"),
        "lastEvent": rel.get("lastEvent"),
        "currentProjectMeta": {},
        "userAgent": rel.get("userAgent"),
    }


@route("GET", r"/api/0/")
def api_root(request: Request) -> Response:
    """What sentry-cli `info` asks: who am I, with which scopes (api/endpoints/index.py)."""
    request.authenticate()
    return Response(200, {"version": "0", "auth": {"scopes": request.scopes}, "user": None})


@route("GET", ORG + "/", ORGANIZATION_PERMISSION)
def get_org(request: Request) -> Response:
    """The organization."""
    org = request.org()
    return Response(200, {"id": org["id"], "slug": org["slug"], "name": org["name"]})


@route("GET", ORG + "/projects/", ORGANIZATION_PERMISSION)
def list_projects(request: Request) -> Response:
    """Projects of the org."""
    org = request.org()
    items = [
        {"id": p["id"], "slug": p["slug"], "name": p["name"], "platform": p["platform"]}
        for p in org["projects"].values()
    ]
    return paginate(request, items)


@route("POST", ORG + "/releases/", ORGANIZATION_RELEASE_PERMISSION)
def create_release(request: Request) -> Response:
    """201 created, 208 already there with nothing new, 400 on validation errors
    (api/endpoints/organization_releases.py)."""
    org = request.org()
    body = request.json_object()
    version = checked_version(body)
    slugs = body.get("projects")
    if not slugs or not isinstance(slugs, list):
        raise bad_request("projects", "This field is required.")
    projects = [request.store.project(org["slug"], str(s)) for s in slugs]
    if any(p is None for p in projects):
        # api/endpoints/organization_releases.py (23.7.1 and today)
        raise HTTPError(400, {"projects": ["Invalid project slugs"]})
    return save_release(request, org, version, [p["slug"] for p in projects if p], body)


def save_release(
    request: Request, org: dict[str, Any], version: str, slugs: list[str], body: dict[str, Any]
) -> Response:
    """Create the release or add projects to it (201), or report it unchanged (208)."""
    store = request.store
    rel = store.release(org["slug"], version)
    status = 201
    if rel is None:
        rel = {
            "id": str(store.next_id()),
            "version": version,
            "projects": slugs,
            "dateCreated": now_iso(request.store),
            "dateReleased": _date(body, "dateReleased"),
            "dateStarted": _date(body, "dateStarted"),
            "url": body.get("url"),
            "ref": body.get("ref"),
            "commits": [],
            "lastCommit": None,
            "deploys": [],
            "userAgent": request.header("user-agent"),
        }
        store.releases(org["slug"])[version] = rel
    else:
        new = [s for s in slugs if s not in rel["projects"]]
        rel["projects"].extend(new)
        status = 201 if new else 208
    if body.get("refs"):
        commit_area.apply_refs(request, org["slug"], rel, body["refs"])
    if body.get("commits"):
        commit_area.apply_commits(request, org["slug"], rel, body["commits"])
    return Response(status, release_json(store, org["slug"], rel))


@route("GET", ORG + "/releases/", ORGANIZATION_RELEASE_PERMISSION)
def list_releases(request: Request) -> Response:
    """Releases, newest first, of the requested projects (numeric ids) and matching `query`."""
    org = request.org()
    items = list(request.store.releases(org["slug"]).values())
    slugs = access.project_slugs(request, org["slug"])
    if slugs is not None:
        items = [r for r in items if slugs & set(r["projects"])]
    query = request.arg("query")
    if query:
        items = [r for r in items if query in r["version"]]
    items.sort(key=lambda r: (r["dateCreated"], int(r["id"])), reverse=True)
    return paginate(request, [release_json(request.store, org["slug"], r) for r in items])


@route("GET", RELEASE + "/", ORGANIZATION_RELEASE_PERMISSION)
def get_release(request: Request) -> Response:
    """One release."""
    rel = request.release()
    commit_area.settle(request.store, request.params["org"], rel)
    return Response(200, release_json(request.store, request.params["org"], rel))


@route("PUT", RELEASE + "/", ORGANIZATION_RELEASE_PERMISSION)
def update_release(request: Request) -> Response:
    """dateReleased (finalize), url, ref, refs or commits (organization_release_details.py)."""
    rel = request.release()
    return Response(200, apply_update(request, request.params["org"], rel))


def apply_update(request: Request, org: str, rel: dict[str, Any]) -> dict[str, Any]:
    """Apply a release PUT body; the release as Sentry answers it."""
    body = request.json_object()
    for key in ("dateReleased", "dateStarted"):
        if key in body:
            rel[key] = _date(body, key)
    for key in ("url", "ref"):
        if key in body:
            rel[key] = body[key]
    if body.get("refs"):
        commit_area.apply_refs(request, org, rel, body["refs"])
    if body.get("commits"):
        commit_area.apply_commits(request, org, rel, body["commits"])
    return release_json(request.store, org, rel)


@route("DELETE", RELEASE + "/", ORGANIZATION_RELEASE_PERMISSION)
def delete_release(request: Request) -> Response:
    """Delete a release (sentry-cli `releases delete`)."""
    request.release()
    del request.store.releases(request.params["org"])[request.params["version"]]
    return Response(204, None)


@route("GET", RELEASE + "/previous-with-commits/", ORGANIZATION_RELEASE_PERMISSION)
def previous_with_commits(request: Request) -> Response:
    """The newest release created before this one, sharing a project, that has commits
    (organization_release_previous_commits.py); older self-hosted has no such endpoint."""
    if request.options.mode_on("no-previous-with-commits"):
        request.authenticate()
        raise HTTPError(404)
    rel = request.release()
    org = request.params["org"]
    for other in request.store.releases(org).values():
        commit_area.settle(request.store, org, other)
    candidates = [
        r
        for r in request.store.releases(org).values()
        if r is not rel
        and r.get("lastCommit")
        and set(r["projects"]) & set(rel["projects"])
        and (r["dateCreated"], int(r["id"])) < (rel["dateCreated"], int(rel["id"]))
    ]
    if not candidates:
        return Response(200, {})
    best = max(candidates, key=lambda r: (r["dateCreated"], int(r["id"])))
    return Response(200, release_json(request.store, org, best))


def _deploy_projects(request: Request, org: str, rel: dict[str, Any], value: Any) -> list[str]:
    """The deploy body's `projects`, validated as release_deploys.py DeploySerializer does."""
    if not isinstance(value, list) or not value:
        raise bad_request("projects", "This list may not be empty.")
    lenient = request.options.lenient_on("deploy-projects")
    slugs = []
    for item in value:
        project = request.store.project(org, str(item))
        if project is None:
            raise bad_request("projects", "Invalid project")
        if not lenient and not request.has_scope(*rules.DEPLOY_PROJECT_SCOPES):
            raise bad_request("projects", rules.INSUFFICIENT_PROJECT_ACCESS)
        slugs.append(project["slug"])
    invalid = sorted(set(slugs) - set(rel["projects"]))
    if invalid:
        raise HTTPError(
            400,
            {"detail": f"Invalid projects ({', '.join(invalid)}) for release {rel['version']}"},
        )
    return slugs


@route("POST", RELEASE + "/deploys/", ORGANIZATION_RELEASE_PERMISSION)
def create_deploy(request: Request) -> Response:
    """Record a deploy; environment required and validated as Sentry does (release_deploys.py);
    unknown keys are ignored, as DRF serializers do."""
    rel = request.release()
    body = request.json_object()
    org = request.params["org"]
    environment = body.get("environment")
    if environment is None or (isinstance(environment, str) and not environment.strip()):
        raise bad_request("environment", "This field is required.")
    if not isinstance(environment, str):
        raise bad_request("environment", "Not a valid string.")
    if len(environment) > rules.MAX_ENVIRONMENT_LENGTH:
        raise bad_request(
            "environment",
            f"Ensure this field has no more than {rules.MAX_ENVIRONMENT_LENGTH} characters.",
        )
    if not rules.is_valid_environment(environment):
        raise bad_request("environment", "Invalid value for environment")
    name = body.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > 64):
        raise bad_request("name", "Ensure this field has no more than 64 characters.")
    url = body.get("url")
    if url not in (None, "") and not (isinstance(url, str) and "://" in url):
        raise bad_request("url", "Enter a valid URL.")
    projects = (
        _deploy_projects(request, org, rel, body["projects"])
        if "projects" in body
        else list(rel["projects"])
    )
    deploy = {
        "id": str(request.store.next_id()),
        "environment": environment,
        "name": name or None,
        "url": url or None,
        "dateStarted": _date(body, "dateStarted"),
        "dateFinished": _date(body, "dateFinished") or now_iso(request.store),
    }
    rel["deploys"].append(deploy)
    # ReleaseProjectEnvironment.last_deploy_id: what the deploy listing reads.
    latest = rel.setdefault("lastDeploys", {})
    for slug in projects:
        latest[f"{slug}/{environment}"] = deploy["id"]
    return Response(201, deploy)


@route("GET", RELEASE + "/deploys/", ORGANIZATION_RELEASE_PERMISSION)
def list_deploys(request: Request) -> Response:
    """The latest deploy per project and environment of the requested projects, newest first
    (release_deploys.py reads ReleaseProjectEnvironment.last_deploy_id, not every deploy)."""
    rel = request.release()
    slugs = access.project_slugs(request, request.params["org"])
    latest = rel.get("lastDeploys")
    if latest is None or request.options.lenient_on("all-deploys-listed"):
        ids = {d["id"] for d in rel["deploys"]}
    else:
        ids = {
            deploy_id
            for key, deploy_id in latest.items()
            if slugs is None or key.split("/", 1)[0] in slugs
        }
    items = [d for d in rel["deploys"] if d["id"] in ids]
    items.sort(key=lambda d: (d["dateFinished"], int(d["id"])), reverse=True)
    return paginate(request, items)
