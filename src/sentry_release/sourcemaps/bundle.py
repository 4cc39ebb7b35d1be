"""Artifact bundles: the manifest entries sentry-cli writes, in a ZIP that is byte-for-byte
deterministic, so an unchanged build yields the same chunks and a re-run uploads nothing.

Entries are stored (not deflated): chunks are gzipped on the wire in parallel threads (zlib
releases the GIL), which is faster than deflating every file serially and then gzipping
already-compressed chunks again, and keeps equal files equal across bundles.
"""

from __future__ import annotations

import hashlib
import json
import struct
import tempfile
import threading
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import IO
from urllib.parse import urlsplit

SYSB_MAGIC = b"SYSB"
SYSB_VERSION = 2
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
MINIFIED_SOURCE = "minified_source"
SOURCE_MAP = "source_map"
SOURCE = "source"
# sentry-cli hashes Rust's Debug name of the file type into the bundle id.
_TYPE_NAMES = {MINIFIED_SOURCE: "MinifiedSource", SOURCE_MAP: "SourceMap", SOURCE: "Source"}


@dataclass(frozen=True)
class BundleFile:
    """One file as it goes into the bundle."""

    url: str
    type: str
    content: bytes
    headers: dict[str, str] = field(default_factory=dict)
    local_path: str = ""


def bundle_path(url: str) -> str:
    """`~/dist/app.js` -> `files/_/_/dist/app.js`; `https://cdn/x.js` -> `files/https/cdn/x.js`."""
    if url.startswith("~/"):
        return "files/_/_/" + url[2:].lstrip("/")
    parts = urlsplit(url)
    path = parts.path.lstrip("/")
    if parts.fragment:
        path += "#" + parts.fragment
    if not parts.scheme:
        return "files/_/_/" + url.lstrip("/")
    return f"files/{parts.scheme}/{parts.netloc or '_'}/{path}"


def bundle_debug_id(files: Sequence[BundleFile]) -> str:
    """sentry-cli's bundle id: SHA-1 over each file's url, bytes, type and sorted headers."""
    digest = hashlib.sha1()
    for item in files:
        digest.update(item.url.encode())
        digest.update(item.content)
        digest.update(_TYPE_NAMES.get(item.type, item.type).encode())
        for key, value in sorted(item.headers.items()):
            digest.update(key.encode())
            digest.update(value.encode())
    raw = bytearray(digest.digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x50
    raw[8] = (raw[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(raw)))


def manifest(
    files: Sequence[BundleFile],
    *,
    org: str,
    projects: Sequence[str],
    release: str | None,
    dist: str | None,
    debug_id: str,
) -> dict[str, object]:
    """manifest.json as sentry-cli writes it (project only when there is exactly one)."""
    entries = {
        bundle_path(f.url): {
            "type": f.type,
            "url": f.url,
            "headers": dict(sorted(f.headers.items())),
        }
        for f in files
    }
    body: dict[str, object] = {"files": entries, "debug_id": debug_id, "org": org}
    if len(projects) == 1:
        body["project"] = projects[0]
    if release:
        body["release"] = release
    if dist:
        body["dist"] = dist
    return body


def build_bundle(
    files: list[BundleFile],
    *,
    org: str,
    projects: Sequence[str],
    release: str | None,
    dist: str | None,
) -> tuple[memoryview, str]:
    """`(bundle bytes, bundle debug id)`: SYSB header + a deterministic stored ZIP, in memory."""
    spooled, debug_id = spool_bundle(files, org=org, projects=projects, release=release, dist=dist)
    with spooled:
        return memoryview(spooled.read(0, spooled.size)), debug_id


def spool_bundle(
    files: list[BundleFile],
    *,
    org: str,
    projects: Sequence[str],
    release: str | None,
    dist: str | None,
    consume: bool = False,
) -> tuple[SpooledBundle, str]:
    """The bundle written to a temporary file, for uploads that read it a chunk at a time.

    With `consume`, each file's content is released from `files` once it is in the ZIP, so
    a 100 MB build is never in memory twice; the chunks are read back only when sent.
    """
    order = sorted(range(len(files)), key=lambda i: files[i].url)
    ordered = [files[i] for i in order]
    debug_id = bundle_debug_id(ordered)
    meta = manifest(
        ordered, org=org, projects=projects, release=release, dist=dist, debug_id=debug_id
    )
    del ordered
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - owned by the SpooledBundle
    try:
        spool.write(SYSB_MAGIC + struct.pack("<I", SYSB_VERSION))
        _write_zip(spool, files, order, meta, consume)
        return SpooledBundle(spool, spool.tell()), debug_id
    except BaseException:
        spool.close()
        raise


class SpooledBundle:
    """A bundle in a temporary file: its size, thread-safe reads, chunk checksums."""

    def __init__(self, file: IO[bytes], size: int) -> None:
        self.file = file
        self.size = size
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self.size

    def read(self, offset: int, length: int) -> bytes:
        """`length` bytes from `offset` (parallel senders share the file)."""
        with self._lock:
            self.file.seek(offset)
            return self.file.read(length)

    def chunks(self, size: int) -> tuple[str, list[tuple[str, ChunkRef]]]:
        """`(sha1 of the whole bundle, [(sha1, ref)...])`, reading each chunk once."""
        whole = hashlib.sha1()
        pieces: list[tuple[str, ChunkRef]] = []
        for offset in range(0, max(self.size, 1), size):
            data = self.read(offset, size)
            whole.update(data)
            pieces.append((hashlib.sha1(data).hexdigest(), ChunkRef(self, offset, len(data))))
        return whole.hexdigest(), pieces

    def close(self) -> None:
        """Delete the temporary file."""
        self.file.close()

    def __enter__(self) -> SpooledBundle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class ChunkRef:
    """One chunk of a spooled bundle, read when it is sent."""

    bundle: SpooledBundle
    offset: int
    length: int

    def __len__(self) -> int:
        return self.length

    def __bytes__(self) -> bytes:
        return self.bundle.read(self.offset, self.length)


def _write_zip(
    spool: IO[bytes],
    files: list[BundleFile],
    order: Sequence[int],
    meta: dict[str, object],
    consume: bool,
) -> None:
    """Write the ZIP entries into `spool`."""

    def entry(name: str, content: bytes) -> None:
        info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
        info.compress_type = zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        archive.writestr(info, content)

    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_STORED) as archive:
        entry("manifest.json", json.dumps(meta, sort_keys=False).encode())
        for i in order:
            entry(bundle_path(files[i].url), files[i].content)
            if consume:
                files[i] = replace(files[i], content=b"")
