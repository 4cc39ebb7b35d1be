"""Where the chunks of an artifact bundle are cut: only between ZIP entries, so a file that
did not change between two releases lands in a chunk with the same bytes and the same SHA-1,
and Sentry's assemble answer (`missingChunks`) leaves it out of the next upload.

Sentry lets the client choose its chunks: `assemble_file` (`sentry/tasks/assemble.py`) maps
each listed checksum to its blob (a checksum may repeat), concatenates them in the listed order
and checks the whole file's SHA-1; `api/endpoints/chunk.py` refuses only a chunk larger than
`chunkSize` ("Chunk size too large"), more than 64 chunks in one request ("Too many chunks")
and more than 32 MiB in one request ("Request too large"); and
`organization_artifactbundle_assemble.py` (`find_missing_chunks`) names the chunks the
organization does not own yet, whichever upload sent them.

The rule, a pure function of the entries (their lengths and content keys):

- A group of entries ends after an entry when the entry decides so: always when the entry is
  at least `chunk_size / GROUP_FRACTION` long, otherwise with a probability of its length over
  that target, drawn from a hash of the entry's name and content. The boundary is decided by
  the entry itself, so adding or removing a file changes only its own group (and may merge
  or split its neighbours'); groups average about the target, so a first upload needs no more
  requests than one cut into `chunk_size` pieces (`chunksPerRequest` = 64 = `GROUP_FRACTION`).
- A large entry (at least `chunk_size / ALONE_FRACTION`, 256 KiB for 8 MiB chunks: vendor code
  and its map) also starts a new group, so it is a group of its own and a change in a small
  neighbour does not resend it. Each such entry adds at most one chunk, and it is at least
  chunk_size / 32 long, so the count stays within 64 chunks per chunk_size of bytes.
- A group never grows past `chunk_size`: an entry that would overflow it starts a new group,
  and a group (an entry) longer than `chunk_size` is split at fixed offsets from its own start.
- The manifest and the central directory, which change with every release, get their own
  chunks at the end. The 8-byte `SYSB` header rides with the first group.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

# Small entries are grouped to about chunk_size / 64 (128 KiB for Sentry's 8 MiB): 64 chunks
# of that size fill one request of chunk_size, so the chunk count never raises the request
# count of a first upload above that of fixed chunk_size pieces.
GROUP_FRACTION = 64
ALONE_FRACTION = 32


def ends_group(name: str, content_key: str, length: int, target: int) -> bool:
    """Whether an entry closes its group: long entries always, short ones by their hash."""
    if length >= target:
        return True
    draw = int.from_bytes(hashlib.sha1(f"{name}\0{content_key}".encode()).digest()[:4], "big")
    return draw * target < length * (1 << 32)


def split(start: int, end: int, chunk_size: int) -> list[tuple[int, int]]:
    """`[start, end)` as `(offset, length)` pieces of at most `chunk_size`, from `start`."""
    return [(o, min(chunk_size, end - o)) for o in range(start, end, chunk_size)]


def chunk_ranges(
    prefix: int,
    entries: Sequence[tuple[str, str, int]],
    tail: Sequence[int],
    chunk_size: int,
) -> list[tuple[int, int]]:
    """The `(offset, length)` of every chunk of a bundle laid out as
    `prefix bytes | entries (name, content key, length incl. local header) | tail parts`."""
    target = max(1, chunk_size // GROUP_FRACTION)
    alone = max(1, chunk_size // ALONE_FRACTION)
    ranges: list[tuple[int, int]] = []
    start, end = 0, prefix
    for name, key, length in entries:
        if end > start and (length >= alone or end - start + length > chunk_size):
            ranges += split(start, end, chunk_size)
            start = end
        end += length
        if ends_group(name, key, length, target):
            ranges += split(start, end, chunk_size)
            start = end
    if end > start:
        ranges += split(start, end, chunk_size)
        start = end
    for length in tail:
        end += length
        ranges += split(start, end, chunk_size)
        start = end
    return ranges or [(0, 0)]
