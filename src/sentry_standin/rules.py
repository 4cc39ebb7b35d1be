"""The rules of real Sentry the stand-in enforces, each with the Sentry file it comes from.

Paths are relative to getsentry/sentry `src/sentry/`. These are the stand-in's own copies: it
imports nothing of `sentry_release`, so a wrong rule in the product cannot hide here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timezone

# --- release names: models/release.py `Release.is_valid_version` -------------------------
# `BAD_RELEASE_CHARS` (constants.py) holds "\r\n\f\x0c\t/\\"; the stripped value must not be
# empty, "." or "..", nor "latest" in any case. The API's ReleaseWithVersionSerializer caps
# `version` at MAX_VERSION_LENGTH = 200 (api/serializers/rest_framework/release.py).
BAD_RELEASE_CHARS = "\r\n\f\x0c\t/\\"
MAX_VERSION_LENGTH = 200


def is_valid_version(value: object) -> bool:
    """Sentry's release-name rule (models/release.py `Release.is_valid_version`)."""
    if not isinstance(value, str):
        return False
    if any(c in value for c in BAD_RELEASE_CHARS):
        return False
    stripped = value.strip()
    return bool(stripped) and stripped not in (".", "..") and stripped.lower() != "latest"


# --- environment names: models/environment.py `Environment.is_valid_name` -----------------
# constants.py: ENVIRONMENT_NAME_PATTERN = r"^[^\n\r\f\/]*$", ENVIRONMENT_NAME_MAX_LENGTH = 64;
# the deploy serializer's CharField(max_length=64) also refuses an empty or blank value.
ENVIRONMENT_BAD_CHARS = "\n\r\f/"
MAX_ENVIRONMENT_LENGTH = 64


def is_valid_environment(value: object) -> bool:
    """Sentry's environment-name rule (models/environment.py `Environment.is_valid_name`)."""
    return (
        isinstance(value, str)
        and len(value) <= MAX_ENVIRONMENT_LENGTH
        and not any(c in value for c in ENVIRONMENT_BAD_CHARS)
    )


# --- scopes: api/bases/organization.py and api/bases/project.py permission classes ----------
# Each endpoint accepts a request when the token holds ANY scope listed for its method.
ORGANIZATION_PERMISSION = {  # OrganizationPermission
    "GET": ("org:read", "org:write", "org:admin"),
    "POST": ("org:write", "org:admin"),
    "PUT": ("org:write", "org:admin"),
    "DELETE": ("org:admin",),
}
ORGANIZATION_RELEASE_PERMISSION = {  # OrganizationReleasePermission
    "GET": ("project:read", "project:write", "project:admin", "project:releases", "org:ci"),
    "POST": ("project:write", "project:admin", "project:releases", "org:ci"),
    "PUT": ("project:write", "project:admin", "project:releases", "org:ci"),
    "DELETE": ("project:admin", "project:releases"),
}
ORGANIZATION_EVENT_PERMISSION = {  # OrganizationEventPermission
    "GET": ("event:read", "event:write", "event:admin"),
    "POST": ("event:write", "event:admin"),
    "PUT": ("event:write", "event:admin"),
    "DELETE": ("event:admin",),
}
# OrganizationIntegrationsLoosePermission: what api/endpoints/organization_repositories.py uses,
# so an org:ci token can list the repositories `set-commits --auto` matches against.
# Sentry 23.7.1 (mode `self-hosted-23.7`), each from that release's code:
SELF_HOSTED_23_7 = "self-hosted-23.7"
# api/bases/organization_events.py DATASET_OPTIONS (no `errors`, no `transactions`)
DATASETS_23_7 = (
    "discover",
    "metricsEnhanced",
    "metrics",
    "profiles",
    "issuePlatform",
    "profileFunctions",
    "spansIndexed",
    "spansMetrics",
)
# today's snuba/utils.py DATASET_OPTIONS, the ones the stand-in serves
DATASETS = ("discover", "errors", "transactions")
# snuba/sessions_v2.py get_constrained_date_range: one minute on 23.7.1 (ten seconds today)
SESSIONS_MINIMUM_23_7 = (60, "one minute")
# api/bases/organization.py OrganizationIntegrationsLoosePermission GET: no org:ci on 23.7.1
REPOS_GET_SCOPES_23_7 = ("org:read", "org:write", "org:admin", "org:integrations")
NO_PERMISSION = {"detail": "You do not have permission to perform this action."}


def dataset_error(dataset: str, self_hosted_23_7: bool) -> dict[str, str] | None:
    """Sentry's 400 body for a dataset the events endpoints do not know, else None."""
    known = DATASETS_23_7 if self_hosted_23_7 else DATASETS
    if dataset in known:
        return None
    return {"detail": f"dataset must be one of: {', '.join(known)}"}


ORGANIZATION_INTEGRATIONS_LOOSE_PERMISSION = {
    "GET": ("org:read", "org:write", "org:admin", "org:integrations", "org:ci"),
    "POST": ("org:read", "org:write", "org:admin", "org:integrations"),
    "PUT": ("org:read", "org:write", "org:admin", "org:integrations"),
    "DELETE": ("org:admin", "org:integrations"),
}
# ProjectReleasePermission (api/bases/project.py): the project-scoped release endpoints
# (project_releases.py, project_release_details.py, project_release_files.py, artifact bundles).
PROJECT_RELEASE_PERMISSION = ORGANIZATION_RELEASE_PERMISSION
PROJECT_PERMISSION = {  # ProjectPermission (api/bases/project.py): ProjectEndpoint's default
    "GET": ("project:read", "project:write", "project:admin"),
    "POST": ("project:write", "project:admin"),
    "PUT": ("project:write", "project:admin"),
    "DELETE": ("project:admin",),
}

# Scopes an organization auth token (`sntrys_`) carries: models/orgauthtoken.py creates them
# with `org:ci` only (api/endpoints/org_auth_tokens.py).
ORG_TOKEN_SCOPES = ("org:ci",)
# Every scope a user token can hold (the dev token gets them all, so the demo keeps working).
ALL_SCOPES = (
    "org:read",
    "org:write",
    "org:admin",
    "org:integrations",
    "org:ci",
    "project:read",
    "project:write",
    "project:admin",
    "project:releases",
    "team:read",
    "member:read",
    "event:read",
    "event:write",
    "event:admin",
)
FORBIDDEN = "You do not have permission to perform this action."


def allowed(scope_map: dict[str, tuple[str, ...]], method: str, scopes: Iterable[str]) -> bool:
    """Whether a token's scopes pass a permission class for `method` (HEAD counts as GET)."""
    wanted = scope_map.get("GET" if method == "HEAD" else method, ())
    return any(scope in wanted for scope in scopes)


# --- project ids: api/bases/organization.py `get_requested_project_ids_unchecked` -----------
INVALID_PROJECT_PARAMETER = "Invalid project parameter. Values must be numbers."
ALL_ACCESS_PROJECT_ID = -1  # constants.py: -1 means "every project I have access to"


def parse_project_ids(values: Sequence[str]) -> set[int] | None:
    """`int()` of each `project` value as Sentry does; None when one is not a number."""
    try:
        return {int(v) for v in values}
    except ValueError:
        return None


# --- multi-project queries: api/endpoints/organization_group_index.py and
# api/bases/organization_events.py refuse >1 project without `organizations:global-views`.
MULTI_PROJECT_ISSUES = "You do not have the multi project stream feature enabled"
MULTI_PROJECT_EVENTS = "You cannot view events from multiple projects."
GLOBAL_VIEWS = "global-views"

# --- the deploy body: api/endpoints/release_deploys.py `DeploySerializer.projects` is a
# ListField(child=ProjectField(scope="project:read", id_allowed=True), allow_empty=False);
# ProjectField (api/serializers/rest_framework/project.py) answers "Insufficient access to
# project" when the token lacks that scope on the project (an org:ci token always does).
INSUFFICIENT_PROJECT_ACCESS = "Insufficient access to project"
DEPLOY_PROJECT_SCOPES = ("project:read", "project:write", "project:admin")
DEPLOY_FIELDS = ("name", "environment", "url", "dateStarted", "dateFinished", "projects")

# --- assemble: api/endpoints/organization_artifactbundle_assemble.py JSON schema ------------
ASSEMBLE_REQUIRED = ("checksum", "chunks", "projects")
ASSEMBLE_FIELDS = (*ASSEMBLE_REQUIRED, "version", "dist")
DIST_WITHOUT_VERSION = "You need to specify a release together with a dist"


def assemble_schema_error(body: object) -> str | None:
    """The first JSON-schema error of an assemble body (additionalProperties false), or None."""
    if not isinstance(body, dict):
        return f"{body!r} is not of type 'object'"
    for key in ASSEMBLE_REQUIRED:
        if key not in body:
            return f"'{key}' is a required property"
    extra = [k for k in body if k not in ASSEMBLE_FIELDS]
    if extra:
        return f"Additional properties are not allowed ({extra[0]!r} was unexpected)"
    if not isinstance(body["checksum"], str) or not _is_sha1(body["checksum"]):
        return f"{body['checksum']!r} does not match '^[0-9a-f]{{40}}$'"
    chunks = body["chunks"]
    if not isinstance(chunks, list):
        return f"{chunks!r} is not of type 'array'"
    for chunk in chunks:
        if not isinstance(chunk, str) or not _is_sha1(chunk):
            return f"{chunk!r} does not match '^[0-9a-f]{{40}}$'"
    projects = body["projects"]
    if not isinstance(projects, list) or not all(isinstance(p, str) for p in projects):
        return f"{projects!r} is not of type 'array' of 'string'"
    for key in ("version", "dist"):
        if key in body and not isinstance(body[key], str):
            return f"{body[key]!r} is not of type 'string'"
    return None


def _is_sha1(value: str) -> bool:
    return len(value) == 40 and all(c in "0123456789abcdef" for c in value)


# --- dates: Sentry writes RFC 3339 in UTC with a Z; DRF's DateTimeField reads ISO 8601 -------


def isoformat(moment: datetime) -> str:
    """A datetime the way Sentry serialises it."""
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def parse_iso(value: str) -> datetime:
    """An aware datetime from ISO 8601 / RFC 3339 (any fraction digits; naive = UTC)."""
    text = value.strip().replace("z", "Z").replace("Z", "+00:00")
    if "." in text:
        head, rest = text.split(".", 1)
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        text = f"{head}.{(digits + '000000')[:6]}{rest}"
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
