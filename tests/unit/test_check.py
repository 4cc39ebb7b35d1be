"""`check`: each row from what Sentry answers, with `responses` playing Sentry."""

from __future__ import annotations

import pytest
import responses

from sentry_release.config.settings import CommitOptions, DeployOptions, GatePolicy, Settings
from sentry_release.sentry.api import SentryApi
from sentry_release.sentry.transport import RetryPolicy
from sentry_release.steps.check import MISSING, NOT_FOUND, OK, UNVERIFIABLE, run_check

BASE = "https://sentry.example.com/"
API = BASE + "api/0"


def settings(**changes: object) -> Settings:
    base = Settings(
        url=BASE,
        auth_token="t0ken",
        org="acme",
        projects=("web",),
        commits=CommitOptions(mode="auto"),
        deploy=DeployOptions(environment="production"),
    )
    return base.with_changes(**changes)


def api() -> SentryApi:
    return SentryApi(BASE, "t0ken", retry=RetryPolicy(attempts=1))


def root(*held: str) -> None:
    responses.get(f"{API}/", json={"version": "0", "auth": {"scopes": list(held)}, "user": None})


def statuses(result: object) -> dict[str, str]:
    return {row.what: row.status for row in result.rows}  # type: ignore[attr-defined]


@responses.activate
def test_an_org_ci_token_can_release_but_cannot_verify_projects() -> None:
    root("org:ci")
    responses.get(f"{API}/organizations/acme/releases/", json=[])
    result = run_check(settings(), api())
    rows = statuses(result)
    assert rows["organization acme"] == OK
    assert rows["project web"] == UNVERIFIABLE  # org:ci cannot list projects: not "missing"
    assert rows["create and finalize releases"] == OK
    assert rows["record deploys"] == OK
    assert rows["list integration repositories (set-commits auto)"] == OK
    assert result.ok


@responses.activate
def test_the_gate_with_an_org_token_reports_the_missing_scope() -> None:
    root("org:ci")
    responses.get(f"{API}/organizations/acme/releases/", json=[])
    result = run_check(settings(gate=GatePolicy(enabled=True)), api())
    rows = {r.what: r for r in result.rows}
    issues = rows["read issues (gate)"]
    assert issues.status == MISSING and "event:read" in issues.detail
    assert not result.ok


@responses.activate
def test_a_user_token_sees_projects_and_names_a_missing_one() -> None:
    root("project:releases", "org:read", "event:read")
    responses.get(f"{API}/organizations/acme/releases/", json=[])
    responses.get(
        f"{API}/organizations/acme/projects/",
        json=[{"id": "11", "slug": "web"}, {"id": "12", "slug": "api"}],
    )
    result = run_check(settings(projects=("web", "ghost")), api())
    rows = {r.what: r for r in result.rows}
    assert rows["project web"].status == OK and rows["project web"].detail == "id 11"
    assert rows["project ghost"].status == NOT_FOUND
    assert not result.ok


@responses.activate
def test_an_unknown_organization_is_not_found() -> None:
    root("org:ci")
    responses.get(
        f"{API}/organizations/acme/releases/",
        status=404,
        json={"detail": "The requested resource does not exist"},
    )
    assert statuses(run_check(settings(), api()))["organization acme"] == NOT_FOUND


@pytest.mark.parametrize("status", [401, 403])
@responses.activate
def test_a_rejected_token_stops_the_check(status: int) -> None:
    responses.get(f"{API}/", status=status, json={"detail": "Invalid token"})
    result = run_check(settings(), api())
    assert [r.status for r in result.rows] == ["rejected"]
    assert len(responses.calls) == 1 and not result.ok


@responses.activate
def test_a_token_without_release_scopes_is_missing_them() -> None:
    root("event:read")
    result = run_check(settings(), api())
    rows = statuses(result)
    assert rows["create and finalize releases"] == MISSING
    assert rows["organization acme"] == UNVERIFIABLE
    assert not result.ok
