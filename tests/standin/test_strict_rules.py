"""One test per rule of real Sentry the stand-in enforces by default, each naming the Sentry
file (getsentry/sentry `src/sentry/...`) the rule comes from, and the lenient flag or mode
that relaxes it where there is one."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any

import pytest

from sentry_standin import Options
from sentry_standin.commits import add_repo
from sentry_standin.errors import StandinConfigError
from sentry_standin.store import DEFAULT_TOKEN, parse_token
from tests.standin.conftest import (
    DEPLOYER,
    FULL,
    NOTHING,
    ORG_TOKEN,
    READ,
    RELEASES_ONLY,
    Api,
    StandinFactory,
)

FORBIDDEN = {"detail": "You do not have permission to perform this action."}
NUMBERS = {"detail": "Invalid project parameter. Values must be numbers."}


def new_release(api: Api, version: str = "1.0", projects: tuple[str, ...] = ("web",)) -> None:
    response = api.post("/releases/", {"version": version, "projects": list(projects)})
    assert response.status_code == 201, response.text


# --- scopes: api/bases/organization.py permission classes ----------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/releases/", {"version": "2.0", "projects": ["web"]}),
        ("GET", "/releases/", None),
        ("GET", "/releases/1.0/", None),
        ("PUT", "/releases/1.0/", {"dateReleased": "2024-01-01T00:00:00Z"}),
        ("GET", "/releases/1.0/previous-with-commits/", None),
        ("POST", "/releases/1.0/deploys/", {"environment": "production"}),
        ("GET", "/releases/1.0/deploys/", None),
        ("GET", "/releases/1.0/commits/", None),
        ("GET", "/chunk-upload/", None),
        ("GET", "/repos/", None),  # OrganizationIntegrationsLoosePermission
    ],
)
def test_an_org_ci_token_can_do_the_release_steps(
    api: Api, method: str, path: str, body: Any
) -> None:
    """OrganizationReleasePermission lists org:ci for GET/POST/PUT (api/bases/organization.py)."""
    new_release(api)
    response = api.call(method, path, token=ORG_TOKEN, body=body)
    assert response.status_code < 300, response.text


@pytest.mark.parametrize(
    "path",
    [
        "/api/0/organizations/acme/",
        "/api/0/organizations/acme/projects/",
        "/issues/",
        "/events/?field=count()",
        "/sessions/",
    ],
)
def test_an_org_ci_token_cannot_read_projects_issues_events_or_sessions(
    api: Api, path: str
) -> None:
    """OrganizationPermission wants org:read; OrganizationEventPermission event:read."""
    response = api.get(path, token=ORG_TOKEN)
    assert response.status_code == 403
    assert response.json() == FORBIDDEN


def test_a_token_without_release_scopes_is_refused_after_the_org_is_found(api: Api) -> None:
    """convert_args looks the org up (404) before check_object_permissions (403)."""
    assert api.get("/releases/", token=NOTHING).status_code == 403
    unknown = api.call("GET", "/api/0/organizations/nope/releases/", token=NOTHING)
    assert unknown.status_code == 404


def test_a_release_scope_token_cannot_delete_without_project_releases(api: Api) -> None:
    """DELETE lists project:admin and project:releases only: org:ci cannot delete."""
    new_release(api)
    assert api.call("DELETE", "/releases/1.0/", token=ORG_TOKEN).status_code == 403
    assert api.call("DELETE", "/releases/1.0/", token=RELEASES_ONLY).status_code == 204


def test_api_root_reports_the_token_scopes(api: Api) -> None:
    """api/endpoints/index.py answers the token's scopes (what `sentry-cli info` prints)."""
    assert api.get("/", token=ORG_TOKEN).json()["auth"]["scopes"] == ["org:ci"]
    assert api.get("/", token=READ).json()["auth"]["scopes"] == [
        "event:read",
        "org:read",
        "project:read",
    ]


def test_token_specs_give_scopes_and_org_tokens_carry_org_ci_only() -> None:
    """Organization auth tokens are created with org:ci only (models/orgauthtoken.py)."""
    assert parse_token("sntrys_abc") == ("sntrys_abc", ["org:ci"])
    assert parse_token("ci=org:ci,project:read") == ("ci", ["org:ci", "project:read"])
    assert "event:read" in parse_token(DEFAULT_TOKEN)[1]  # the demo's dev token: everything
    with pytest.raises(StandinConfigError, match="unknown scope 'org:everything'"):
        parse_token("x=org:everything")


# --- project ids: api/bases/organization.py get_requested_project_ids_unchecked ----------------


@pytest.mark.parametrize(
    ("path", "token"),
    [
        ("/releases/", ORG_TOKEN),
        ("/releases/1.0/deploys/", ORG_TOKEN),
        ("/issues/", READ),
        ("/events/?field=count()", READ),
        ("/sessions/?field=sum(session)", READ),  # without a field: 400 (sessions_v2.py)
    ],
)
def test_project_slugs_in_project_param_are_a_400(api: Api, path: str, token: str) -> None:
    new_release(api)
    sep = "&" if "?" in path else "?"
    response = api.get(f"{path}{sep}project=web", token=token)
    assert response.status_code == 400
    assert response.json() == NUMBERS
    numeric = api.get(f"{path}{sep}project={api.project_id('web')}", token=token)
    assert numeric.status_code == 200, numeric.text
    everything = api.get(f"{path}{sep}project=-1", token=token)
    assert everything.status_code in (200, 400)  # -1 is every project (global-views below)


def test_project_slugs_pass_with_the_lenient_flag(standin: StandinFactory) -> None:
    api = standin(Options(lenient=frozenset({"project-slugs"})))
    new_release(api)
    assert [r["version"] for r in api.get("/releases/?project=web").json()] == ["1.0"]
    assert api.get("/releases/?project=api").json() == []


def test_an_unknown_project_id_is_a_403(api: Api) -> None:
    """_validate_fetched_projects raises PermissionDenied when an id is not accessible."""
    assert api.get("/releases/?project=999999").status_code == 403


def test_releases_filter_by_numeric_project_id(api: Api) -> None:
    new_release(api, "1.0", ("web",))
    new_release(api, "2.0", ("api",))
    listed = api.get(f"/releases/?project={api.project_id('api')}", token=ORG_TOKEN).json()
    assert [r["version"] for r in listed] == ["2.0"]
    assert {r["version"] for r in api.get("/releases/?project=-1").json()} == {"1.0", "2.0"}


# --- global-views: organization_group_index.py, bases/organization_events.py ---------------


def test_issues_over_two_projects_need_global_views(api: Api) -> None:
    both = f"project={api.project_id('web')}&project={api.project_id('api')}"
    issues = api.get(f"/issues/?{both}", token=READ)
    assert issues.status_code == 400
    assert issues.json() == {"detail": "You do not have the multi project stream feature enabled"}
    events = api.get(f"/events/?field=count()&{both}", token=READ)
    assert events.status_code == 400
    assert events.json() == {"detail": "You cannot view events from multiple projects."}
    # No project means "my projects": two of them here, so refused as well.
    assert api.get("/issues/", token=READ).status_code == 400
    one = api.get(f"/issues/?project={api.project_id('web')}", token=READ)
    assert one.status_code == 200


def test_global_views_is_an_org_option(standin: StandinFactory) -> None:
    api = standin(features=("global-views",))
    both = f"project={api.project_id('web')}&project={api.project_id('api')}"
    assert api.get(f"/issues/?{both}", token=READ).status_code == 200
    assert api.get("/events/?field=count()&project=-1", token=READ).status_code == 200


# --- deploys: api/endpoints/release_deploys.py ----------------------------------------------


def test_deploy_projects_need_project_read(api: Api) -> None:
    """DeploySerializer.projects = ListField(child=ProjectField(scope="project:read")):
    an org:ci token gets the 400 sentry-cli users met (getsentry/sentry-cli#1939, #2163)."""
    new_release(api)
    body = {"environment": "production", "projects": ["web"]}
    refused = api.post("/releases/1.0/deploys/", body, token=ORG_TOKEN)
    assert refused.status_code == 400
    assert refused.json() == {"projects": ["Insufficient access to project"]}
    assert api.post("/releases/1.0/deploys/", body, token=READ).status_code == 403
    assert api.post("/releases/1.0/deploys/", body, token=DEPLOYER).status_code == 201
    without = api.post("/releases/1.0/deploys/", {"environment": "staging"}, token=ORG_TOKEN)
    assert without.status_code == 201


def test_deploy_projects_must_exist_and_belong_to_the_release(api: Api) -> None:
    new_release(api)
    unknown = api.post("/releases/1.0/deploys/", {"environment": "p", "projects": ["nope"]})
    assert unknown.json() == {"projects": ["Invalid project"]}
    other = api.post("/releases/1.0/deploys/", {"environment": "p", "projects": ["api"]})
    assert other.status_code == 400
    assert other.json() == {"detail": "Invalid projects (api) for release 1.0"}
    empty = api.post("/releases/1.0/deploys/", {"environment": "p", "projects": []})
    assert empty.status_code == 400


def test_deploy_projects_pass_with_the_lenient_flag(standin: StandinFactory) -> None:
    api = standin(Options(lenient=frozenset({"deploy-projects"})))
    new_release(api)
    body = {"environment": "production", "projects": ["web"]}
    assert api.post("/releases/1.0/deploys/", body, token=ORG_TOKEN).status_code == 201


def test_deploy_listing_shows_the_latest_per_project_and_environment(api: Api) -> None:
    """GET reads ReleaseProjectEnvironment.last_deploy_id: one deploy per project and env."""
    new_release(api, "1.0", ("web", "api"))
    ids = []
    for env, when in [("prod", "01"), ("prod", "02"), ("staging", "03")]:
        body = {"environment": env, "dateFinished": f"2024-01-{when}T00:00:00Z"}
        ids.append(api.post("/releases/1.0/deploys/", body).json()["id"])
    only_web = {"environment": "prod", "dateFinished": "2024-01-04T00:00:00Z", "projects": ["web"]}
    ids.append(api.post("/releases/1.0/deploys/", only_web).json()["id"])
    listed = [d["id"] for d in api.get("/releases/1.0/deploys/").json()]
    assert listed == [ids[3], ids[2], ids[1]]  # web/prod, */staging, api/prod
    api_only = api.get(f"/releases/1.0/deploys/?project={api.project_id('api')}").json()
    assert [d["id"] for d in api_only] == [ids[2], ids[1]]


@pytest.mark.parametrize(
    ("environment", "ok"),
    [("production", True), ("a/b", False), ("line\nbreak", False), ("x" * 65, False), ("", False)],
)
def test_environment_names(api: Api, environment: str, ok: bool) -> None:
    """models/environment.py Environment.is_valid_name: no / or newlines, at most 64."""
    new_release(api)
    response = api.post("/releases/1.0/deploys/", {"environment": environment})
    assert (response.status_code == 201) is ok, response.text


# --- release names: models/release.py Release.is_valid_version -------------------------------


@pytest.mark.parametrize(
    ("version", "ok"),
    [
        ("1.0.0", True),
        ("web@1.0+build", True),
        ("a/b", False),
        ("back\\slash", False),
        ("tab\there", False),
        (".", False),
        ("..", False),
        ("LATEST", False),
        ("x" * 201, False),
    ],
)
def test_release_names(api: Api, version: str, ok: bool) -> None:
    response = api.post("/releases/", {"version": version, "projects": ["web"]})
    assert (response.status_code == 201) is ok, response.text


# --- pagination: api/base.py builds Link URLs with absolute_uri from system.url-prefix --------


def test_link_urls_use_the_url_prefix_not_the_called_host(standin: StandinFactory) -> None:
    api = standin(Options(url_prefix="http://127.0.0.2:{port}/"))
    for n in range(3):
        new_release(api, f"1.{n}")
    page = api.get("/releases/?per_page=2")
    prefix = f"http://127.0.0.2:{api.server.port}/api/0/organizations/acme/releases/"
    nxt = next(p for p in page.headers["Link"].split(", ") if 'rel="next"' in p)
    assert nxt.startswith(f"<{prefix}?per_page=2&cursor=")
    assert nxt.endswith('cursor="0:2:0"')
    lenient = standin(
        Options(url_prefix="http://127.0.0.2:{port}/", lenient=frozenset({"link-called-host"}))
    )
    new_release(lenient, "1.0")
    assert lenient.server.url in lenient.get("/releases/").headers["Link"]


# --- chunk upload: api/endpoints/chunk.py ------------------------------------------------------


def test_chunk_url_comes_from_the_upload_prefix_or_is_relative(standin: StandinFactory) -> None:
    region = standin(Options(upload_url_prefix="http://127.0.0.2:{port}/"))
    url = region.get("/chunk-upload/", token=ORG_TOKEN).json()["url"]
    assert url == f"http://127.0.0.2:{region.server.port}/api/0/organizations/acme/chunk-upload/"
    relative = standin(Options(chunk_url="relative"))
    assert relative.get("/chunk-upload/").json()["url"] == "/api/0/organizations/acme/chunk-upload/"
    options = relative.get("/chunk-upload/").json()
    assert "maxWait" not in options  # Sentry sends no such field


def bundle_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        manifest = {"files": {"files/_/_/app.js": {"url": "~/app.js", "type": "minified_source"}}}
        zf.writestr("manifest.json", json.dumps(manifest))
        zf.writestr("files/_/_/app.js", "x")
    return buffer.getvalue()


def upload(api: Api, data: bytes) -> str:
    checksum = hashlib.sha1(data).hexdigest()
    files = {"file": (checksum, data, "application/octet-stream")}
    response = api.call("POST", "/chunk-upload/", token=ORG_TOKEN, files=files)
    assert response.status_code == 200, response.text
    return checksum


def assemble(api: Api, checksum: str, **extra: Any) -> dict[str, Any]:
    body = {"checksum": checksum, "chunks": [checksum], "projects": ["web"], **extra}
    response = api.post("/artifactbundle/assemble/", body, token=ORG_TOKEN)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_assembly_is_asynchronous(api: Api) -> None:
    """tasks/assemble.py runs in the background: created, then assembling, then ok."""
    checksum = upload(api, bundle_bytes())
    states = [assemble(api, checksum)["state"] for _ in range(4)]
    assert states == ["created", "assembling", "ok", "ok"]


def test_bugsink_mode_stays_created(standin: StandinFactory) -> None:
    api = standin(Options(modes=frozenset({"bugsink"})))
    checksum = upload(api, bundle_bytes())
    assert [assemble(api, checksum)["state"] for _ in range(3)] == ["created"] * 3


def test_sync_assemble_is_ok_at_once(standin: StandinFactory) -> None:
    api = standin(Options(lenient=frozenset({"sync-assemble"})))
    checksum = upload(api, bundle_bytes())
    assert assemble(api, checksum)["state"] == "ok"


def test_assemble_schema_refuses_unknown_keys_and_dist_without_version(api: Api) -> None:
    """The JSON schema has additionalProperties false; dist needs version."""
    checksum = upload(api, bundle_bytes())
    body = {"checksum": checksum, "chunks": [checksum], "projects": ["web"], "debug": True}
    extra = api.post("/artifactbundle/assemble/", body, token=ORG_TOKEN)
    assert extra.status_code == 400
    assert "Additional properties are not allowed" in extra.json()["error"]
    del body["debug"]
    no_projects = api.post("/artifactbundle/assemble/", {**body, "projects": []}, token=ORG_TOKEN)
    assert no_projects.json() == {"error": "You need to specify at least one project"}
    missing = {k: v for k, v in body.items() if k != "projects"}
    assert api.post("/artifactbundle/assemble/", missing, token=ORG_TOKEN).status_code == 400
    dist = api.post("/artifactbundle/assemble/", {**body, "dist": "1"}, token=ORG_TOKEN)
    assert dist.status_code == 400
    assert (
        api.post(
            "/artifactbundle/assemble/", {**body, "dist": "1", "version": "1.0"}, token=ORG_TOKEN
        ).json()["state"]
        == "created"
    )


def test_chunk_upload_limits(api: Api) -> None:
    """api/endpoints/chunk.py: at most 64 chunks per request."""
    files = [
        ("file", (hashlib.sha1(bytes([i])).hexdigest(), bytes([i]), "application/octet-stream"))
        for i in range(65)
    ]
    response = api.call("POST", "/chunk-upload/", token=ORG_TOKEN, files=files)
    assert response.status_code == 400
    assert response.json() == {"error": "Too many chunks"}


# --- refs: models/release.py set_refs + tasks/commits.py fetch_commits (background) -----------


def test_refs_resolve_in_the_background(api: Api, tmp_path: Any) -> None:
    new_release(api)
    add_repo(api.server.store, "acme", "acme/web", "https://github.com/acme/web")
    refs = [{"repository": "acme/web", "commit": "a" * 40}]
    answer = api.put("/releases/1.0/", {"refs": refs}, token=ORG_TOKEN).json()
    assert answer["lastCommit"] is None  # stale right after the PUT
    later = api.get("/releases/1.0/", token=ORG_TOKEN).json()
    assert later["lastCommit"]["id"] == "a" * 40


def test_sync_refs_resolve_at_once(standin: StandinFactory) -> None:
    api = standin(Options(lenient=frozenset({"sync-refs"})))
    new_release(api)
    add_repo(api.server.store, "acme", "acme/web", "https://github.com/acme/web")
    refs = [{"repository": "acme/web", "commit": "a" * 40}]
    assert api.put("/releases/1.0/", {"refs": refs}).json()["lastCommit"]["id"] == "a" * 40


# --- sentry-cli 2.x's project-scoped release endpoints (project_releases.py) -----------------


def test_project_scoped_release_endpoints(api: Api) -> None:
    created = api.post("/projects/acme/web/releases/", {"version": "2.0"}, token=ORG_TOKEN)
    assert created.status_code == 201
    assert [p["slug"] for p in created.json()["projects"]] == ["web"]
    again = api.post("/projects/acme/web/releases/", {"version": "2.0"}, token=ORG_TOKEN)
    assert again.status_code == 208
    finalized = api.put(
        "/projects/acme/web/releases/2.0/",
        {"dateReleased": "2024-01-01T00:00:00Z"},
        token=ORG_TOKEN,
    )
    assert finalized.json()["dateReleased"] == "2024-01-01T00:00:00Z"
    assert api.get("/projects/acme/api/releases/2.0/", token=ORG_TOKEN).status_code == 404
    assert api.get("/projects/acme/nope/releases/", token=ORG_TOKEN).status_code == 404
    assert (
        api.post("/projects/acme/web/releases/", {"version": "3"}, token=NOTHING).status_code == 403
    )


# --- older self-hosted modes ---------------------------------------------------------------


def test_older_self_hosted_modes(standin: StandinFactory) -> None:
    old = standin(
        Options(
            modes=frozenset(
                {"no-previous-with-commits", "no-null-previous-commit", "no-artifact-bundles"}
            )
        )
    )
    new_release(old)
    assert old.get("/releases/1.0/previous-with-commits/").status_code == 404
    add_repo(old.server.store, "acme", "acme/web", "https://github.com/acme/web")
    refs = [{"repository": "acme/web", "commit": "a" * 40, "previousCommit": None}]
    assert old.put("/releases/1.0/", {"refs": refs}).status_code == 400
    assert "artifact_bundles" not in old.get("/chunk-upload/").json()["accept"]
    body = {"checksum": "a" * 40, "chunks": [], "projects": ["web"]}
    assert old.post("/artifactbundle/assemble/", body).status_code == 404


def test_unknown_flags_are_refused() -> None:
    with pytest.raises(StandinConfigError, match="unknown lenient flag 'lenient-everything'"):
        Options(lenient=frozenset({"lenient-everything"}))
    with pytest.raises(StandinConfigError, match="unknown feature"):
        Options(features=frozenset({"everything"}))


def test_full_token_constant_has_every_scope(api: Api) -> None:
    assert "org:ci" in api.get("/", token=FULL).json()["auth"]["scopes"]
