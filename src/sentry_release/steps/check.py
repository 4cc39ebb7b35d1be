"""`check`: before anything is written, can this configuration run against this Sentry?

Reads only: the API root (is the URL Sentry, is the token accepted, which scopes it holds:
`api/endpoints/index.py` answers `{"auth": {"scopes": [...]}}`), the organization (through
the releases list, which release scopes may read), the projects (which need org:read), and
for each step this configuration will run, whether the token holds a scope that grants it.
What a token cannot even read is reported as "cannot verify with this token", not as missing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from sentry_release.config.settings import Settings
from sentry_release.errors import AuthError, ConfigError, NotFoundError, SentryAPIError
from sentry_release.output import Output
from sentry_release.sentry import scopes
from sentry_release.sentry.api import SentryApi
from sentry_release.steps.commits import REPOS_LIST_SCOPES

OK = "ok"
MISSING = "missing scope"
NOT_FOUND = "not found"
UNVERIFIABLE = "cannot verify with this token"
FAILED = "failed"
# set-commits auto where the token may not list repositories (403, as on Sentry 23.7.1 for
# org:ci): the step still runs, from the local git history.
LOCAL_FALLBACK = "falls back to local history"


@dataclass(frozen=True)
class CheckRow:
    """One thing checked: what, its status and what to do about it."""

    what: str
    status: str
    detail: str = ""


@dataclass(frozen=True)
class CheckResult:
    """Every row; the configuration can run when none is missing, not found or failed."""

    rows: tuple[CheckRow, ...]

    @property
    def ok(self) -> bool:
        """Nothing that would make a step fail was found."""
        return all(r.status in (OK, UNVERIFIABLE, LOCAL_FALLBACK) for r in self.rows)

    @property
    def problems(self) -> tuple[CheckRow, ...]:
        """The rows that would make a step fail."""
        return tuple(r for r in self.rows if r.status not in (OK, UNVERIFIABLE, LOCAL_FALLBACK))


def needs_of(settings: Settings) -> list[scopes.Need]:
    """The permissions the steps this configuration will run need (main token)."""
    needs: list[scopes.Need] = []
    if settings.create or settings.finalize:
        needs.append(scopes.RELEASES)
    if settings.commits.mode != "skip":
        needs.append(scopes.COMMITS)
        if settings.commits.mode == "auto":
            needs.append(scopes.REPOS)
    if settings.sourcemaps.paths:
        needs.append(scopes.UPLOAD)
    if settings.deploy.enabled and settings.deploy.environment:
        needs.append(scopes.DEPLOY)
    return needs


def gate_needs_of(settings: Settings) -> list[scopes.Need]:
    """What the gate's reads need (its own token where one is given)."""
    if not settings.gate.enabled:
        return []
    return [scopes.GATE_ISSUES, scopes.GATE_SESSIONS, scopes.PROJECTS]


def run_check(settings: Settings, api: SentryApi, gate_api: SentryApi | None = None) -> CheckResult:
    """Every check, in order; stops early only when the URL or the token is unusable."""
    assert settings.org is not None
    rows: list[CheckRow] = []
    held = _token_row(api, "auth token", rows)
    if held is None:
        return CheckResult(tuple(rows))
    rows.append(_org_row(api, settings.org, held))
    rows.extend(_project_rows(api, settings.org, settings.projects, held))
    rows.extend(
        _repos_row(api, settings.org, row) for row in _scope_rows(needs_of(settings), held, "token")
    )
    gate_needs = gate_needs_of(settings)
    if gate_needs:
        gate_held: frozenset[str] | None = held
        if gate_api is not None and gate_api is not api:
            gate_held = _token_row(gate_api, "gate auth token", rows)
        if gate_held is not None:
            rows.extend(_scope_rows(gate_needs, gate_held, "gate token"))
    return CheckResult(tuple(rows))


def _token_row(api: SentryApi, label: str, rows: list[CheckRow]) -> frozenset[str] | None:
    """Whether the URL answers and accepts the token; the token's scopes (empty when the
    server does not say them). None when nothing more can be checked."""
    try:
        info = api.auth_info()
    except AuthError as exc:
        rows.append(CheckRow(label, "rejected", exc.detail or str(exc)))
        return None
    except SentryAPIError as exc:
        rows.append(CheckRow(f"Sentry at {api.transport.base_url}", FAILED, str(exc)))
        return None
    rows.append(CheckRow(f"Sentry at {api.transport.base_url}", OK, "answers"))
    if info is None:
        rows.append(CheckRow(label, "rejected", "Sentry did not recognise it"))
        return None
    shown = ", ".join(sorted(info)) if info else "scopes not reported by this Sentry"
    rows.append(CheckRow(label, OK, shown))
    return info


def _org_row(api: SentryApi, org: str, held: frozenset[str]) -> CheckRow:
    what = f"organization {org}"
    readable_by = scopes.RELEASE_READ | scopes.ORG_READ
    if held and not (held & readable_by):
        return CheckRow(what, UNVERIFIABLE, "the token holds no scope that may read it")
    try:
        next(api.list_releases(org, per_page=1), None)
    except NotFoundError:
        return CheckRow(what, NOT_FOUND, "check SENTRY_ORG (or the org input)")
    except AuthError as exc:
        return CheckRow(what, UNVERIFIABLE, exc.detail or "403")
    except SentryAPIError as exc:
        return CheckRow(what, FAILED, str(exc))
    return CheckRow(what, OK, "exists")


def _project_rows(
    api: SentryApi, org: str, projects: Sequence[str], held: frozenset[str]
) -> list[CheckRow]:
    if not projects:
        return [CheckRow("projects", FAILED, "none configured: set SENTRY_PROJECT")]
    if held and not scopes.PROJECTS.granted_by(held):
        return [
            CheckRow(f"project {p}", UNVERIFIABLE, "listing projects needs org:read")
            for p in projects
        ]
    try:
        known = {p.slug: p.id for p in api.list_projects(org)}
    except AuthError as exc:
        return [CheckRow(f"project {p}", UNVERIFIABLE, exc.detail or "403") for p in projects]
    except NotFoundError:
        return []  # the organization row says it
    except SentryAPIError as exc:
        return [CheckRow("projects", FAILED, str(exc))]
    return [
        CheckRow(f"project {p}", OK, f"id {known[p]}")
        if p in known
        else CheckRow(f"project {p}", NOT_FOUND, "check SENTRY_PROJECT (or the projects input)")
        for p in projects
    ]


def _scope_rows(needs: Sequence[scopes.Need], held: frozenset[str], label: str) -> list[CheckRow]:
    rows = []
    for need in needs:
        if not held:
            rows.append(CheckRow(need.what, UNVERIFIABLE, "this Sentry does not list scopes"))
        elif need.granted_by(held):
            rows.append(CheckRow(need.what, OK, ""))
        else:
            rows.append(CheckRow(need.what, MISSING, f"the {label} needs {need.spelled()}"))
    return rows


def _repos_row(api: SentryApi, org: str, row: CheckRow) -> CheckRow:
    """The repositories row as the server answers it, not as the scope table says: org:ci
    may list them on today's Sentry and may not on 23.7.1 (`api/bases/organization.py`
    OrganizationIntegrationsLoosePermission), so one page is read. Other rows as they are."""
    if row.what != scopes.REPOS.what or row.status not in (OK, UNVERIFIABLE):
        return row
    try:
        next(api.list_repos(org), None)
    except AuthError as exc:
        return CheckRow(
            row.what,
            LOCAL_FALLBACK,
            f"this Sentry refuses the list ({exc.detail or exc.status}); "
            f"{' or '.join(REPOS_LIST_SCOPES)} would give integration refs",
        )
    except SentryAPIError:
        return row  # the organization row reports what is wrong with it
    return CheckRow(row.what, OK, "listed")


def gate_api_of(settings: Settings, api: SentryApi) -> SentryApi:
    """The API the gate reads with: its own token when one is given, else the main one."""
    token = settings.gate.auth_token
    if not token or token == settings.auth_token:
        return api
    return SentryApi.from_settings(settings.with_changes(auth_token=token), echo=api.echo)


def enforce_check(
    settings: Settings,
    api: SentryApi,
    out: Output,
    answer: Callable[[dict[str, object]], None] | None = None,
) -> CheckResult:
    """Run the check, print its table (or hand its JSON to `answer`, the front door's one
    JSON object), and stop (exit 2) when something is missing."""
    result = run_check(settings, api, gate_api_of(settings, api))
    if out.json_mode:
        data: dict[str, object] = {"ok": result.ok, "rows": [asdict(r) for r in result.rows]}
        if answer is not None:
            answer(data)
        else:
            out.json(data)
    else:
        out.table(
            ["check", "status", "detail"], [[r.what, r.status, r.detail] for r in result.rows]
        )
    if not result.ok:
        first = result.problems[0]
        raise ConfigError(f"check failed: {first.what}: {first.status} ({first.detail})")
    return result
