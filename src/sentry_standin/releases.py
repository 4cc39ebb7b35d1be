"""Stand-in endpoints: API root, organizations, releases, previous-with-commits, deploys."""

from __future__ import annotations

from typing import Any

from sentry_release.version import BAD_CHARS, MAX_LENGTH, RESERVED
from sentry_standin import commits as commit_area
from sentry_standin.app import (
    HTTPError,
    Request,
    Response,
    bad_request,
    paginate,
    route,
)
from sentry_standin.store import Store, now_iso, parse_iso, to_iso

ORG = r"/api/0/organizations/(?P<org>[^/]+)"
RELEASE = ORG + r"/releases/(?P<version>[^/]+)"
MAX_ENV_LENGTH = 64


def valid_version(version: object) -> bool:
    """Sentry's release name rules."""
    return (
        isinstance(version, str)
        and bool(version.strip())
        and version == version.strip()
        and version not in RESERVED
        and len(version) <= MAX_LENGTH
        and not any(c in version for c in BAD_CHARS)
    )


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
        "versionInfo": None,
        "ref": rel.get("ref"),
        "url": rel.get("url"),
        "dateCreated": rel["dateCreated"],
        "dateReleased": rel.get("dateReleased"),
        "dateStarted": rel.get("dateStarted"),
        "data": {},
        "newGroups": rel.get("newGroups", 0),
        "owner": None,
        "commitCount": len(rel.get("commits", [])),
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
    """What sentry-cli `info` asks: who am I."""
    request.authenticate()
    return Response(
        200, {"version": "0", "auth": {"scopes": ["org:ci", "project:releases"]}, "user": None}
    )


@route("GET", ORG + "/")
def get_org(request: Request) -> Response:
    """The organization."""
    org = request.org()
    return Response(200, {"id": org["id"], "slug": org["slug"], "name": org["name"]})


@route("GET", ORG + "/projects/")
def list_projects(request: Request) -> Response:
    """Projects of the org."""
    org = request.org()
    items = [
        {"id": p["id"], "slug": p["slug"], "name": p["name"], "platform": p["platform"]}
        for p in org["projects"].values()
    ]
    return paginate(request, items)


@route("POST", ORG + "/releases/")
def create_release(request: Request) -> Response:
    """201 created, 208 already there with nothing new, 400 on validation errors."""
    org = request.org()
    body = request.json_object()
    version = body.get("version")
    if version in (None, ""):
        raise bad_request("version", "This field is required.")
    if not valid_version(version):
        raise bad_request("version", f"Release with name {version} is not allowed")
    slugs = body.get("projects")
    if not slugs or not isinstance(slugs, list):
        raise bad_request("projects", "This field is required.")
    projects = [request.store.project(org["slug"], str(s)) for s in slugs]
    if any(p is None for p in projects):
        raise HTTPError(400, {"projects": ["Invalid projects"]})
    slugs = [p["slug"] for p in projects if p]
    store = request.store
    rel = store.release(org["slug"], version)
    status = 201
    if rel is None:
        rel = {
            "id": str(store.next_id()),
            "version": version,
            "projects": slugs,
            "dateCreated": now_iso(),
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


@route("GET", ORG + "/releases/")
def list_releases(request: Request) -> Response:
    """Releases, newest first, optionally of one project and matching `query`."""
    org = request.org()
    items = list(request.store.releases(org["slug"]).values())
    wanted = request.args("project")
    if wanted:
        slugs = {p["slug"] for w in wanted if (p := request.store.project(org["slug"], w))}
        items = [r for r in items if slugs & set(r["projects"])]
    query = request.arg("query")
    if query:
        items = [r for r in items if query in r["version"]]
    items.sort(key=lambda r: (r["dateCreated"], int(r["id"])), reverse=True)
    return paginate(request, [release_json(request.store, org["slug"], r) for r in items])


@route("GET", RELEASE + "/")
def get_release(request: Request) -> Response:
    """One release."""
    rel = request.release()
    return Response(200, release_json(request.store, request.params["org"], rel))


@route("PUT", RELEASE + "/")
def update_release(request: Request) -> Response:
    """dateReleased (finalize), url, ref, refs or commits."""
    rel = request.release()
    body = request.json_object()
    org = request.params["org"]
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
    return Response(200, release_json(request.store, org, rel))


@route("DELETE", RELEASE + "/")
def delete_release(request: Request) -> Response:
    """Delete a release (sentry-cli `releases delete`)."""
    request.release()
    del request.store.releases(request.params["org"])[request.params["version"]]
    return Response(204, None)


@route("GET", RELEASE + "/previous-with-commits/")
def previous_with_commits(request: Request) -> Response:
    """The newest release created before this one, sharing a project, that has commits."""
    rel = request.release()
    org = request.params["org"]
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


def _valid_environment(name: object) -> bool:
    return (
        isinstance(name, str)
        and 0 < len(name) <= MAX_ENV_LENGTH
        and name.strip() == name
        and not any(c in name for c in ("/", "\n", "\r", "\t", "\x0c"))
    )


@route("POST", RELEASE + "/deploys/")
def create_deploy(request: Request) -> Response:
    """Record a deploy; environment required and validated as Sentry does."""
    rel = request.release()
    body = request.json_object()
    environment = body.get("environment")
    if environment in (None, ""):
        raise bad_request("environment", "This field is required.")
    if not _valid_environment(environment):
        raise bad_request("environment", "Invalid value for environment")
    url = body.get("url")
    if url not in (None, "") and not (isinstance(url, str) and "://" in url):
        raise bad_request("url", "Enter a valid URL.")
    deploy = {
        "id": str(request.store.next_id()),
        "environment": environment,
        "name": body.get("name") or None,
        "url": url or None,
        "dateStarted": _date(body, "dateStarted"),
        "dateFinished": _date(body, "dateFinished") or now_iso(),
    }
    rel["deploys"].append(deploy)
    return Response(201, deploy)


@route("GET", RELEASE + "/deploys/")
def list_deploys(request: Request) -> Response:
    """Deploys of a release, newest first."""
    rel = request.release()
    items = sorted(rel["deploys"], key=lambda d: (d["dateFinished"], int(d["id"])), reverse=True)
    return paginate(request, items)
