"""Artifact bundles: the manifest entries sentry-cli writes, in a ZIP that is byte-for-byte
deterministic, so an unchanged build yields the same chunks and a re-run uploads nothing;
and whose every entry has the same bytes whenever its name and content are, so the chunks cut
between entries (`layout.py`) of an unchanged file are reused by the next release.

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
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO
from urllib.parse import urlsplit

from sentry_release.errors import SourceMapError
from sentry_release.sentry.models import DEFAULT_CHUNK_SIZE
from sentry_release.sourcemaps.layout import chunk_ranges, split
from sentry_release.sourcemaps.memory import TooBigForMemory, reading
from sentry_release.sourcemaps.paths import open_regular

SYSB_MAGIC = b"SYSB"
SYSB_VERSION = 2
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
MINIFIED_SOURCE = "minified_source"
SOURCE_MAP = "source_map"
SOURCE = "source"
# sentry-cli hashes Rust's Debug name of the file type into the bundle id.
_TYPE_NAMES = {MINIFIED_SOURCE: "MinifiedSource", SOURCE_MAP: "SourceMap", SOURCE: "Source"}
_SLICE = 1 << 20  # bytes read at once when streaming a file or hashing a chunk


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
    # CRC-32 of the bytes when they are the file at `where` as it is on disk (not rewritten):
    # then the bundle streams them in slices (`slices`), never holding the file whole.
    crc: int | None = None

    def load(self) -> bytes:
        """The bytes again, checked against the size and SHA-1 of the first pass."""
        try:
            with reading(self.where):  # a MemoryError: exit 2 naming the file
                data = self.produce()
        except TooBigForMemory as exc:
            raise SourceMapError(f"{self.where}: {exc.strerror}") from None
        except OSError as exc:
            raise Changed(self.where, f"could not be read again ({exc.strerror or exc})") from None
        if len(data) != self.size or hashlib.sha1(data).hexdigest() != self.sha1:
            raise Changed(self.where)
        return data

    def slices(self) -> Iterator[bytes]:
        """The file at `where` again, `_SLICE` bytes at a time (at most one byte more than
        `size`, which shows a file that grew); Changed at the end if its bytes differ."""
        digest = hashlib.sha1()
        count = 0
        try:
            handle = open_regular(self.where)
        except OSError as exc:
            raise Changed(self.where, f"could not be read again ({exc.strerror or exc})") from None
        with handle:
            while True:
                try:
                    piece = handle.read(min(_SLICE, self.size + 1 - count))
                except OSError as exc:
                    why = f"could not be read again ({exc.strerror or exc})"
                    raise Changed(self.where, why) from None
                if not piece:
                    break
                digest.update(piece)
                count += len(piece)
                yield piece
        if count != self.size or digest.hexdigest() != self.sha1:
            raise Changed(self.where)


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
        self.start(item)
        self.update(content)
        self.end(item)

    def start(self, item: BundleFile) -> None:
        """Begin the next file; its bytes follow in `update`s (in slices), then `end`."""
        self._digest.update(item.url.encode())

    def update(self, piece: bytes) -> None:
        """The next bytes of the file begun."""
        self._digest.update(piece)

    def end(self, item: BundleFile) -> None:
        """End the file begun: its type and headers."""
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
# manifest's length enters the chunk layout, which is planned before any file is hashed.
_PLACEHOLDER_ID = "00000000-0000-5000-8000-000000000000"

# ZIP records (APPNOTE 4.3.7, 4.3.12, 4.3.16), written as Python's zipfile writes a stored
# entry: version 2.0, made on Unix, the UTF-8 flag only for non-ASCII names, mode 0644.
_LOCAL = struct.Struct("<4s5H3I2H")
_CENTRAL = struct.Struct("<4s6H3I5H2I")
_END = struct.Struct("<4s4H2IH")
_VERSION, _MADE_BY, _UTF8 = 20, (3 << 8) | 20, 0x800
_DOS_TIME, _DOS_DATE = 0, ((ZIP_EPOCH[0] - 1980) << 9) | (ZIP_EPOCH[1] << 5) | ZIP_EPOCH[2]
_MODE = 0o644 << 16
_ZIP_LIMIT = 0xFFFFFFFF  # no ZIP64: Sentry's own limit (2 GiB per file) is far below


@dataclass(frozen=True)
class _Entry:
    """One ZIP entry as planned: its name, CRC-free identity, and data length."""

    name: bytes
    flags: int
    key: str  # SHA-1 of the data (hex)
    size: int

    @classmethod
    def of(cls, name: str, key: str, size: int) -> _Entry:
        flags = 0 if name.isascii() else _UTF8
        return cls(name.encode(), flags, key, size)

    @property
    def length(self) -> int:
        """Local header plus data: the bytes this entry adds to the archive."""
        return _LOCAL.size + len(self.name) + self.size

    def local_header(self, crc: int) -> bytes:
        return _LOCAL.pack(
            b"PK\x03\x04", _VERSION, self.flags, 0, _DOS_TIME, _DOS_DATE,
            crc, self.size, self.size, len(self.name), 0,
        ) + self.name  # fmt: skip

    def central(self, crc: int, offset: int) -> bytes:
        return _CENTRAL.pack(
            b"PK\x01\x02", _MADE_BY, _VERSION, self.flags, 0, _DOS_TIME, _DOS_DATE,
            crc, self.size, self.size, len(self.name), 0, 0, 0, 0, _MODE, offset,
        ) + self.name  # fmt: skip


def spool_bundle(
    files: Sequence[BundleFile],
    *,
    org: str,
    projects: Sequence[str],
    release: str | None,
    dist: str | None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> tuple[SpooledBundle, str]:
    """The bundle written to a temporary file, one file at a time, its chunks hashed as they
    are written (cut by `layout.chunk_ranges` for `chunk_size`).

    Layout: `SYSB` header, the files in URL order, `manifest.json`, the central directory.
    Each entry's bytes depend only on its name and content, so an unchanged file keeps its
    chunk across releases. Each file's bytes are produced (a `Deferred` is read again and
    checked), hashed into the bundle id and written, then dropped: memory holds one file; a
    file uploaded as it is on disk (`Deferred.crc`) is streamed in slices and checked at its
    end, so memory holds one slice.
    """
    ordered = sorted(files, key=lambda f: f.url)
    meta = manifest(
        ordered, org=org, projects=projects, release=release, dist=dist, debug_id=_PLACEHOLDER_ID
    )
    placeholder = json.dumps(meta, sort_keys=False).encode()
    entries = [_Entry.of(bundle_path(f.url), _key(f), f.size) for f in ordered]
    head = _Entry.of("manifest.json", "", len(placeholder))
    prefix = SYSB_MAGIC + struct.pack("<I", SYSB_VERSION)
    plan = _Plan(len(prefix), entries, head)
    if plan.size > _ZIP_LIMIT or len(entries) >= 0xFFFF:
        raise SourceMapError(
            f"the bundle would be {plan.size} bytes in {len(entries)} files, beyond a ZIP "
            "without ZIP64: upload the directories in separate steps"
        )
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - owned by the SpooledBundle
    try:
        sink = _Sink(spool, plan.ranges(chunk_size))
        sink.write(prefix)
        ids = BundleId()
        crcs: list[int] = []
        for item, entry in zip(ordered, entries, strict=True):
            if isinstance(item.source, Deferred) and item.source.crc is not None:
                crcs.append(item.source.crc)  # a file as it is on disk: streamed in slices
                sink.write(entry.local_header(crcs[-1]))
                ids.start(item)
                for piece in item.source.slices():
                    ids.update(piece)
                    sink.write(piece)
                ids.end(item)
                continue
            content = item.content
            ids.add(item, content)
            crcs.append(zlib.crc32(content))
            sink.write(entry.local_header(crcs[-1]))
            sink.write(content)
            del content
        debug_id = ids.value()
        final = json.dumps({**meta, "debug_id": debug_id}, sort_keys=False).encode()
        if len(final) != len(placeholder):  # cannot happen: ids are all 36 characters
            raise AssertionError("bundle id changed the manifest's length")
        crcs.append(zlib.crc32(final))
        sink.write(head.local_header(crcs[-1]) + final)
        sink.write(plan.directory(crcs))
        checksum, sums = sink.finish()
        bundle = SpooledBundle(spool, sink.offset, plan)
        bundle.remember(chunk_size, checksum, sums)
        return bundle, debug_id
    except BaseException:
        spool.close()
        raise


def _key(item: BundleFile) -> str:
    """The content SHA-1 the validating pass saw (known without reading the file again)."""
    if isinstance(item.source, Deferred):
        return item.source.sha1
    return hashlib.sha1(item.source).hexdigest()


class _Plan:
    """Offsets of every record of the archive, known before any byte is written."""

    def __init__(self, prefix: int, entries: Sequence[_Entry], head: _Entry) -> None:
        self.prefix = prefix
        self.entries = [*entries, head]
        self.offsets: list[int] = []
        at = prefix
        for entry in self.entries:
            self.offsets.append(at)
            at += entry.length
        self.directory_at = at
        self.directory_size = sum(_CENTRAL.size + len(e.name) for e in self.entries)
        self.size = at + self.directory_size + _END.size

    def ranges(self, chunk_size: int) -> list[tuple[int, int]]:
        """The chunks for `chunk_size` (`layout.chunk_ranges`)."""
        files = [(e.name.decode(), e.key, e.length) for e in self.entries[:-1]]
        tail = [self.entries[-1].length, self.directory_size + _END.size]
        return chunk_ranges(self.prefix, files, tail, chunk_size)

    def directory(self, crcs: Sequence[int]) -> bytes:
        """Central directory and end record (offsets from the start of the file, as zipfile
        writes them after the `SYSB` header)."""
        records = [
            e.central(crc, offset)
            for e, crc, offset in zip(self.entries, crcs, self.offsets, strict=True)
        ]
        count = len(self.entries)
        end = _END.pack(
            b"PK\x05\x06", 0, 0, count, count, self.directory_size, self.directory_at, 0
        )
        return b"".join(records) + end


class _Sink:
    """Writes the archive and hashes it on the way: the whole file and each planned chunk."""

    def __init__(self, file: IO[bytes], ranges: Sequence[tuple[int, int]]) -> None:
        self.file = file
        self.ends = [offset + length for offset, length in ranges]
        self.offset = 0
        self.whole = hashlib.sha1()
        self.current = hashlib.sha1()
        self.sums: list[str] = []

    def write(self, data: bytes) -> None:
        self.file.write(data)
        self.whole.update(data)
        view = memoryview(data)
        while view:
            room = self.ends[len(self.sums)] - self.offset
            piece, view = view[:room], view[room:]
            self.current.update(piece)
            self.offset += len(piece)
            if self.offset == self.ends[len(self.sums)]:
                self.sums.append(self.current.hexdigest())
                self.current = hashlib.sha1()

    def finish(self) -> tuple[str, list[str]]:
        while len(self.sums) < len(self.ends):  # an empty last range
            self.sums.append(self.current.hexdigest())
        return self.whole.hexdigest(), self.sums


class SpooledBundle:
    """A bundle in a temporary file: its size, thread-safe reads, chunk checksums."""

    def __init__(self, file: IO[bytes], size: int, plan: _Plan | None = None) -> None:
        self.file = file
        self.size = size
        self._plan = plan
        self._lock = threading.Lock()
        self._known: dict[int, tuple[str, list[str]]] = {}

    def __len__(self) -> int:
        return self.size

    def remember(self, chunk_size: int, checksum: str, sums: list[str]) -> None:
        """Keep the checksums hashed while writing, for `chunks(chunk_size)`."""
        self._known[chunk_size] = (checksum, sums)

    def read(self, offset: int, length: int) -> bytes:
        """`length` bytes from `offset` (parallel senders share the file)."""
        with self._lock:
            self.file.seek(offset)
            return self.file.read(length)

    def chunks(self, size: int) -> tuple[str, list[tuple[str, ChunkRef]]]:
        """`(sha1 of the whole bundle, [(sha1, ref)...])` cut for a `chunkSize` of `size`:
        from the hashes taken while writing, or (another size) reading each chunk once."""
        if self._plan is not None:
            ranges = self._plan.ranges(size)
        else:
            ranges = split(0, max(self.size, 1), size)
        refs = [
            ChunkRef(self, offset, min(length, self.size - offset)) for offset, length in ranges
        ]
        if size in self._known:
            checksum, sums = self._known[size]
            return checksum, list(zip(sums, refs, strict=True))
        whole = hashlib.sha1()
        pieces: list[tuple[str, ChunkRef]] = []
        for ref in refs:
            one = hashlib.sha1()
            for data in ref.slices(_SLICE):
                whole.update(data)
                one.update(data)
            pieces.append((one.hexdigest(), ref))
        self._known[size] = (whole.hexdigest(), [s for s, _r in pieces])
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
