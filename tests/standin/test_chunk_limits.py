"""The stand-in refuses chunk requests as api/endpoints/chunk.py does (in its order, nothing
stored from a refused request), and answers missingChunks per organization as
organization_artifactbundle_assemble.py's `find_missing_chunks` does (#23)."""

from __future__ import annotations

import gzip
import hashlib

import pytest
import requests

from sentry_standin import DevServer
from sentry_standin.chunks import blobs, upload_state
from tests.helpers import ORG, TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _post(server: DevServer, org: str, *chunks: bytes) -> requests.Response:
    url = f"{server.url}api/0/organizations/{org}/chunk-upload/"
    parts = [("file_gzip", (hashlib.sha1(c).hexdigest(), gzip.compress(c))) for c in chunks]
    return requests.post(url, files=parts, headers=AUTH, timeout=10)


def _missing(server: DevServer, org: str, chunks: list[str]) -> list[str]:
    response = requests.post(
        f"{server.url}api/0/organizations/{org}/artifactbundle/assemble/",
        json={"checksum": "0" * 40, "chunks": chunks, "projects": ["web"], "version": "1"},
        headers=AUTH,
        timeout=10,
    )
    response.raise_for_status()
    missing: list[str] = response.json()["missingChunks"]
    return missing


@pytest.mark.parametrize(
    ("limits", "sizes", "error"),
    [
        ({"chunkSize": 100}, [101], "Chunk size too large"),
        ({"chunkSize": 100, "maxRequestSize": 150}, [80, 80], "Request too large"),
        ({"chunksPerRequest": 3}, [1, 2, 3, 4], "Too many chunks"),
        # a chunk too large is named first, as Sentry checks it first
        (
            {"chunkSize": 100, "maxRequestSize": 150, "chunksPerRequest": 1},
            [101, 80],
            "Chunk size too large",
        ),
    ],
)
def test_limits_of_a_chunk_request(
    server: DevServer, limits: dict[str, int], sizes: list[int], error: str
) -> None:
    upload_state(server.store).update(limits)
    chunks = [bytes([i + 1]) * size for i, size in enumerate(sizes)]  # sizes uncompressed
    refused = _post(server, ORG, *chunks)
    assert refused.status_code == 400 and refused.json() == {"error": error}
    assert not blobs(server.store)  # nothing kept from a refused request
    assert _post(server, ORG, *chunks[:1]).status_code == (400 if sizes[0] > 100 else 200)


def test_missing_chunks_are_per_organization(server: DevServer) -> None:
    server.store.add_org("other", ["web"])
    data = b"shared chunk"
    checksum = hashlib.sha1(data).hexdigest()
    assert _post(server, ORG, data).status_code == 200
    assert _missing(server, ORG, [checksum]) == []
    assert _missing(server, "other", [checksum]) == [checksum]  # not this org's blob
    assert _post(server, "other", data).status_code == 200
    assert _missing(server, "other", [checksum]) == []
