"""Permissions the real Sentry 23.7.1 showed, or its code shows, held by the stand-in in every
mode (issue #21): the events endpoints have no permission class of their own, so they check
OrganizationPermission (org:read), not event:read (`api/bases/organization_events.py`); the
suspect-commit endpoint is a ProjectEndpoint (project:read,
`api/endpoints/event_file_committers.py`)."""

from __future__ import annotations

import pytest
import requests

from sentry_standin import DevServer, Options, Store

ORG = "acme"
EVENT_ONLY = "event-only=event:read"
ORG_ONLY = "org-only=org:read"
PROJECT_ONLY = "project-only=project:read"


@pytest.mark.parametrize("modes", [frozenset(), frozenset({"self-hosted-23.7"})])
@pytest.mark.parametrize(
    ("path", "allowed", "refused"),
    [
        ("/events/?field=count()&dataset=discover", ORG_ONLY, EVENT_ONLY),
        ("/events-stats/?yAxis=count()&dataset=discover&interval=1h", ORG_ONLY, EVENT_ONLY),
        ("/sessions/?field=sum(session)&interval=1h", ORG_ONLY, EVENT_ONLY),
        ("/issues/", EVENT_ONLY, ORG_ONLY),
    ],
)
def test_the_scope_each_gate_read_needs(
    modes: frozenset[str], path: str, allowed: str, refused: str
) -> None:
    store = Store(orgs=(ORG,), projects=("web",), tokens=(EVENT_ONLY, ORG_ONLY))
    with DevServer(store, options=Options(modes=modes)) as server:
        web = store.project(ORG, "web")
        assert web is not None
        url = f"{server.url}api/0/organizations/{ORG}{path}"
        url += ("&" if "?" in url else "?") + f"project={web['id']}"

        def status(token: str) -> int:
            auth = {"Authorization": f"Bearer {token.partition('=')[0]}"}
            return requests.get(url, headers=auth, timeout=10).status_code

        assert status(allowed) == 200
        assert status(refused) == 403


def test_committers_need_project_read_not_event_read() -> None:
    store = Store(orgs=(ORG,), projects=("web",), tokens=(EVENT_ONLY, PROJECT_ONLY))
    with DevServer(store) as server:
        url = f"{server.url}api/0/projects/{ORG}/web/events/{'0' * 32}/committers/"

        def status(token: str) -> int:
            auth = {"Authorization": f"Bearer {token.partition('=')[0]}"}
            return requests.get(url, headers=auth, timeout=10).status_code

        assert status(EVENT_ONLY) == 403
        assert status(PROJECT_ONLY) == 404  # allowed; no such event
