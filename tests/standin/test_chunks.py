"""The stand-in's chunk endpoints answer like Sentry: sha1 checks, missingChunks, states."""

from __future__ import annotations

import gzip
import hashlib
from typing import Any

import requests

from sentry_standin import DevServer
from tests.helpers import ORG, TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def options(server: DevServer) -> dict[str, Any]:
    response = requests.get(
        f"{server.url}api/0/organizations/{ORG}/chunk-upload/", headers=AUTH, timeout=10
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def assemble(server: DevServer, checksum: str, chunks: list[str]) -> dict[str, Any]:
    response = requests.post(
        f"{server.url}api/0/organizations/{ORG}/artifactbundle/assemble/",
        json={"checksum": checksum, "chunks": chunks, "projects": ["web"], "version": "1"},
        headers=AUTH,
        timeout=10,
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def test_options_name_an_absolute_url_and_the_v2_protocol(server: DevServer) -> None:
    body = options(server)
    assert body["url"] == f"{server.url}api/0/organizations/{ORG}/chunk-upload/"
    assert "artifact_bundles_v2" in body["accept"] and body["compression"] == ["gzip"]
    assert requests.get(body["url"], timeout=10).status_code == 401


def test_chunk_checksum_is_verified(server: DevServer) -> None:
    url = options(server)["url"]
    data = b"hello chunk"
    good = hashlib.sha1(data).hexdigest()
    bad = requests.post(
        url, files=[("file_gzip", ("0" * 40, gzip.compress(data)))], headers=AUTH, timeout=10
    )
    assert bad.status_code == 400 and "Checksum mismatch" in bad.json()["detail"]
    ok = requests.post(
        url, files=[("file_gzip", (good, gzip.compress(data)))], headers=AUTH, timeout=10
    )
    assert ok.status_code == 200


def test_assemble_reports_missing_then_errors_on_a_non_zip(server: DevServer) -> None:
    data = b"not a zip at all"
    checksum = hashlib.sha1(data).hexdigest()
    first = assemble(server, checksum, [checksum])
    assert first["state"] == "not_found" and first["missingChunks"] == [checksum]
    requests.post(
        options(server)["url"], files=[("file", (checksum, data))], headers=AUTH, timeout=10
    )
    second = assemble(server, checksum, [checksum])
    assert second["state"] == "error" and "Invalid artifact bundle" in second["detail"]
    wrong = assemble(server, "f" * 40, [checksum])
    assert wrong["state"] == "error" and "checksum" in wrong["detail"]
