"""Sentry's web API: one method per endpoint, typed answers, the scope each endpoint needs.

Paths, bodies and permissions follow Sentry's server code (`src/sentry/api/endpoints/`,
permission classes in `src/sentry/api/bases/organization.py`); sentry-cli's `src/api/mod.rs`
shows how a trusted client calls them. docs/sentry-api.md lists every endpoint with its rules.
Dry-run is handled by the transport: writes are printed, never sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sentry_release.dates import isoformat, parse_rfc3339
from sentry_release.errors import NotFoundError
from sentry_release.sentry.models import (
    AssembleState,
    ChunkOptions,
    Deploy,
    Project,
    Release,
    Repo,
    parse_object,
)
from sentry_release.sentry.transport import Reply, RetryPolicy, Stats, Transport

if TYPE_CHECKING:
    from sentry_release.config.settings import Settings

COMMITS_TIMEOUT_FLOOR = 60.0  # seconds; plus 1 s per 100 commits sent in one PUT

# The scopes each endpoint family accepts (any one of them), from the permission classes.
# OrganizationReleasePermission: releases, deploys, chunk upload, assemble (org:ci included).
RELEASE_SCOPES = "org:ci or project:releases (or project:write)"
# OrganizationPermission GET: the organization and its projects.
ORG_READ_SCOPES = "org:read"
# OrganizationRepositoryPermission GET (OrganizationIntegrationsLoosePermission on newer Sentry).
REPO_SCOPES = "org:ci or org:read"
# OrganizationEventPermission GET: issues and events.
EVENT_SCOPES = "event:read"


def seg(value: str) -> str:
    """Percent-encode one path segment (release names may hold spaces, @, + ...)."""
    return quote(value, safe="")


def org_path(org: str, *parts: str) -> str:
    """`/organizations/{org}/{parts...}/` with each segment encoded."""
    return "/organizations/" + "/".join(seg(p) for p in (org, *parts)) + "/"


def org_not_found(org: str) -> str:
    """The one message for an organization Sentry does not know."""
    return f"organization not found: {org!r}: check SENTRY_ORG (or the org input)"


def release_not_found(org: str, version: str) -> str:
    """The one message for a release that does not exist."""
    return (
        f"release {version!r} not found in organization {org!r}: create it first "
        "(sentry-release new) or check SENTRY_ORG"
    )


def fields(**values: Any) -> dict[str, Any]:
    """A request body from the fields that have a value (dates in Sentry's format): Sentry's
    serializers refuse `null` for several optional fields, so absent means left out."""
    return {
        key: isoformat(value) if isinstance(value, datetime) else value
        for key, value in values.items()
        if value not in (None, "", [], ())
    }


def same_deploy(deploy: Deploy, environment: str, name: str | None, finished: datetime) -> bool:
    """Whether a listed deploy is the one we sent (environment, name and dateFinished: Sentry
    has no idempotency key, and its listing keeps only the latest deploy per environment)."""
    if deploy.environment != environment or (deploy.name or None) != (name or None):
        return False
    if not deploy.date_finished:
        return False
    try:
        when = parse_rfc3339(deploy.date_finished)
    except ValueError:
        return False
    return abs((when - finished).total_seconds()) < 0.002


class SentryApi:
    """The endpoints the steps call, each returning a typed model; it holds the `Transport`
    that sends them (session, token, deadlines, retries, errors)."""

    def __init__(
        self,
        base_url: str = "",
        token: str | None = None,
        *,
        transport: Transport | None = None,
        **options: Any,
    ) -> None:
        self.transport = transport or Transport(base_url, token, **options)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, echo: Callable[[str], None] | None = None
    ) -> SentryApi:
        """The API both front doors use: URL, token, timeout, retry budget, CA bundle, headers."""
        return cls(
            settings.url,
            settings.auth_token,
            timeout=settings.timeout,
            retry=RetryPolicy(budget=settings.retry_budget),
            ca_bundle=settings.ca_bundle,
            dry_run=settings.dry_run,
            echo=echo,
            headers=settings.custom_headers,
            step_timeout=settings.step_timeout,
        )

    def __repr__(self) -> str:
        return f"SentryApi({self.transport!r})"

    # --- what the steps use of the transport ------------------------------------------

    def fork(self, echo: Callable[[str], None] | None = None) -> SentryApi:
        """This API for another thread (see `Transport.fork`)."""
        return SentryApi(transport=self.transport.fork(echo))

    def step(self, name: str, seconds: float | None = None) -> AbstractContextManager[None]:
        """One deadline for every request of a step (see `Transport.step`)."""
        return self.transport.step(name, seconds)

    @property
    def dry_run(self) -> bool:
        """Whether writes are printed instead of sent."""
        return self.transport.dry_run

    @property
    def echo(self) -> Callable[[str], None]:
        """Where dry-run previews are printed."""
        return self.transport.echo

    @property
    def token(self) -> str | None:
        """The auth token (never printed)."""
        return self.transport.token

    @property
    def stats(self) -> Stats:
        """What went over the wire."""
        return self.transport.stats

    def request(self, method: str, path: str, **kwargs: Any) -> Reply:
        """One call through the transport (see `Transport.request`)."""
        return self.transport.request(method, path, **kwargs)

    def paginate(self, path: str, params: Any = None, **kwargs: Any) -> Iterator[Any]:
        """Items across pages (see `Transport.paginate`)."""
        return self.transport.paginate(path, params, **kwargs)

    # counters the gate and the bench read
    @property
    def request_count(self) -> int:
        """Requests sent so far (attempts included)."""
        return self.stats.requests

    @property
    def rate_limit(self) -> dict[str, str]:
        """The last X-Sentry-Rate-Limit-* headers seen, lowercased."""
        return self.stats.rate_limit

    # --- who we are ----------------------------------------------------------------

    def auth_info(self) -> frozenset[str] | None:
        """`GET /api/0/`: the token's scopes (`api/endpoints/index.py` answers
        `{"auth": {"scopes": [...]}}`); None when Sentry did not authenticate the token."""
        body = self.request("GET", "/", dry_run_body={"auth": {"scopes": []}}).json()
        auth = parse_object(body, "the API root").get("auth")
        if not isinstance(auth, Mapping):
            return None
        held = auth.get("scopes")
        return (
            frozenset(s for s in held if isinstance(s, str))
            if isinstance(held, list)
            else frozenset()
        )

    # --- organization ---------------------------------------------------------------

    def list_projects(self, org: str) -> list[Project]:
        """`GET /organizations/{org}/projects/` (org:read): slugs and numeric ids."""
        return [
            Project.parse(p)
            for p in self.paginate(
                org_path(org, "projects"), not_found=org_not_found(org), scopes=ORG_READ_SCOPES
            )
        ]

    # --- releases -------------------------------------------------------------------

    def create_release(
        self,
        org: str,
        version: str,
        projects: Sequence[str],
        *,
        url: str | None = None,
        ref: str | None = None,
        date_started: datetime | None = None,
        date_released: datetime | None = None,
    ) -> tuple[Release, bool]:
        """`POST /organizations/{org}/releases/` → (release, created). 208 = it existed
        (`organization_releases.py`), which is success: creating is idempotent."""
        body = fields(
            version=version,
            projects=list(projects),
            url=url,
            ref=ref,
            dateStarted=date_started,
            dateReleased=date_released,
        )
        reply = self.request(
            "POST",
            org_path(org, "releases"),
            json_body=body,
            idempotent=True,
            not_found=org_not_found(org),
            scopes=RELEASE_SCOPES,
            dry_run_body={"version": version, "projects": [{"slug": p} for p in projects]},
        )
        return reply.parse(Release.parse), reply.status == 201

    def get_release(self, org: str, version: str) -> Release:
        """`GET .../releases/{version}/`: the release with its projects' numeric ids."""
        return self.request(
            "GET",
            org_path(org, "releases", version),
            not_found=release_not_found(org, version),
            scopes=RELEASE_SCOPES,
            dry_run_body={"version": version},
        ).parse(Release.parse)

    def update_release(
        self, org: str, version: str, body: Mapping[str, Any], *, timeout: float | None = None
    ) -> Release:
        """`PUT .../releases/{version}/` (dateReleased, url, refs, commits, projects)."""
        return self.request(
            "PUT",
            org_path(org, "releases", version),
            json_body=dict(body),
            not_found=release_not_found(org, version),
            scopes=RELEASE_SCOPES,
            timeout=timeout,
            dry_run_body={"version": version},
        ).parse(Release.parse)

    def finalize_release(
        self, org: str, version: str, *, projects: Sequence[str] = (), when: datetime
    ) -> Release:
        """Set dateReleased, which marks the release as finalized."""
        body: dict[str, Any] = {"dateReleased": isoformat(when)}
        if projects:
            body["projects"] = list(projects)
        return self.update_release(org, version, body)

    def list_releases(
        self,
        org: str,
        *,
        project_ids: Sequence[int] = (),
        environment: str | None = None,
        sort: str | None = None,
        per_page: int | None = None,
    ) -> Iterator[Release]:
        """`GET .../releases/` (paginated). `project` takes numeric ids only: Sentry's
        `get_requested_project_ids_unchecked` answers 400 to a slug."""
        params: list[tuple[str, Any]] = [("project", int(p)) for p in project_ids]
        if environment:
            params.append(("environment", environment))
        if sort:
            params.append(("sort", sort))
        if per_page:
            params.append(("per_page", per_page))
        for item in self.paginate(org_path(org, "releases"), params, scopes=RELEASE_SCOPES):
            yield Release.parse(item)

    def previous_release_with_commits(self, org: str, version: str) -> Release | None:
        """The newest older release with commits, whose last commit bounds the local range.

        `{}` and 404 (older self-hosted has no such endpoint; sentry-cli treats it the same
        way) both mean: no previous release.
        """
        try:
            reply = self.request(
                "GET",
                org_path(org, "releases", version, "previous-with-commits"),
                not_found=release_not_found(org, version),
                scopes=RELEASE_SCOPES,
            )
        except NotFoundError:
            return None
        body = parse_object(reply.json(), "a release or {}") if not reply.dry_run else {}
        return Release.parse(body) if body.get("version") else None

    # --- commits --------------------------------------------------------------------

    def list_repos(self, org: str) -> Iterator[Repo]:
        """The org's repositories known to Sentry's integrations (paginated)."""
        for item in self.paginate(org_path(org, "repos"), scopes=REPO_SCOPES):
            yield Repo.parse(item)

    def set_refs(self, org: str, version: str, refs: Sequence[Mapping[str, Any]]) -> Release:
        """Integration mode: Sentry fetches the commits between each ref pair itself, in the
        background (`commitCount` in the answer can still be the old count)."""
        return self.update_release(org, version, {"refs": [dict(r) for r in refs]})

    def set_commits(self, org: str, version: str, commits: Sequence[Mapping[str, Any]]) -> Release:
        """Local mode: send the commits (with patch sets) ourselves.

        Sentry stores them before it answers, so a long range gets a longer read timeout.
        """
        timeout = max(self.transport.timeout, COMMITS_TIMEOUT_FLOOR + len(commits) / 100)
        return self.update_release(
            org, version, {"commits": [dict(c) for c in commits]}, timeout=timeout
        )

    # --- deploys --------------------------------------------------------------------

    def list_deploys(self, org: str, version: str) -> list[Deploy]:
        """`GET .../deploys/`. Sentry answers only the latest deploy per project and
        environment (`release_deploys.py`), not the whole history."""
        return [
            Deploy.parse(d)
            for d in self.paginate(
                org_path(org, "releases", version, "deploys"),
                not_found=release_not_found(org, version),
                scopes=RELEASE_SCOPES,
            )
        ]

    def create_deploy(
        self,
        org: str,
        version: str,
        *,
        environment: str,
        name: str | None = None,
        url: str | None = None,
        date_started: datetime | None = None,
        date_finished: datetime | None = None,
        projects: Sequence[str] = (),
    ) -> Deploy:
        """`POST .../deploys/`. Not idempotent: after a lost attempt the deploys are listed
        and ours (same environment, name and dateFinished) is taken instead of resending.

        `projects` is sent only when given: Sentry checks it with project-level access
        (`ProjectField` in `release_deploys.py`), which org:ci tokens do not have → 400
        "Insufficient access to project". Without it Sentry records the deploy for every
        project of the release, as sentry-cli does by default.
        """
        finished = date_finished or datetime.now(timezone.utc)
        body = fields(
            environment=environment,
            dateFinished=finished,
            name=name,
            url=url,
            dateStarted=date_started,
            projects=list(projects),
        )
        path = org_path(org, "releases", version, "deploys")

        def recover() -> Reply | None:
            for deploy in self.list_deploys(org, version):
                if same_deploy(deploy, environment, name, finished):
                    return Reply(
                        "POST",
                        self.transport.endpoint(self.transport.url(path)),
                        201,
                        {},
                        json.dumps(deploy.to_json()).encode(),
                    )
            return None

        return self.request(
            "POST",
            path,
            json_body=body,
            idempotent=False,
            recover=recover,
            not_found=release_not_found(org, version),
            scopes=RELEASE_SCOPES,
            dry_run_body={"id": "dry-run", **body},
        ).parse(Deploy.parse)

    # --- source maps: chunk upload + artifact bundles -------------------------------

    def chunk_upload_options(self, org: str) -> ChunkOptions | None:
        """`GET .../chunk-upload/`, or None when the server has no chunk upload (old
        self-hosted answers 404)."""
        reply = self.request(
            "GET",
            org_path(org, "chunk-upload"),
            ok=(404,),
            not_found=org_not_found(org),
            scopes=RELEASE_SCOPES,
        )
        if reply.status == 404 or reply.dry_run:
            return None
        return reply.parse(ChunkOptions.parse)

    def upload_chunks(
        self, url: str, chunks: Sequence[tuple[str, bytes]], *, field_name: str = "file_gzip"
    ) -> None:
        """POST one multipart batch; each part named by the sha1 of its uncompressed chunk.

        Idempotent: the server keys chunks by checksum, so a retry stores nothing twice.
        `url` comes from the options and is resolved so the token stays on Sentry's origin.
        """
        files = [
            (field_name, (checksum, payload, "application/octet-stream"))
            for checksum, payload in chunks
        ]
        self.request(
            "POST",
            self.transport.resolve_upload_url(url),
            files=files,
            idempotent=True,
            scopes=RELEASE_SCOPES,
        )

    def assemble_artifact_bundle(
        self,
        org: str,
        *,
        checksum: str,
        chunks: Sequence[str],
        projects: Sequence[str],
        version: str | None = None,
        dist: str | None = None,
    ) -> AssembleState:
        """`POST .../artifactbundle/assemble/`. Its JSON schema allows checksum, chunks,
        projects, version and dist only, and `dist` needs `version`
        (`organization_artifactbundle_assemble.py`)."""
        body: dict[str, Any] = {
            "checksum": checksum,
            "chunks": list(chunks),
            "projects": list(projects),
        }
        if version:
            body["version"] = version
            if dist:
                body["dist"] = dist
        return self.request(
            "POST",
            org_path(org, "artifactbundle", "assemble"),
            json_body=body,
            idempotent=True,  # keyed by checksum on the server
            not_found=org_not_found(org),
            scopes=RELEASE_SCOPES,
            dry_run_body={"state": "ok", "missingChunks": []},
        ).parse(AssembleState.parse)

    def upload_release_file(
        self,
        org: str,
        project: str,
        version: str,
        *,
        name: str,
        content: bytes,
        dist: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> bool:
        """Legacy release-file upload (`project_release_files.py`); False when the file
        already exists (409)."""
        data: list[tuple[str, str]] = [("name", name)]
        if dist:
            data.append(("dist", dist))
        for key, value in (headers or {}).items():
            data.append(("header", f"{key}:{value}"))
        path = (
            "/projects/"
            + "/".join(seg(p) for p in (org, project, "releases", version, "files"))
            + "/"
        )
        reply = self.request(
            "POST",
            path,
            data=data,
            files={"file": (name.rsplit("/", 1)[-1], content, "application/octet-stream")},
            idempotent=True,  # 409 on repeat
            ok=(409,),
            not_found=release_not_found(org, version),
            scopes=RELEASE_SCOPES,
        )
        return reply.status != 409
