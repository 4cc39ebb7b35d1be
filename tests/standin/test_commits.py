"""The stand-in's commit endpoints over HTTP: Sentry's replace semantics, validation, refs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sentry_standin import DevServer
from sentry_standin.main import build_server

TOKEN = "t0k3n"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def srv() -> Iterator[DevServer]:
    server = build_server(
        orgs=("acme",),
        projects=("web",),
        tokens=(TOKEN,),
        repos=("acme/web=https://github.com/acme/web",),
    )
    with server:
        yield server


def call(srv: DevServer, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(
        method, f"{srv.url}api/0/organizations/acme{path}", json=body, headers=HEADERS, timeout=10
    )


def commit(sha: str, message: str = "m", **extra: Any) -> dict[str, Any]:
    return {"id": sha, "repository": "acme/web", "message": message, **extra}


def test_repo_flag_registers_an_integration_repo_and_keeps_every_route(srv: DevServer) -> None:
    repos = call(srv, "GET", "/repos/").json()
    assert [(r["name"], r["url"], r["provider"]["id"]) for r in repos] == [
        ("acme/web", "https://github.com/acme/web", "integrations:github")
    ]
    assert call(srv, "POST", "/releases/", {"version": "1", "projects": ["web"]}).status_code == 201


def test_second_commits_put_replaces_like_sentry(srv: DevServer) -> None:
    call(srv, "POST", "/releases/", {"version": "1", "projects": ["web"]})
    call(srv, "PUT", "/releases/1/", {"commits": [commit("a" * 40), commit("b" * 40)]})
    response = call(srv, "PUT", "/releases/1/", {"commits": [commit("c" * 40)]})
    assert response.json()["commitCount"] == 1
    assert response.json()["lastCommit"]["id"] == "c" * 40
    assert [c["id"] for c in call(srv, "GET", "/releases/1/commits/").json()] == ["c" * 40]


def test_commits_validated_as_sentry_does(srv: DevServer) -> None:
    call(srv, "POST", "/releases/", {"version": "1", "projects": ["web"]})
    bad_type = commit("a" * 40, patch_set=[{"path": "x", "type": "R"}])
    response = call(srv, "PUT", "/releases/1/", {"commits": [bad_type]})
    assert response.status_code == 400
    assert "Commit patch_set type R is not supported." in response.text
    long_email = commit("a" * 40, author_email="e" * 80)
    assert call(srv, "PUT", "/releases/1/", {"commits": [long_email]}).status_code == 400
    assert call(srv, "PUT", "/releases/1/", {"commits": [{"message": "x"}]}).status_code == 400


def test_skipsentry_commits_are_dropped_and_unknown_repos_created(srv: DevServer) -> None:
    call(srv, "POST", "/releases/", {"version": "1", "projects": ["web"]})
    body = {
        "commits": [
            {"id": "a" * 40, "repository": "origin", "message": "wip #skipsentry"},
            {"id": "b" * 40, "repository": "origin", "message": "real"},
        ]
    }
    assert call(srv, "PUT", "/releases/1/", body).json()["commitCount"] == 1
    names = {r["name"]: r["provider"]["id"] for r in call(srv, "GET", "/repos/").json()}
    assert names == {"acme/web": "integrations:github", "origin": "unknown"}


def test_refs_need_a_known_repository(srv: DevServer) -> None:
    call(srv, "POST", "/releases/", {"version": "1", "projects": ["web"]})
    response = call(
        srv, "PUT", "/releases/1/", {"refs": [{"repository": "acme/nope", "commit": "a" * 40}]}
    )
    assert response.status_code == 400
    assert response.json() == {"refs": ["Invalid repository names: acme/nope"]}


def test_unresolvable_refs_record_the_head_only(srv: DevServer) -> None:
    call(srv, "POST", "/releases/", {"version": "1", "projects": ["web"]})
    refs = [{"repository": "acme/web", "commit": "a" * 40, "previousCommit": "b" * 40}]
    answer = call(srv, "PUT", "/releases/1/", {"refs": refs}).json()
    assert answer["lastCommit"] is None  # Sentry resolves refs in a background task
    release = call(srv, "GET", "/releases/1/").json()
    assert release["lastCommit"]["id"] == "a" * 40
    assert release["commitCount"] == 0
    call(srv, "POST", "/releases/", {"version": "2", "projects": ["web"]})
    previous = call(srv, "GET", "/releases/2/previous-with-commits/").json()
    assert previous["version"] == "1"
