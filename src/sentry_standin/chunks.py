"""Stand-in endpoints for source maps: chunk upload, artifact bundle assemble, release files.

Chunk blobs live in memory next to the JSON state (`chunk_blobs`), keyed by sha1, as Sentry's
FileBlob store is; bundle metadata (manifests) lives in `store.data["artifact_bundles"]` so tests
read back exactly what was uploaded. `store.data["chunk_upload"]` holds the advertised options
and counters (`received_bytes`, `received_chunks`); tests may change the options (`enabled`,
`accept`, `chunkSize`, ...) to play an older Sentry.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import zipfile
from typing import Any

from sentry_standin import rules
from sentry_standin.faults import fault_plan
from sentry_standin.routing import (
    ORG,
    PROJECT,
    HTTPError,
    Request,
    Response,
    bad_request,
    paginate,
    route,
)
from sentry_standin.rules import ORGANIZATION_RELEASE_PERMISSION, PROJECT_RELEASE_PERMISSION
from sentry_standin.store import Store, now_iso

SYSB_MAGIC = b"SYSB"
MiB = 1024 * 1024
DEFAULT_OPTIONS: dict[str, Any] = {
    "enabled": True,
    "chunkSize": 8 * MiB,
    "chunksPerRequest": 64,
    "maxRequestSize": 32 * MiB,
    "maxFileSize": 2048 * MiB,
    "hashAlgorithm": "sha1",
    "concurrency": 8,
    "compression": ["gzip"],
    "accept": [
        "debug_files",
        "release_files",
        "pdbs",
        "sources",
        "bcsymbolmaps",
        "il2cpp",
        "portablepdbs",
        "artifact_bundles",
        "artifact_bundles_v2",
        "proguard",
    ],
}
_DISPOSITION = re.compile(rb'(\w+)="([^"]*)"')


# --- state helpers (also used by tests) ------------------------------------------------


def blobs(store: Store) -> dict[str, bytes]:
    """The chunk and file blobs (bytes are kept out of the JSON state)."""
    found: dict[str, bytes] | None = getattr(store, "chunk_blobs", None)
    if found is None:
        found = {}
        store.chunk_blobs = found  # type: ignore[attr-defined]
    return found


def owners(store: Store, org: str) -> set[str]:
    """Checksums of the chunks an organization uploaded (Sentry's `FileBlobOwner`): assemble
    names as missing every chunk the organization does not own, wherever else it lies."""
    found: dict[str, set[str]] | None = getattr(store, "chunk_owners", None)
    if found is None:
        found = {}
        store.chunk_owners = found  # type: ignore[attr-defined]
    return found.setdefault(org, set())


def upload_state(store: Store) -> dict[str, Any]:
    """Advertised options plus counters of what the chunk endpoint received."""
    state: dict[str, Any] = store.data.setdefault(
        "chunk_upload",
        {**DEFAULT_OPTIONS, "received_bytes": 0, "received_chunks": 0, "received_requests": 0},
    )
    return state


def artifact_bundles(store: Store, org: str) -> list[dict[str, Any]]:
    """Assembled bundles of an org, oldest first."""
    bundles: list[dict[str, Any]] = store.data.setdefault("artifact_bundles", {}).setdefault(
        org, []
    )
    return bundles


def bundle_manifest(store: Store, org: str, bundle_id: str) -> dict[str, Any]:
    """The manifest.json of an assembled bundle (by its debug id)."""
    for bundle in artifact_bundles(store, org):
        if bundle["bundleId"] == bundle_id:
            manifest: dict[str, Any] = bundle["manifest"]
            return manifest
    raise KeyError(bundle_id)


def bundle_file(store: Store, org: str, bundle_id: str, path: str) -> bytes:
    """One file's bytes inside an assembled bundle (`files/_/_/...` path or its url)."""
    for bundle in artifact_bundles(store, org):
        if bundle["bundleId"] != bundle_id:
            continue
        with zipfile.ZipFile(io.BytesIO(strip_sysb(blobs(store)[bundle["checksum"]]))) as zf:
            if path not in zf.namelist():
                for name, info in bundle["manifest"]["files"].items():
                    if info.get("url") == path:
                        path = name
            return zf.read(path)
    raise KeyError(bundle_id)


def strip_sysb(data: bytes) -> bytes:
    """sentry-cli prefixes the ZIP with `SYSB` and a u32 version; Sentry accepts both."""
    return data[8:] if data[:4] == SYSB_MAGIC else data


# --- chunk upload -------------------------------------------------------------------------


NO_BUNDLES = ("artifact_bundles", "artifact_bundles_v2")


def chunk_url(request: Request) -> str:
    """Where chunks go, as api/endpoints/chunk.py builds it: `system.upload-url-prefix` (a
    region host on sentry.io), else `system.url-prefix`, joined with the API path; relative
    (`/api/0/...`) on a self-hosted Sentry without a url-prefix."""
    options = request.options
    if options.chunk_url == "relative":
        return request.path
    if options.lenient_on("chunk-url-called-host"):
        origin = request.called_base()
    else:
        origin = options.upload_url_prefix or request.url_prefix()
    return origin.rstrip("/") + request.path


@route("GET", ORG + "/chunk-upload/", ORGANIZATION_RELEASE_PERMISSION)
def chunk_upload_options(request: Request) -> Response:
    """The limits sentry-cli and we read first; 404 plays a Sentry without chunk upload."""
    request.org()
    state = upload_state(request.store)
    if not state.get("enabled", True):
        raise HTTPError(404)
    body = {k: state[k] for k in DEFAULT_OPTIONS if k != "enabled"}
    if "maxWait" in state:  # optional (sentry-cli: `#[serde(default)] max_wait`); set by tests
        body["maxWait"] = state["maxWait"]
    if request.options.mode_on("no-artifact-bundles"):
        body["accept"] = [a for a in body["accept"] if a not in NO_BUNDLES]
    if request.options.mode_on("self-hosted-23.7"):
        # 23.7.1's api/endpoints/chunk.py lists neither (its accept ends at artifact_bundles)
        body["accept"] = [a for a in body["accept"] if a not in ("artifact_bundles_v2", "proguard")]
    if request.options.mode_on("bugsink"):
        # Bugsink lists `artifact_bundles` but not `artifact_bundles_v2` (bugsink
        # files/views.py `chunk_upload`): clients upload every chunk before assembling.
        body["accept"] = [a for a in body["accept"] if a != "artifact_bundles_v2"]
    body["url"] = chunk_url(request)
    return Response(200, body)


def parse_multipart(content_type: str, body: bytes) -> list[tuple[str, str | None, bytes]]:
    """`(field name, filename, payload)` of each part of a multipart/form-data body."""
    match = re.search(r'boundary="?([^";]+)"?', content_type or "")
    if not match or not content_type.startswith("multipart/form-data"):
        raise HTTPError(400, {"detail": "Expected multipart/form-data"})
    delimiter = b"--" + match.group(1).encode()
    parts: list[tuple[str, str | None, bytes]] = []
    for raw in body.split(delimiter)[1:]:
        if raw.startswith(b"--"):
            break
        head, sep, payload = raw.partition(b"\r\n\r\n")
        if not sep:
            continue
        if payload.endswith(b"\r\n"):
            payload = payload[:-2]
        fields: dict[bytes, bytes] = {}
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-disposition:"):
                fields = dict(_DISPOSITION.findall(line))
        name = fields.get(b"name", b"").decode()
        filename = fields.get(b"filename")
        parts.append((name, filename.decode() if filename is not None else None, payload))
    return parts


@route("POST", ORG + "/chunk-upload/", ORGANIZATION_RELEASE_PERMISSION)
def upload_chunks(request: Request) -> Response:
    """Store each part under the sha1 its filename names; 400 when they disagree, and the
    limits of api/endpoints/chunk.py in its order: a chunk over `chunkSize` ("Chunk size too
    large"), more than `maxRequestSize` uncompressed bytes in all ("Request too large"), more
    than `chunksPerRequest` chunks ("Too many chunks"); nothing is stored from a refused
    request. A stored chunk is owned by the organization (`FileBlobOwner`)."""
    org = request.org()
    state = upload_state(request.store)
    if not state.get("enabled", True):
        raise HTTPError(404)
    parts = parse_multipart(request.header("content-type") or "", request.body)
    chunks: list[tuple[str | None, bytes]] = []
    for name, filename, payload in parts:
        if name == "file_gzip":
            try:
                chunks.append((filename, gzip.decompress(payload)))
            except (OSError, EOFError):
                raise HTTPError(400, {"detail": "Invalid gzip chunk"}) from None
        elif name == "file":
            chunks.append((filename, payload))
    if any(len(data) > state["chunkSize"] for _f, data in chunks):
        raise HTTPError(400, {"error": "Chunk size too large"})
    if sum(len(data) for _f, data in chunks) > state["maxRequestSize"]:
        raise HTTPError(400, {"error": "Request too large"})
    if len(chunks) > state["chunksPerRequest"]:
        raise HTTPError(400, {"error": "Too many chunks"})
    for filename, data in chunks:
        checksum = hashlib.sha1(data).hexdigest()
        if filename != checksum:
            raise HTTPError(400, {"detail": f"Checksum mismatch: {filename} != {checksum}"})
    store = blobs(request.store)
    owned = owners(request.store, org["slug"])
    for _filename, data in chunks:
        checksum = hashlib.sha1(data).hexdigest()
        state["received_chunks"] += 1
        if fault_plan(request.server).drop_chunk(checksum):
            continue  # acknowledged, then forgotten: assemble will report it missing
        store[checksum] = data
        owned.add(checksum)
    state["received_bytes"] += len(request.body)
    state["received_requests"] += 1
    # api/endpoints/chunk.py: `Response(status=200)`, no body
    return Response(200, raw=b"", headers={"Content-Type": "application/json"})


# --- artifact bundle assemble -------------------------------------------------------------


@route("POST", ORG + "/artifactbundle/assemble/", ORGANIZATION_RELEASE_PERMISSION)
def assemble_artifact_bundle(request: Request) -> Response:
    """missingChunks first; once all are there, assemble in the background: `created`, then
    `assembling`, then `ok` on later polls (organization_artifactbundle_assemble.py)."""
    org = request.org()
    if request.options.mode_on("no-artifact-bundles"):
        raise HTTPError(404)
    try:
        body = json.loads(request.body)
    except ValueError:
        raise HTTPError(400, {"error": "Invalid json body"}) from None
    problem = rules.assemble_schema_error(body)
    if problem is not None:
        raise HTTPError(400, {"error": problem})
    checksum = body["checksum"]
    chunks = body["chunks"]
    if body.get("dist") and not body.get("version"):
        raise HTTPError(400, {"error": rules.DIST_WITHOUT_VERSION})
    slugs = body["projects"]
    if not slugs:
        raise HTTPError(400, {"error": "You need to specify at least one project"})
    projects = [request.store.project(org["slug"], str(s)) for s in slugs]
    if any(p is None for p in projects):
        raise HTTPError(400, {"error": "One or more projects are invalid"})
    stuck = fault_plan(request.server).assemble_state(checksum)
    if stuck is not None:
        return Response(200, {"state": stuck, "missingChunks": [], "detail": None})
    store = blobs(request.store)
    bundles = artifact_bundles(request.store, org["slug"])
    version, dist = body.get("version") or None, body.get("dist") or None
    for bundle in bundles:
        if (bundle["checksum"], bundle["release"], bundle["dist"]) == (checksum, version, dist):
            for slug in (p["slug"] for p in projects if p):
                if slug not in bundle["projects"]:
                    bundle["projects"].append(slug)
            return Response(200, _progress(request, bundle))
    # organization_artifactbundle_assemble.py `find_missing_chunks`: the listed chunks this
    # organization owns no blob for (whichever upload, release or project sent them).
    owned = owners(request.store, org["slug"])
    missing = list(dict.fromkeys(c for c in chunks if c not in owned or c not in store))
    if missing and request.options.mode_on("self-hosted-23.7"):
        # option sourcemaps.artifact_bundles.assemble_with_missing_chunks is False on 23.7.1:
        # no missingChunks; the (eager) task fails and later polls answer the error
        # (api/endpoints/organization_artifactbundle_assemble.py, tasks/assemble.py)
        failed = request.store.data.setdefault("assemble_errors", {})
        if checksum in failed:
            return Response(200, _error(failed[checksum]))
        failed[checksum] = "Not all chunks available for assembling"
        return Response(200, {"state": "created", "missingChunks": []})
    if missing:
        return Response(200, {"state": "not_found", "missingChunks": missing, "detail": None})
    data = b"".join(store[c] for c in chunks)
    if hashlib.sha1(data).hexdigest() != checksum:
        return Response(200, _error("Reported checksum does not match the uploaded data"))
    try:
        with zipfile.ZipFile(io.BytesIO(strip_sysb(data))) as zf:
            manifest = json.loads(zf.read("manifest.json"))
            names = set(zf.namelist())
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        return Response(200, _error(f"Invalid artifact bundle: {exc}"))
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict):
        return Response(200, _error("Invalid artifact bundle: manifest has no files"))
    absent = sorted(set(files) - names)
    if absent:
        return Response(200, _error(f"Invalid artifact bundle: {absent[0]} is not in the archive"))
    store[checksum] = data
    bundles.append(
        {
            "id": str(request.store.next_id()),
            "bundleId": manifest.get("debug_id") or checksum,
            "checksum": checksum,
            "projects": [p["slug"] for p in projects if p],
            "release": version,
            "dist": dist,
            "date": now_iso(request.store),
            "fileCount": len(files),
            "chunks": list(chunks),
            "manifest": manifest,
            "userAgent": request.header("user-agent"),
        }
    )
    # Real Sentry assembles in a background task (tasks/assemble.py): "created" now.
    if request.options.lenient_on("sync-assemble"):
        bundles[-1]["polls"] = len(ASSEMBLY_STATES)
        return Response(200, {"state": "ok", "missingChunks": [], "detail": None})
    return Response(200, {"state": "created", "missingChunks": [], "detail": None})


# What later polls of an assembled bundle answer, one step per poll; Bugsink stays `created`.
ASSEMBLY_STATES = ("assembling", "ok")


def _progress(request: Request, bundle: dict[str, Any]) -> dict[str, Any]:
    if request.options.mode_on("bugsink"):
        return {"state": "created", "missingChunks": [], "detail": None}
    polls = int(bundle.get("polls", 0))
    bundle["polls"] = polls + 1
    state = ASSEMBLY_STATES[min(polls, len(ASSEMBLY_STATES) - 1)]
    return {"state": state, "missingChunks": [], "detail": None}


def _error(detail: str) -> dict[str, Any]:
    return {"state": "error", "missingChunks": [], "detail": detail}


def _project_or_404(request: Request) -> dict[str, Any]:
    org = request.org()
    project = request.store.project(org["slug"], request.params["project"])
    if project is None:
        raise HTTPError(404)
    return project


@route("GET", PROJECT + "/artifact-bundles/", PROJECT_RELEASE_PERMISSION)
def list_artifact_bundles(request: Request) -> Response:
    """Bundles of a project, newest first (Sentry's source map debug listing)."""
    project = _project_or_404(request)
    items = [
        {
            "bundleId": b["bundleId"],
            "release": b["release"],
            "dist": b["dist"],
            "fileCount": b["fileCount"],
            "date": b["date"],
        }
        for b in reversed(artifact_bundles(request.store, request.params["org"]))
        if project["slug"] in b["projects"]
    ]
    return paginate(request, items)


@route("GET", PROJECT + "/artifact-bundles/(?P<bundle>[^/]+)/files/", PROJECT_RELEASE_PERMISSION)
def list_artifact_bundle_files(request: Request) -> Response:
    """The manifest entries of one bundle, as `{filePath, url, fileType, headers, ...}`."""
    project = _project_or_404(request)
    for bundle in artifact_bundles(request.store, request.params["org"]):
        if bundle["bundleId"] == request.params["bundle"] and project["slug"] in bundle["projects"]:
            files = [
                {
                    "filePath": info.get("url"),
                    "path": path,
                    "fileType": info.get("type"),
                    "headers": info.get("headers", {}),
                    "debugId": (info.get("headers") or {}).get("debug-id"),
                    "sourcemap": (info.get("headers") or {}).get("sourcemap")
                    or (info.get("headers") or {}).get("Sourcemap"),
                }
                for path, info in sorted(bundle["manifest"]["files"].items())
            ]
            return Response(
                200,
                {
                    "bundleId": bundle["bundleId"],
                    "release": bundle["release"],
                    "dist": bundle["dist"],
                    "fileCount": bundle["fileCount"],
                    "files": files,
                },
            )
    raise HTTPError(404)


# --- legacy release files -----------------------------------------------------------------

RELEASE_FILES = PROJECT + r"/releases/(?P<version>[^/]+)/files/"


def _release_files(request: Request) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    project = _project_or_404(request)
    release = request.store.release(request.params["org"], request.params["version"])
    if release is None or project["slug"] not in release["projects"]:
        raise HTTPError(404)
    files: list[dict[str, Any]] = release.setdefault("files", [])
    return project, files


@route("POST", RELEASE_FILES, PROJECT_RELEASE_PERMISSION)
def upload_release_file(request: Request) -> Response:
    """Old self-hosted upload: multipart `file`, `name`, `dist`, `header`; 409 on repeat."""
    project, files = _release_files(request)
    parts = parse_multipart(request.header("content-type") or "", request.body)
    fields: dict[str, list[str]] = {}
    content: bytes | None = None
    for name, filename, payload in parts:
        if name == "file" and filename is not None:
            content = payload
        else:
            fields.setdefault(name, []).append(payload.decode("utf-8", "replace"))
    if content is None:
        raise bad_request("file", "No file was submitted.")
    name = (fields.get("name") or [""])[0]
    if not name:
        raise bad_request("name", "This field is required.")
    dist = (fields.get("dist") or [""])[0] or None
    if any(f["name"] == name and f["dist"] == dist for f in files):
        raise HTTPError(
            409, {"detail": "A file matching this name already exists for the given release"}
        )
    headers: dict[str, str] = {}
    for header in fields.get("header", []):
        key, sep, value = header.partition(":")
        if not sep:
            raise bad_request("header", "header value was not formatted correctly")
        headers[key.strip()] = value.strip()
    sha1 = hashlib.sha1(content).hexdigest()
    blobs(request.store)[sha1] = content
    record = {
        "id": str(request.store.next_id()),
        "name": name,
        "dist": dist,
        "headers": headers,
        "size": len(content),
        "sha1": sha1,
        "dateCreated": now_iso(request.store),
        "project": project["slug"],
    }
    files.append(record)
    return Response(201, record)


@route("GET", RELEASE_FILES, PROJECT_RELEASE_PERMISSION)
def list_release_files(request: Request) -> Response:
    """Release files of a release (legacy listing)."""
    _project, files = _release_files(request)
    return paginate(request, files)
