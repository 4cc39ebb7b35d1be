"""Typed answers from Sentry, parsed once at the boundary.

Each model has `parse(data)` that checks the shape it relies on and raises `ShapeError`
(exit 1, naming what was expected) for anything else, so a hostile or broken server answering
`{}`, HTML or a list where an object belongs cannot make a step report success. Fields Sentry
may leave out get neutral defaults; fields a step's outcome depends on are required.
Shapes follow Sentry's serializers (`src/sentry/api/serializers/models/release.py`,
`deploy.py`, `repository.py`, `group.py`) and sentry-cli's `src/api/data_types/`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sentry_release.errors import SentryAPIError


class ShapeError(SentryAPIError):
    """Sentry answered 2xx with a body that is not what the endpoint returns."""

    title = "Unexpected answer from Sentry"


def _object(data: object, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ShapeError(f"expected {what} (a JSON object), got {_kind(data)}")
    return data


def _list(data: object, what: str) -> Sequence[Any]:
    if not isinstance(data, list):
        raise ShapeError(f"expected {what} (a JSON list), got {_kind(data)}")
    return data


def _kind(data: object) -> str:
    if data is None:
        return "null"
    if isinstance(data, Mapping):
        return "an object" if data else "an empty object"
    if isinstance(data, list):
        return "a list"
    return type(data).__name__


def _str(body: Mapping[str, Any], key: str, what: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise ShapeError(f"expected {what} with a {key!r} string, got {_kind(body)}")
    return value


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: object, default: int = 0) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return default


@dataclass(frozen=True)
class ProjectRef:
    """A project as a release lists it: Sentry's numeric id and the slug."""

    slug: str
    id: int | None = None

    @classmethod
    def parse(cls, data: object) -> ProjectRef:
        body = _object(data, "a project")
        raw_id = body.get("id")
        return cls(_str(body, "slug", "a project"), _int(raw_id) if raw_id is not None else None)


@dataclass(frozen=True)
class Deploy:
    """One deploy record (`release_deploys.py`)."""

    id: str
    environment: str
    name: str | None = None
    url: str | None = None
    date_started: str | None = None
    date_finished: str | None = None

    @classmethod
    def parse(cls, data: object) -> Deploy:
        body = _object(data, "a deploy")
        raw_id = body.get("id")
        if raw_id in (None, ""):
            raise ShapeError(f"expected a deploy with an 'id', got {_kind(body)}")
        return cls(
            id=str(raw_id),
            environment=_str(body, "environment", "a deploy"),
            name=_opt_str(body.get("name")),
            url=_opt_str(body.get("url")),
            date_started=_opt_str(body.get("dateStarted")),
            date_finished=_opt_str(body.get("dateFinished")),
        )

    def to_json(self) -> dict[str, Any]:
        """Sentry's field names (for --json and the action's outputs)."""
        return {
            "id": self.id,
            "environment": self.environment,
            "name": self.name,
            "url": self.url,
            "dateStarted": self.date_started,
            "dateFinished": self.date_finished,
        }


@dataclass(frozen=True)
class Release:
    """A release as `GET/POST/PUT .../releases/{version}/` answers it."""

    version: str
    projects: tuple[ProjectRef, ...] = ()
    date_created: str | None = None
    date_released: str | None = None
    commit_count: int = 0
    deploy_count: int = 0
    last_commit_id: str | None = None
    last_commit_repository: str | None = None
    last_deploy: Deploy | None = None
    new_groups: int = 0

    @classmethod
    def parse(cls, data: object) -> Release:
        body = _object(data, "a release")
        last_commit = body.get("lastCommit")
        last_commit = last_commit if isinstance(last_commit, Mapping) else {}
        repository = last_commit.get("repository")
        last_deploy = body.get("lastDeploy")
        return cls(
            version=_str(body, "version", "a release"),
            projects=tuple(
                ProjectRef.parse(p) for p in body.get("projects") or () if isinstance(p, Mapping)
            ),
            date_created=_opt_str(body.get("dateCreated")),
            date_released=_opt_str(body.get("dateReleased")),
            commit_count=_int(body.get("commitCount")),
            deploy_count=_int(body.get("deployCount")),
            last_commit_id=_opt_str(last_commit.get("id")),
            last_commit_repository=_opt_str(
                repository.get("name") if isinstance(repository, Mapping) else None
            ),
            last_deploy=Deploy.parse(last_deploy) if isinstance(last_deploy, Mapping) else None,
            new_groups=_int(body.get("newGroups")),
        )

    def project_ids(self) -> dict[str, int]:
        """`{slug: id}` for the projects whose id Sentry gave."""
        return {p.slug: p.id for p in self.projects if p.id is not None}

    def to_json(self) -> dict[str, Any]:
        """Sentry's field names (for --json)."""
        return {
            "version": self.version,
            "projects": [{"slug": p.slug, "id": p.id} for p in self.projects],
            "dateCreated": self.date_created,
            "dateReleased": self.date_released,
            "commitCount": self.commit_count,
            "deployCount": self.deploy_count,
            "lastCommit": {"id": self.last_commit_id} if self.last_commit_id else None,
            "lastDeploy": self.last_deploy.to_json() if self.last_deploy else None,
            "newGroups": self.new_groups,
        }


@dataclass(frozen=True)
class Repo:
    """A repository Sentry knows through an integration (`repository.py` serializer)."""

    name: str
    url: str | None = None
    provider: str | None = None
    status: str | None = None

    @classmethod
    def parse(cls, data: object) -> Repo:
        body = _object(data, "a repository")
        provider = body.get("provider")
        return cls(
            name=_str(body, "name", "a repository"),
            url=_opt_str(body.get("url")),
            provider=_opt_str(provider.get("id") if isinstance(provider, Mapping) else None),
            status=_opt_str(body.get("status")),
        )


@dataclass(frozen=True)
class Project:
    """A project of the organization (`GET /organizations/{org}/projects/`)."""

    id: int
    slug: str

    @classmethod
    def parse(cls, data: object) -> Project:
        body = _object(data, "a project")
        ref = ProjectRef.parse(body)
        if ref.id is None:
            raise ShapeError("expected a project with a numeric 'id'")
        return cls(ref.id, ref.slug)


# Sentry's defaults (`api/endpoints/chunk.py`): 64 chunks and 32 MiB per request, 8 requests.
DEFAULT_CHUNKS_PER_REQUEST = 64
DEFAULT_MAX_REQUEST_SIZE = 32 * 1024 * 1024
DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024
DEFAULT_CONCURRENCY = 8
DEFAULT_MAX_WAIT = 300.0  # Sentry sends no maxWait; sentry-cli waits without a bound


@dataclass(frozen=True)
class ChunkOptions:
    """The server's chunk-upload limits (`GET /organizations/{org}/chunk-upload/`)."""

    url: str
    chunk_size: int = DEFAULT_CHUNK_SIZE
    chunks_per_request: int = DEFAULT_CHUNKS_PER_REQUEST
    max_request_size: int = DEFAULT_MAX_REQUEST_SIZE
    max_file_size: int = 0
    concurrency: int = DEFAULT_CONCURRENCY
    compression: tuple[str, ...] = ()
    accept: tuple[str, ...] = ()
    max_wait: float = DEFAULT_MAX_WAIT

    @classmethod
    def parse(cls, data: object) -> ChunkOptions:
        body = _object(data, "chunk-upload options")
        url = body.get("url")
        if not isinstance(url, str) or not url:
            raise ShapeError("expected chunk-upload options with a 'url', got none")

        def positive(key: str, default: int) -> int:
            value = _int(body.get(key), 0)
            return value if value > 0 else default

        max_wait = body.get("maxWait")  # sent by some compatible servers, not by Sentry
        return cls(
            url=url,
            chunk_size=positive("chunkSize", DEFAULT_CHUNK_SIZE),
            chunks_per_request=positive("chunksPerRequest", DEFAULT_CHUNKS_PER_REQUEST),
            max_request_size=positive("maxRequestSize", DEFAULT_MAX_REQUEST_SIZE),
            max_file_size=positive("maxFileSize", 0),
            concurrency=positive("concurrency", DEFAULT_CONCURRENCY),
            compression=tuple(str(c) for c in body.get("compression") or ()),
            accept=tuple(str(a) for a in body.get("accept") or ()),
            max_wait=float(_int(max_wait)) if _int(max_wait) > 0 else DEFAULT_MAX_WAIT,
        )

    def accepts(self, feature: str) -> bool:
        """Whether the server lists `feature` (`artifact_bundles`, `release_files` ...)."""
        return feature in self.accept

    @property
    def artifact_bundles(self) -> bool:
        """Whether the server takes artifact bundles at all (else: legacy release files)."""
        return self.accepts("artifact_bundles")

    @property
    def assemble_first(self) -> bool:
        """`artifact_bundles_v2`: assemble before uploading, send only missing chunks."""
        return self.accepts("artifact_bundles_v2")

    @property
    def gzip(self) -> bool:
        """Whether chunks may be sent gzipped (`file_gzip`)."""
        return "gzip" in self.compression


# Sentry's ChunkFileState (`models/files/...`, sentry-cli `file_state.rs`).
ASSEMBLE_ACCEPTED = frozenset({"created", "assembling", "ok"})
ASSEMBLE_FAILED = frozenset({"error", "not_found"})


@dataclass(frozen=True)
class AssembleState:
    """`POST .../artifactbundle/assemble/`: the bundle's state and the chunks still missing."""

    state: str
    missing_chunks: tuple[str, ...] = ()
    detail: str | None = None

    @classmethod
    def parse(cls, data: object) -> AssembleState:
        body = _object(data, "an assemble state")
        state = body.get("state")
        if state not in ASSEMBLE_ACCEPTED | ASSEMBLE_FAILED:
            raise ShapeError(
                "expected an assemble state (created, assembling, ok, error, not_found), "
                f"got {state!r}"
            )
        missing = body.get("missingChunks") or []
        return cls(
            state=str(state),
            missing_chunks=tuple(str(c) for c in _list(missing, "missingChunks") if c),
            detail=_opt_str(body.get("detail")),
        )

    @property
    def ok(self) -> bool:
        """Assembled and stored."""
        return self.state == "ok"

    @property
    def accepted(self) -> bool:
        """Every chunk is on the server and it took the bundle (it may still be assembling)."""
        return self.state in ASSEMBLE_ACCEPTED and not self.missing_chunks

    @property
    def failed(self) -> bool:
        """The server could not assemble the bundle."""
        return self.state in ASSEMBLE_FAILED and not (
            self.state == "not_found" and self.missing_chunks
        )


def parse_object(data: object, what: str) -> Mapping[str, Any]:
    """A JSON object, or ShapeError."""
    return _object(data, what)
