"""The gate's reads of Sentry, bound to one organization, environment and set of numeric
project ids, parsed into `models.py` types. Nothing here decides anything.

Rules of real Sentry this follows (getsentry/sentry, `src/sentry/`):
- org-level reads take numeric project ids (`api/bases/organization.py`
  `get_requested_project_ids_unchecked`); the ids come from the release details, which
  need only release scopes (`api/serializers/models/release.py` lists `projects[{id, slug}]`);
- more than one project in one issues/events query needs the `global-views` feature and no
  `project` means "my projects", so every query names exactly one project and results of
  several projects are merged;
- scopes as each endpoint's permission class checks them: issues and an issue's latest event
  need `event:read` (`OrganizationEventPermission`, `GroupPermission`); events, events-stats,
  sessions and stats_v2 have no class of their own and need `org:read`
  (`api/bases/organization_events.py`, `OrganizationPermission`); committers `project:read`
  (`ProjectPermission`). A 401/403 is a configuration error;
- self-hosted 23.x knows no `dataset=errors` (nor `transactions`) on events and events-stats:
  a 400 "dataset must be one of: discover, ..." (`api/bases/organization_events.py`
  DATASET_OPTIONS); its sessions take intervals in whole minutes only ("The interval has to be a
  multiple of the minimum interval of one minute", `snuba/sessions_v2.py`; ten seconds on
  newer Sentry). The first such 400 switches the run to `dataset=discover` with the
  `event.type` filter the query already has, or to minute intervals (see `Fallbacks`);
- `/sessions/` groups by the virtual `session.status` tag into healthy, errored, crashed and
  abnormal (`snuba/sessions_v2.py`), for `sum(session)` and `count_unique(user)` asked in one
  query (several `field`s; UsersField: the errored groups sum to users with an errored
  session, all four to the users); `/events-stats/` answers `data: [[ts, [{count}]], ...]`
  (`api/endpoints/organization_events_stats.py`); `/stats_v2/` groups outcomes
  (`api/endpoints/organization_stats_v2.py`, `snuba/outcomes.py`);
- the suspect commit comes from `GET /projects/{org}/{project}/events/{id}/committers/`
  (`api/endpoints/event_file_committers.py`) for the issue's latest event
  (`api/endpoints/group_event_details.py`, event id `latest`).
Sentry's `Date` header is compared with the runner's clock on every answer (`_note_clock`).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from sentry_release.errors import AuthError, ConfigError, SentryAPIError
from sentry_release.gate.models import (
    Deploy,
    Issue,
    Outcomes,
    Project,
    Series,
    Suspect,
    Traffic,
    at,
    iso,
    parse_when,
)
from sentry_release.sentry.api import SentryApi, org_path, seg
from sentry_release.sentry.transport import Reply

SCOPES = {
    "issues": "event:read",
    "latest event": "event:read",
    "events": "org:read",
    "events-stats": "org:read",
    "sessions": "org:read",
    "stats_v2": "org:read",
    "releases": "project:releases (or org:ci)",
    "deploys": "project:releases (or org:ci)",
    "committers": "project:read",
}
MAX_ISSUES = 500
RELEASES_SCANNED = 5  # releases whose deploys are read when traffic names no baseline
ERRORED_STATUSES = ("errored", "crashed", "abnormal")
SESSION_STATUSES = ("healthy", *ERRORED_STATUSES)
SESSIONS_FIELD = "sum(session)"
USERS_FIELD = "count_unique(user)"  # distinct `did`s; sessions without one count no user
SMALL_SKEW = 2.0  # `Date` has whole seconds: a smaller difference is not a skew
MAX_SKEW = 300.0  # beyond this, one of the clocks is wrong: refused, not guessed around


def interval(seconds: float) -> str:
    """Sentry's interval syntax for a bucket (`60s` -> `1m`)."""
    whole = max(1, round(seconds))
    return f"{whole // 60}m" if whole % 60 == 0 else f"{whole}s"


LEGACY_DATASET = "discover"  # what 23.x events endpoints take for errors and transactions


def refuses_dataset(exc: SentryAPIError) -> bool:
    """A 400 naming the dataset: a Sentry without `dataset=errors` (self-hosted 23.x)."""
    return exc.status == 400 and "dataset" in (exc.detail or str(exc)).lower()


def refuses_interval(exc: SentryAPIError) -> bool:
    """A 400 asking for whole minutes: sessions on a Sentry whose finest step is one minute."""
    text = (exc.detail or str(exc)).lower()
    return exc.status == 400 and "interval" in text and "minute" in text


def minute_interval(seconds: float) -> str:
    """The bucket rounded up to whole minutes, in Sentry's interval syntax."""
    return interval(60 * max(1, -(-round(seconds) // 60)))


def with_param(params: Sequence[tuple[str, Any]], name: str, value: Any) -> list[tuple[str, Any]]:
    """`params` with every `name` replaced by one `name=value`."""
    return [*((k, v) for k, v in params if k != name), (name, value)]


class Fallbacks:
    """What this Sentry refused once and is then asked differently for the rest of the run:
    learnt from its answers (a 400 naming the dataset or the interval), not from a version."""

    def __init__(self) -> None:
        self.legacy_dataset = False
        self.minute_intervals = False


class Reads:
    """Sentry reads for one gate run."""

    def __init__(
        self,
        client: SentryApi,
        org: str,
        environment: str,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.org = org
        self.environment = environment
        self.clock = clock
        self.projects: tuple[Project, ...] = ()
        self.offset: float | None = None  # Sentry's clock minus ours, from a Date header
        self.fallbacks = Fallbacks()

    # --- transport -----------------------------------------------------------------------

    def _get(self, path: str, params: Sequence[tuple[str, Any]] = (), *, what: str) -> Any:
        try:
            response = self.client.request("GET", path, params=list(params))
        except AuthError as exc:
            scope = SCOPES.get(what, "event:read")
            raise ConfigError(
                f"the gate's token may not read {what} (HTTP {exc.status}: {exc.detail}): "
                f"it needs the {scope} scope; set SENTRY_GATE_AUTH_TOKEN (gate_auth_token) "
                "to a token that has it"
            ) from None
        self._note_clock(response)
        return response.json()

    def _get_events(self, path: str, params: Sequence[tuple[str, Any]], *, what: str) -> Any:
        """An events/events-stats read; on a Sentry without the asked dataset (a 400 naming
        it) this and every later read of the run ask `dataset=discover` instead (the query
        keeps its `event.type` filter, so it counts the same events)."""
        choice = ("dataset", dict(params).get("dataset"), LEGACY_DATASET)
        return self._get_learning(path, params, what, choice, refuses_dataset, "legacy_dataset")

    def _get_sessions(self, path: str, params: Sequence[tuple[str, Any]], bucket: float) -> Any:
        """A sessions read at the bucket's interval; on a Sentry whose sessions take whole
        minutes only (a 400 saying so) this and every later one ask whole minutes (counts
        are then placed by their interval's start, so sums over windows stay right)."""
        choice = ("interval", interval(bucket), minute_interval(bucket))
        return self._get_learning(
            path, params, "sessions", choice, refuses_interval, "minute_intervals"
        )

    def _get_learning(
        self,
        path: str,
        params: Sequence[tuple[str, Any]],
        what: str,
        choice: tuple[str, Any, Any],
        refused: Callable[[SentryAPIError], bool],
        learnt: Literal["legacy_dataset", "minute_intervals"],
    ) -> Any:
        """A GET with `name=value` (choice = name, value, fallback); once this Sentry refuses
        the value (a 400 `refused` recognises), this and every later read of the run ask the
        fallback instead (`Fallbacks.<learnt>`). Asking the fallback itself, a refusal stands."""
        name, value, fallback = choice
        if not getattr(self.fallbacks, learnt) and value != fallback:
            try:
                return self._get(path, with_param(params, name, value), what=what)
            except SentryAPIError as exc:
                if not refused(exc):
                    raise
            setattr(self.fallbacks, learnt, True)
        return self._get(path, with_param(params, name, fallback), what=what)

    def _note_clock(self, response: Reply) -> None:
        """Compare Sentry's `Date` (whole seconds) with our clock, once, on the first answer.

        Within SMALL_SKEW the clocks agree. Beyond it the gate uses one rule for both: a
        moment has passed only when both clocks say so (`now()`), so it never judges a window
        that has not happened on either side. Beyond MAX_SKEW one of them is wrong (a runner
        without NTP, a proxy's stale `Date`): exit 2 naming it.
        """
        date = response.headers.get("Date")
        if not date or self.offset is not None:
            return
        try:
            server = email.utils.parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return
        local = self.clock()
        skew = server - local
        if abs(skew) > MAX_SKEW:
            side = "ahead of" if skew > 0 else "behind"
            raise ConfigError(
                f"clock skew: Sentry's Date header ({date}) is {abs(skew):.0f}s {side} this "
                f"runner's clock ({iso(at(local))}), more than the {MAX_SKEW:g}s the gate "
                "accepts: fix the runner's clock (NTP) or the proxy that sets Date"
            )
        self.offset = skew if abs(skew) > SMALL_SKEW else 0.0

    def now(self) -> datetime:
        """The gate's time: a moment has passed when both our clock and Sentry's (as told
        by its first `Date` header) say so; with agreeing clocks, ours."""
        return at(self.clock() + min(self.offset or 0.0, 0.0))

    def skew_note(self) -> str | None:
        """What the gate says about the clocks when they differ beyond a small skew."""
        if not self.offset:
            return None
        side = "ahead of" if self.offset > 0 else "behind"
        return (
            f"Sentry's clock is {abs(self.offset):.0f}s {side} this runner's: a moment counts "
            "as passed only when both clocks say so"
        )

    def _path(self, *parts: str) -> str:
        return org_path(self.org, *parts)

    def _scoped(self, params: Sequence[tuple[str, Any]], project: Project) -> list[tuple[str, Any]]:
        return [*params, ("environment", self.environment), ("project", project.id)]

    # --- release, deploys, projects --------------------------------------------------------

    def bind_projects(self, version: str, wanted: Sequence[str]) -> tuple[Project, ...]:
        """The numeric ids of the configured projects (all of the release's when none are
        configured), from the release details."""
        body = self._get(self._path("releases", version), what="releases")
        known = [
            Project(int(p["id"]), str(p.get("slug")))
            for p in body.get("projects") or []
            if isinstance(p, Mapping) and str(p.get("id") or "").isdigit()
        ]
        if wanted:
            chosen = []
            for name in wanted:
                match = next((p for p in known if name in (p.slug, str(p.id))), None)
                if match is None:
                    raise ConfigError(
                        f"project {name!r} is not a project of release {version!r} "
                        f"({', '.join(p.slug for p in known) or 'none'}): check SENTRY_PROJECT"
                    )
                chosen.append(match)
            known = chosen
        if not known:
            raise ConfigError(
                f"release {version!r} has no project: create it with --project, so the gate "
                "knows what to watch"
            )
        self.projects = tuple(known)
        return self.projects

    def deploys(self, version: str) -> list[Deploy]:
        """Deploys of a release to this environment, newest first."""
        body = self._get(self._path("releases", version, "deploys"), what="deploys")
        found = [
            Deploy.parse(d)
            for d in body or []
            if isinstance(d, Mapping) and d.get("id") not in (None, "")
        ]
        found = [d for d in found if d.environment == self.environment]
        return sorted(found, key=lambda d: d.finished or at(0), reverse=True)

    def previous_deploy(self, version: str, before: datetime, exclude: str) -> str | None:
        """The release deployed here last before `before`: a handful of the environment's
        newest releases (one request), then their deploy lists."""
        names: list[str] = []
        for project in self.projects:
            body = self._get(
                self._path("releases"),
                [
                    ("project", project.id),
                    ("environment", self.environment),
                    ("sort", "date"),
                    ("per_page", 100),
                ],
                what="releases",
            )
            deployed = [
                str(r.get("version"))
                for r in body or []
                if isinstance(r, Mapping) and r.get("deployCount", 1)
            ]
            names += deployed[:RELEASES_SCANNED]  # never-deployed builds cost nothing
        best: tuple[datetime, str] | None = None
        for name in dict.fromkeys(names):
            for deploy in self.deploys(name):
                when = deploy.finished
                if deploy.id == exclude or when is None or when > before:
                    continue
                if best is None or when > best[0]:
                    best = (when, name)
        return best[1] if best else None

    # --- issues ---------------------------------------------------------------------------

    def issues(self, query: str, start: datetime, end: datetime, kind: str) -> list[Issue]:
        """Issues matching `query` with events in [start, end], one request per project."""
        found: dict[str, Issue] = {}
        for project in self.projects:
            params = self._scoped(
                [
                    ("query", query),
                    ("sort", "date"),
                    ("limit", 100),
                    ("start", iso(start)),
                    ("end", iso(end)),
                ],
                project,
            )
            for raw in self._get(self._path("issues"), params, what="issues") or []:
                if isinstance(raw, Mapping):
                    issue = Issue.parse(raw, kind)
                    found.setdefault(issue.id, issue)
                if len(found) >= MAX_ISSUES:
                    break
        return list(found.values())

    # --- series ---------------------------------------------------------------------------

    def _buckets(self, start: datetime, end: datetime, bucket: float) -> int:
        return max(1, int(-(-(end - start).total_seconds() // bucket)))

    def _place(
        self, values: list[float], start: datetime, bucket: float, when: datetime, count: float
    ) -> None:
        index = int((when - start).total_seconds() // bucket)
        if 0 <= index < len(values):
            values[index] += count

    def _which(self, only: Project | None) -> tuple[Project, ...]:
        return (only,) if only is not None else self.projects

    def error_series(
        self,
        release: str,
        start: datetime,
        end: datetime,
        bucket: float,
        dataset: str = "errors",
        only: Project | None = None,
    ) -> Series:
        """Events of a release per bucket (`events-stats`), summed over the projects (or of
        `only` one)."""
        values = [0.0] * self._buckets(start, end, bucket)
        kind = "error" if dataset == "errors" else "transaction"
        for project in self._which(only):
            body = self._get_events(
                self._path("events-stats"),
                self._scoped(
                    [
                        ("yAxis", "count()"),
                        ("query", f'event.type:{kind} release:"{release}"'),
                        ("dataset", dataset),
                        ("interval", interval(bucket)),
                        ("start", iso(start)),
                        ("end", iso(end)),
                    ],
                    project,
                ),
                what="events-stats",
            )
            for row in (body or {}).get("data") or []:
                try:
                    when, counts = float(row[0]), row[1]
                    count = sum(float(c.get("count") or 0) for c in counts)
                except (TypeError, ValueError, IndexError, AttributeError):
                    continue
                self._place(values, start, bucket, at(when), count)
        return Series(start, bucket, tuple(values))

    def session_series(
        self,
        release: str,
        start: datetime,
        end: datetime,
        bucket: float,
        only: Project | None = None,
    ) -> tuple[Series, Series] | None:
        """(errored, all) sessions of a release per bucket (of the projects, or of `only`
        one); None when it has no sessions."""
        found = self.session_traffic(release, start, end, bucket, only)
        if found is None or found.exposure is None:
            return None
        return found.errored, found.exposure

    def session_traffic(
        self,
        release: str,
        start: datetime,
        end: datetime,
        bucket: float,
        only: Project | None = None,
    ) -> Traffic | None:
        """A release's sessions per bucket (of the projects, or of `only` one), with their
        users, in one request per project: `field=sum(session)` and
        `field=count_unique(user)` grouped by `session.status`. Sentry explodes both into
        healthy/errored/crashed/abnormal (`snuba/sessions_v2.py` SessionsField, UsersField;
        `release_health/metrics_sessions_v2.py` on the metrics backend): summed over the
        three errored statuses, users give Snuba's `users_errored` (users with any errored
        session in the bucket), over all four `users`. None when it has no sessions."""
        errored = [0.0] * self._buckets(start, end, bucket)
        total = [0.0] * len(errored)
        errored_users = [0.0] * len(errored)
        users = [0.0] * len(errored)
        for project in self._which(only):
            body = self._get_sessions(
                self._path("sessions"),
                self._scoped(
                    [
                        ("field", SESSIONS_FIELD),
                        ("field", USERS_FIELD),
                        ("groupBy", "session.status"),
                        ("query", f'release:"{release}"'),
                        ("start", iso(start)),
                        ("end", iso(end)),
                    ],
                    project,
                ),
                bucket,
            )
            intervals = [parse_when(i) for i in (body or {}).get("intervals") or []]
            for group in (body or {}).get("groups") or []:
                status = str((group.get("by") or {}).get("session.status") or "")
                if status not in SESSION_STATUSES:
                    continue
                series = group.get("series") or {}
                for field, every, bad in (
                    (SESSIONS_FIELD, total, errored),
                    (USERS_FIELD, users, errored_users),
                ):
                    for when, count in zip(intervals, series.get(field) or [], strict=False):
                        if when is None or not isinstance(count, (int, float)) or not count:
                            continue
                        self._place(every, start, bucket, when, float(count))
                        if status in ERRORED_STATUSES:
                            self._place(bad, start, bucket, when, float(count))
        if not any(total):
            return None
        return Traffic(
            "sessions",
            Series(start, bucket, tuple(errored)),
            Series(start, bucket, tuple(total)),
            errored_users=Series(start, bucket, tuple(errored_users)),
            users=Series(start, bucket, tuple(users)),
        )

    def traffic(
        self,
        release: str,
        start: datetime,
        end: datetime,
        bucket: float,
        only: Project | None = None,
    ) -> Traffic:
        """Errored units over traffic: sessions, else transactions, else none (errors only).

        A sessions error other than 401/403 is kept as a note, not silently replaced.
        """
        note = None
        try:
            sessions = self.session_traffic(release, start, end, bucket, only)
        except SentryAPIError as exc:
            if exc.status is None or not 400 <= exc.status < 500:
                raise
            sessions, note = None, f"sessions could not be read ({exc})"
        if sessions is not None:
            return sessions
        errors = self.error_series(release, start, end, bucket, only=only)
        transactions = self.error_series(
            release, start, end, bucket, dataset="transactions", only=only
        )
        if transactions.total() > 0:
            return Traffic("transactions", errors, transactions, note)
        return Traffic(None, errors, None, note)

    def serving(self, start: datetime, end: datetime, bucket: float) -> list[tuple[str, float]]:
        """Releases with traffic in the environment in [start, end], busiest first
        (sessions, else error events), in one request per project."""
        totals: dict[str, float] = {}
        for project in self.projects:
            try:
                body = self._get_sessions(
                    self._path("sessions"),
                    # whole buckets: Sentry widens the range to whole intervals
                    self._scoped(
                        [
                            ("field", "sum(session)"),
                            ("groupBy", "release"),
                            ("start", iso(start)),
                            ("end", iso(end)),
                        ],
                        project,
                    ),
                    bucket,
                )
                for group in (body or {}).get("groups") or []:
                    name = (group.get("by") or {}).get("release")
                    count = float((group.get("totals") or {}).get("sum(session)") or 0)
                    if name and count:
                        totals[str(name)] = totals.get(str(name), 0.0) + count
            except SentryAPIError as exc:
                if exc.status is None or not 400 <= exc.status < 500:
                    raise
        if not totals:
            for project in self.projects:
                body = self._get_events(
                    self._path("events"),
                    self._scoped(
                        [
                            ("field", "release"),
                            ("field", "count()"),
                            ("query", "event.type:error"),
                            ("dataset", "errors"),
                            ("start", iso(start)),
                            ("end", iso(end)),
                        ],
                        project,
                    ),
                    what="events",
                )
                for row in (body or {}).get("data") or []:
                    name, count = row.get("release"), float(row.get("count()") or 0)
                    if name and count:
                        totals[str(name)] = totals.get(str(name), 0.0) + count
        return sorted(totals.items(), key=lambda kv: -kv[1])

    # --- visibility and the report ---------------------------------------------------------

    def outcomes(self, start: datetime, end: datetime) -> Outcomes:
        """What Sentry did with the error events sent in [start, end] (`stats_v2`)."""
        sums: dict[str, int] = {}
        for project in self.projects:
            body = self._get(
                self._path("stats_v2"),
                [
                    ("field", "sum(quantity)"),
                    ("groupBy", "outcome"),
                    ("category", "error"),
                    ("interval", "1h"),
                    ("start", iso(start)),
                    ("end", iso(end)),
                    ("project", project.id),
                ],
                what="stats_v2",
            )
            for group in (body or {}).get("groups") or []:
                outcome = str((group.get("by") or {}).get("outcome") or "")
                count = int((group.get("totals") or {}).get("sum(quantity)") or 0)
                sums[outcome] = sums.get(outcome, 0) + count
        return Outcomes(
            accepted=sums.get("accepted", 0),
            rate_limited=sums.get("rate_limited", 0),
            filtered=sums.get("filtered", 0),
            invalid=sums.get("invalid", 0),
            client_discard=sums.get("client_discard", 0),
        )

    def suspect(self, issue: Issue) -> Suspect | None:
        """Sentry's suspect commit for the issue's latest event, if it has one."""
        event = self._get(self._path("issues", issue.id, "events", "latest"), what="latest event")
        event_id = str((event or {}).get("eventID") or (event or {}).get("id") or "")
        slug = issue.project_slug or next(
            (p.slug for p in self.projects if str(p.id) == issue.project_id), ""
        )
        if not event_id or not slug:
            return None
        path = "/projects/" + "/".join(seg(p) for p in (self.org, slug, "events", event_id))
        try:
            body = self._get(path + "/committers/", what="committers")
        except SentryAPIError as exc:
            if exc.status == 404:
                return None  # no commits or no stack trace matched: Sentry answers 404
            raise
        for committer in (body or {}).get("committers") or []:
            author = committer.get("author") or {}
            for commit in committer.get("commits") or []:
                return Suspect(
                    commit=str(commit.get("id") or ""),
                    message=str(commit.get("message") or "").split("\n", 1)[0][:120],
                    author=str(author.get("name") or author.get("email") or ""),
                )
        return None


def first_activity(*series: Series) -> datetime | None:
    """The start of the first bucket with any count in any of the series."""
    firsts = [
        s.start + timedelta(seconds=next(i for i, v in enumerate(s.values) if v) * s.bucket)
        for s in series
        if any(s.values)
    ]
    return min(firsts) if firsts else None
