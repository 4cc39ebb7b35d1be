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
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO
from urllib.parse import urlsplit

from sentry_release.errors import SourceMapError

SYSB_MAGIC = b"SYSB"
SYSB_VERSION = 2
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
MINIFIED_SOURCE = "minified_source"
SOURCE_MAP = "source_map"
SOURCE = "source"
# sentry-cli hashes Rust's Debug name of the file type into the bundle id.
_TYPE_NAMES = {MINIFIED_SOURCE: "MinifiedSource", SOURCE_MAP: "SourceMap", SOURCE: "Source"}


class Changed(SourceMapError):
    """A file whose bytes differ from what the validating pass saw (see `Deferred`); exit 2."""

    def __init__(self, where: str, why: str = "changed") -> None:
        super().__init__(
            f"{where} {why} after it was checked and before it was used: "
            "run again once the build output no longer changes"
        )


@dataclass(frozen=True)
class Deferred:
    """A file's final bytes, known by size and SHA-1 and produced again only when needed.

    The validating pass keeps this instead of the bytes; `load` derives them again (read,
    inject, rewrite) when the bundle is written, and a file whose bytes changed in between
    raises `Changed` rather than going up inconsistent with what was checked.
    """

    size: int
    sha1: str
    produce: Callable[[], bytes]
    where: str = ""

    def load(self) -> bytes:
        """The bytes again, checked against the size and SHA-1 of the first pass."""
        try:
            data = self.produce()
        except OSError as exc:
            raise Changed(self.where, f"could not be read again ({exc.strerror or exc})") from None
        if len(data) != self.size or hashlib.sha1(data).hexdigest() != self.sha1:
            raise Changed(self.where)
        return data


@dataclass(frozen=True)
class BundleFile:
    """One file as it goes into the bundle: its bytes, or a `Deferred` that makes them."""

    url: str
    type: str
    source: bytes | Deferred
    headers: dict[str, str] = field(default_factory=dict)
    local_path: str = ""

    @property
    def content(self) -> bytes:
        """The bytes (a deferred file is read and checked again on every access)."""
        return self.source if isinstance(self.source, bytes) else self.source.load()

    @property
    def size(self) -> int:
        """Length of the bytes, without producing them."""
        return len(self.source) if isinstance(self.source, bytes) else self.source.size


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


class BundleId:
    """sentry-cli's bundle id, fed one file at a time (in URL order): SHA-1 over each file's
    url, bytes, type and sorted headers, as a version-5 UUID."""

    def __init__(self) -> None:
        self._digest = hashlib.sha1()

    def add(self, item: BundleFile, content: bytes) -> None:
        """Hash the next file (`content`: its bytes, produced once by the caller)."""
        self._digest.update(item.url.encode())
        self._digest.update(content)
        self._digest.update(_TYPE_NAMES.get(item.type, item.type).encode())
        for key, value in sorted(item.headers.items()):
            self._digest.update(key.encode())
            self._digest.update(value.encode())

    def value(self) -> str:
        """The id of the files added so far."""
        raw = bytearray(self._digest.digest()[:16])
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


# A placeholder as long as every id (`str(uuid.UUID(...))` is always 36 characters): the
# manifest goes first in the ZIP, as sentry-cli writes it, but its id is known only once every
# file has been hashed, so it is written with this and patched in place at the end.
_PLACEHOLDER_ID = "00000000-0000-5000-8000-000000000000"


def spool_bundle(
    files: Sequence[BundleFile],
    *,
    org: str,
    projects: Sequence[str],
    release: str | None,
    dist: str | None,
) -> tuple[SpooledBundle, str]:
    """The bundle written to a temporary file, one file at a time, for uploads that read it a
    chunk at a time.

    Each file's bytes are produced (a `Deferred` is read again), hashed into the bundle id and
    written, then dropped: memory holds one file, whatever the size of the build. The bytes are
    those of writing the whole ZIP at once (manifest first, files in URL order).
    """
    ordered = sorted(files, key=lambda f: f.url)
    meta = manifest(
        ordered, org=org, projects=projects, release=release, dist=dist, debug_id=_PLACEHOLDER_ID
    )
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - owned by the SpooledBundle
    try:
        spool.write(SYSB_MAGIC + struct.pack("<I", SYSB_VERSION))
        debug_id = _write_zip(spool, ordered, meta)
        return SpooledBundle(spool, spool.tell()), debug_id
    except BaseException:
        spool.close()
        raise


_SLICE = 1 << 20  # bytes read at once when hashing a chunk


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
            ref = ChunkRef(self, offset, min(size, self.size - offset))
            one = hashlib.sha1()
            for data in ref.slices(_SLICE):
                whole.update(data)
                one.update(data)
            pieces.append((one.hexdigest(), ref))
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

    def slices(self, size: int) -> Iterator[bytes]:
        """The chunk read `size` bytes at a time."""
        for start in range(self.offset, self.offset + self.length, size):
            yield self.bundle.read(start, min(size, self.offset + self.length - start))


def _write_zip(spool: IO[bytes], ordered: Sequence[BundleFile], meta: dict[str, object]) -> str:
    """Write the ZIP entries into `spool` (see `spool_bundle`); returns the bundle id."""

    def entry(name: str, content: bytes) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
        info.compress_type = zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        archive.writestr(info, content)
        return info

    ids = BundleId()
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_STORED) as archive:
        placeholder = json.dumps(meta, sort_keys=False).encode()
        head = entry("manifest.json", placeholder)
        for item in ordered:
            content = item.content
            ids.add(item, content)
            entry(bundle_path(item.url), content)
            del content
        debug_id = ids.value()
        final = json.dumps({**meta, "debug_id": debug_id}, sort_keys=False).encode()
        if len(final) != len(placeholder):  # cannot happen: ids are all 36 characters
            raise AssertionError("bundle id changed the manifest's length")
        # Patch the manifest in place: its bytes, and the CRC in the local header (offset 14)
        # and in the central directory (written from `head` when the archive closes).
        end = spool.tell()
        head.CRC = zlib.crc32(final)
        spool.seek(head.header_offset + 14)
        spool.write(struct.pack("<I", head.CRC))
        spool.seek(head.header_offset + 30 + len(head.filename.encode()) + len(head.extra))
        spool.write(final)
        spool.seek(end)
    return debug_id
