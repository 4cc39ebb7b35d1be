"""The one Sentry API client: session, auth, timeouts, retries, pagination, error mapping.

One method per endpoint, named for what it does. Every request has a timeout; 429 waits for
Sentry's rate-limit reset (or Retry-After); 5xx and connection errors are retried only for
idempotent calls, and non-idempotent ones can supply a `recover` check that looks for the
effect of a lost attempt before trying again, so a timeout never doubles a deploy.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlsplit

import requests

from sentry_release import __version__
from sentry_release.dates import isoformat
from sentry_release.errors import (
    AuthError,
    ConfigError,
    NetworkError,
    NotFoundError,
    SentryAPIError,
    UploadError,
)
from sentry_release.redact import redact

if TYPE_CHECKING:
    from sentry_release.config.settings import Settings

log = logging.getLogger("sentry_release.http")

USER_AGENT = f"sentry-release/{__version__}"
RETRY_STATUSES = frozenset({500, 502, 503, 504, 507, 524})
RATE_LIMITED = 429
CONNECT_TIMEOUT = 10.0
COMMITS_TIMEOUT_FLOOR = 60.0  # seconds; plus 1 s per 100 commits sent in one PUT
_LINK_RE = re.compile(r'<([^>]*)>;\s*rel="(\w+)";\s*results="(\w+)";\s*cursor="([^"]*)"')
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, bounded by attempts and by total time."""

    attempts: int = 6
    base: float = 0.5
    factor: float = 2.0
    cap: float = 20.0
    budget: float = 120.0  # total seconds spent waiting across retries of one call

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Delay before retry number `attempt` (1-based)."""
        ceiling = min(self.cap, self.base * self.factor ** (attempt - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


def rate_limit_wait(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds to wait after a 429: Sentry's reset header, else Retry-After (seconds or date)."""
    reset = headers.get("X-Sentry-Rate-Limit-Reset")
    if reset:
        try:
            return max(0.0, float(reset) - now)
        except ValueError:
            pass
    retry_after = headers.get("Retry-After")
    if retry_after:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(retry_after)
            if parsed is not None:
                return max(0.0, parsed.timestamp() - now)
    return None


def parse_link_header(value: str | None) -> dict[str, tuple[str, bool]]:
    """`{rel: (url, has_results)}` from Sentry's Link header."""
    links: dict[str, tuple[str, bool]] = {}
    for url, rel, results, _cursor in _LINK_RE.findall(value or ""):
        links[rel] = (url, results == "true")
    return links


def error_detail(response: requests.Response) -> str:
    """Sentry's own words from an error body: `detail`, field errors, or the raw text."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return text[:300] if text else response.reason or f"HTTP {response.status_code}"
    if isinstance(body, dict):
        detail = body.get("detail")
        if isinstance(detail, str):
            return detail
        if isinstance(detail, dict) and "message" in detail:
            return str(detail["message"])
        parts = []
        for key, value in body.items():
            values = value if isinstance(value, list) else [value]
            parts.append(f"{key}: {' '.join(str(v) for v in values)}")
        if parts:
            return "; ".join(parts)
    return json.dumps(body)[:300]


def seg(value: str) -> str:
    """Percent-encode one path segment (release names may hold spaces, @, + ...)."""
    return quote(value, safe="")


class DryRunResponse(requests.Response):
    """What a dry run returns instead of sending: 200 with an empty body."""

    def __init__(self, body: Any) -> None:
        super().__init__()
        self.status_code = 200
        self._content = json.dumps(body).encode()
        self.headers["Content-Type"] = "application/json"


class SentryClient:
    """Speaks Sentry's web API for one base URL and token."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        ca_bundle: str | None = None,
        dry_run: bool = False,
        echo: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.api_url = self.base_url + "api/0"
        self.token = token
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.dry_run = dry_run
        self.echo = echo or (lambda line: None)
        self.sleep = sleep
        self.clock = clock
        self.rng = rng or random.Random()
        self.session = session or make_session(ca_bundle)
        self.bytes_sent = 0
        self.request_count = 0
        self.rate_limit: dict[str, str] = {}  # last X-Sentry-Rate-Limit-* headers, lowercased
        self._host = urlsplit(self.base_url).hostname or ""
        self._scheme = urlsplit(self.base_url).scheme
        self.verify: str | bool = ca_bundle or True

    def __repr__(self) -> str:
        return f"SentryClient({self.base_url!r})"

    @classmethod
    def from_settings(
        cls, settings: Settings, *, echo: Callable[[str], None] | None = None
    ) -> SentryClient:
        """The client both front doors use: URL, token, timeout, retry budget, CA bundle."""
        return cls(
            settings.url,
            settings.auth_token,
            timeout=settings.timeout,
            retry=RetryPolicy(budget=settings.retry_budget),
            ca_bundle=settings.ca_bundle,
            dry_run=settings.dry_run,
            echo=echo,
        )

    # --- transport ------------------------------------------------------------------

    def _headers(self, url: str) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT}
        if self.token and self.is_trusted_host(url):
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def is_trusted_host(self, url: str) -> bool:
        """The token only goes to the Sentry host or its subdomains (region hosts), and
        never over plain http when the Sentry URL is https."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        if self._scheme == "https" and parts.scheme != "https":
            return False
        return host == self._host or host.endswith("." + self._host)

    def url(self, path: str) -> str:
        """Absolute URL for an API path (`/organizations/...`) or a full URL as is."""
        if path.startswith(("http://", "https://")):
            return path
        return self.api_url + path

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
        json_body: Any = None,
        data: Any = None,
        files: Any = None,
        idempotent: bool | None = None,
        recover: Callable[[], requests.Response | None] | None = None,
        not_found: str | None = None,
        ok: Iterable[int] = (),
        timeout: float | None = None,
        dry_run_body: Any = None,
    ) -> requests.Response:
        """Send one call with retries; raise a domain error for anything but 2xx (or `ok`)."""
        url = self.url(path)
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS")
        if self.dry_run:
            shown = (
                f" {redact(json.dumps(json_body, default=str))}" if json_body is not None else ""
            )
            self.echo(f"[dry-run] {method} {url}{shown}")
            return DryRunResponse({} if dry_run_body is None else dry_run_body)
        started = self.clock()
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._send(method, url, params, json_body, data, files, timeout)
            except requests.exceptions.SSLError as exc:
                # Not transient: a wrong or missing CA does not fix itself on retry.
                raise NetworkError(
                    f"{method} {self._endpoint(url)}: TLS verification failed "
                    f"({_short_exc(exc)}): for a self-hosted Sentry with its own CA pass "
                    "--ca-bundle /path/to/ca.pem (or set REQUESTS_CA_BUNDLE)",
                    method=method,
                    endpoint=self._endpoint(url),
                ) from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                kind = "timed out" if isinstance(exc, requests.Timeout) else "connection failed"
                failure: SentryAPIError = NetworkError(
                    f"{method} {self._endpoint(url)} {kind}: {_short_exc(exc)}",
                    method=method,
                    endpoint=self._endpoint(url),
                )
                retriable = idempotent or recover is not None or _never_sent(exc)
                delay = self.retry.backoff(attempt, self.rng)
            except OSError as exc:  # after requests' own (they subclass OSError)
                if "CA certificate bundle" not in str(exc):
                    raise
                # requests' own message for a CA bundle path (often REQUESTS_CA_BUNDLE) that
                # does not exist: bad input, not a network failure.
                raise ConfigError(
                    f"{_short_exc(exc)}: fix REQUESTS_CA_BUNDLE / --ca-bundle"
                ) from None
            else:
                status = response.status_code
                if 200 <= status < 300 or status in ok:
                    return response
                failure = self._error(method, url, response, not_found)
                if status == RATE_LIMITED:
                    retriable = True
                    hinted = rate_limit_wait(response.headers, self.clock())
                    delay = (
                        hinted + self.rng.uniform(0, 0.5)
                        if hinted is not None
                        else self.retry.backoff(attempt, self.rng)
                    )
                elif status in RETRY_STATUSES:
                    retriable = idempotent or recover is not None
                    delay = self.retry.backoff(attempt, self.rng)
                else:
                    retriable = False
                    delay = 0.0
            # The budget bounds the whole call: time spent waiting and in slow attempts.
            spent = max(waited, self.clock() - started)
            if not retriable or attempt >= self.retry.attempts or spent + delay > self.retry.budget:
                if retriable:
                    failure.args = (
                        f"{failure.args[0]} (gave up after {attempt} attempt"
                        f"{'s' if attempt > 1 else ''} in {spent:.1f}s: "
                        + (
                            f"Sentry asked to wait {delay:.0f}s more, beyond"
                            if status_429(failure) and spent + delay > self.retry.budget
                            else "out of"
                        )
                        + f" the retry budget of {self.retry.budget:g}s and "
                        f"{self.retry.attempts} attempts; raise it with --retry-budget)",
                    )
                if isinstance(failure, NetworkError) and not retriable:
                    failure.args = (
                        f"{failure.args[0]} (not retried: the {method} may have reached Sentry "
                        "and is not safe to repeat)",
                    )
                raise failure
            log.info(
                "%s %s failed (%s); retry %d in %.1fs",
                method,
                self._endpoint(url),
                failure.status or "network",
                attempt,
                delay,
            )
            self.sleep(delay)
            waited += delay
            if recover is not None:
                recovered = recover()
                if recovered is not None:
                    return recovered

    def _send(
        self,
        method: str,
        url: str,
        params: Any,
        json_body: Any,
        data: Any,
        files: Any,
        timeout: float | None,
    ) -> requests.Response:
        self.request_count += 1
        response = self.session.request(
            method,
            url,
            params=params,
            json=json_body,
            data=data,
            files=files,
            headers=self._headers(url),
            timeout=(CONNECT_TIMEOUT, timeout or self.timeout),
            # An explicit --ca-bundle wins; otherwise None lets REQUESTS_CA_BUNDLE apply.
            verify=self.verify if isinstance(self.verify, str) else None,
        )
        limits = {
            k.lower(): v
            for k, v in response.headers.items()
            if k.lower().startswith("x-sentry-rate-limit-")
        }
        if limits:
            self.rate_limit = limits
        body = response.request.body
        self.bytes_sent += len(body) if isinstance(body, (bytes, str)) else 0
        log.debug("%s %s -> %s", method, redact(url), response.status_code)
        return response

    def _endpoint(self, url: str) -> str:
        return redact(url.split("?", 1)[0].replace(self.api_url, ""))

    def _error(
        self, method: str, url: str, response: requests.Response, not_found: str | None
    ) -> SentryAPIError:
        status = response.status_code
        detail = error_detail(response)
        where = f"{method} {self._endpoint(url)}"
        kwargs: dict[str, Any] = {
            "status": status,
            "detail": detail,
            "method": method,
            "endpoint": self._endpoint(url),
        }
        if status == 401:
            return AuthError(
                f"Sentry rejected the auth token ({detail}): check SENTRY_AUTH_TOKEN", **kwargs
            )
        if status == 403:
            return AuthError(
                f"the auth token may not do this ({detail}): give it the org:ci or "
                "project:releases scope",
                **kwargs,
            )
        if status == 404:
            return NotFoundError(f"{not_found or where + ': not found'} ({detail})", **kwargs)
        return SentryAPIError(f"{where} failed with HTTP {status}: {detail}", **kwargs)

    def get_json(self, path: str, **kwargs: Any) -> Any:
        """GET and decode JSON."""
        return self.request("GET", path, **kwargs).json()

    def paginate(
        self,
        path: str,
        params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
        **kwargs: Any,
    ) -> Iterator[Any]:
        """Yield items across pages by following the Link header's `next` cursor."""
        url: str | None = path
        query: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = params
        while url:
            response = self.request("GET", url, params=query, **kwargs)
            yield from response.json() or []
            nxt = parse_link_header(response.headers.get("Link")).get("next")
            url = nxt[0] if nxt and nxt[1] else None
            query = None  # the next URL carries the query string

    # --- organization ---------------------------------------------------------------

    def org_path(self, org: str, *parts: str) -> str:
        """`/organizations/{org}/{parts...}/` with each segment encoded."""
        return "/organizations/" + "/".join(seg(p) for p in (org, *parts)) + "/"

    def get_api_root(self) -> dict[str, Any]:
        """`GET /api/0/`: who the token belongs to (sentry-cli's `info`)."""
        result: dict[str, Any] = self.get_json("/")
        return result

    def get_organization(self, org: str) -> dict[str, Any]:
        """The organization, or a 404 that names SENTRY_ORG."""
        result: dict[str, Any] = self.get_json(
            self.org_path(org), not_found=f"organization not found: {org!r}: check SENTRY_ORG"
        )
        return result

    def list_projects(self, org: str) -> Iterator[dict[str, Any]]:
        """The org's projects (paginated); org-level queries take project ids, not slugs."""
        return self.paginate(
            self.org_path(org, "projects"),
            not_found=f"organization not found: {org!r}: check SENTRY_ORG",
        )

    # --- releases -------------------------------------------------------------------

    def _release_not_found(self, org: str, version: str) -> str:
        return (
            f"release {version!r} not found in organization {org!r}: create it first "
            "(sentry-release new) or check SENTRY_ORG"
        )

    def create_release(
        self,
        org: str,
        version: str,
        projects: Sequence[str],
        *,
        url: str | None = None,
        ref: str | None = None,
        date_started: datetime | None = None,
        date_released: datetime | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Create the release; `(release, created)`. 208 (already exists) is success."""
        body: dict[str, Any] = {"version": version, "projects": list(projects)}
        if url:
            body["url"] = url
        if ref:
            body["ref"] = ref
        if date_started:
            body["dateStarted"] = isoformat(date_started)
        if date_released:
            body["dateReleased"] = isoformat(date_released)
        # Creating is idempotent on Sentry's side (208), so retrying is safe.
        response = self.request(
            "POST",
            self.org_path(org, "releases"),
            json_body=body,
            idempotent=True,
            not_found=f"organization not found: {org!r}: check SENTRY_ORG",
            dry_run_body={"version": version, "projects": [{"slug": p} for p in projects]},
        )
        return response.json(), response.status_code == 201

    def get_release(self, org: str, version: str) -> dict[str, Any]:
        """The release as Sentry reports it."""
        result: dict[str, Any] = self.get_json(
            self.org_path(org, "releases", version),
            not_found=self._release_not_found(org, version),
        )
        return result

    def find_release(self, org: str, version: str) -> dict[str, Any] | None:
        """The release, or None when it does not exist (the org must)."""
        try:
            return self.get_release(org, version)
        except NotFoundError:
            self.get_organization(org)  # raises with the SENTRY_ORG hint when that is the cause
            return None

    def update_release(
        self,
        org: str,
        version: str,
        body: Mapping[str, Any],
        *,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """`PUT` release fields (dateReleased, url, refs, commits, projects)."""
        result: dict[str, Any] = self.request(
            "PUT",
            self.org_path(org, "releases", version),
            json_body=dict(body),
            not_found=self._release_not_found(org, version),
            timeout=timeout,
        ).json()
        return result

    def finalize_release(
        self, org: str, version: str, *, projects: Sequence[str] = (), when: datetime
    ) -> dict[str, Any]:
        """Set dateReleased, which marks the release as finalized."""
        body: dict[str, Any] = {"dateReleased": isoformat(when)}
        if projects:
            body["projects"] = list(projects)
        return self.update_release(org, version, body)

    def list_releases(self, org: str, *, project: str | None = None) -> Iterator[dict[str, Any]]:
        """All releases of the org (paginated), optionally of one project."""
        params = {"project": project} if project else None
        return self.paginate(self.org_path(org, "releases"), params)

    def previous_release_with_commits(self, org: str, version: str) -> dict[str, Any] | None:
        """The newest older release that has commits, whose lastCommit bounds the local range."""
        body = self.get_json(
            self.org_path(org, "releases", version, "previous-with-commits"),
            not_found=self._release_not_found(org, version),
        )
        return body or None

    # --- commits --------------------------------------------------------------------

    def list_repos(self, org: str) -> Iterator[dict[str, Any]]:
        """The org's repositories known to Sentry's integrations (paginated)."""
        return self.paginate(self.org_path(org, "repos"))

    def set_refs(self, org: str, version: str, refs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Integration mode: Sentry fetches the commits between each ref pair itself."""
        return self.update_release(org, version, {"refs": [dict(r) for r in refs]})

    def set_commits(
        self, org: str, version: str, commits: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """Local mode: send the commits (with patch sets) ourselves.

        Sentry stores them before it answers, so a long range gets a longer read timeout.
        """
        timeout = max(self.timeout, COMMITS_TIMEOUT_FLOOR + len(commits) / 100)
        return self.update_release(
            org, version, {"commits": [dict(c) for c in commits]}, timeout=timeout
        )

    def list_release_commits(self, org: str, version: str) -> Iterator[dict[str, Any]]:
        """The commits Sentry associated with the release (paginated)."""
        return self.paginate(
            self.org_path(org, "releases", version, "commits"),
            not_found=self._release_not_found(org, version),
        )

    # --- deploys --------------------------------------------------------------------

    def list_deploys(self, org: str, version: str) -> list[dict[str, Any]]:
        """Deploys recorded for the release."""
        return list(
            self.paginate(
                self.org_path(org, "releases", version, "deploys"),
                not_found=self._release_not_found(org, version),
            )
        )

    def create_deploy(
        self,
        org: str,
        version: str,
        *,
        environment: str,
        name: str | None = None,
        url: str | None = None,
        date_started: datetime | None = None,
        date_finished: datetime | None = None,
        projects: Sequence[str] = (),
        known: Iterable[Mapping[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Record a deploy. Not idempotent: a lost attempt is looked for before retrying.

        `known` is the release's deploys as just listed (saves listing them again); a deploy
        that appears after the attempt with the same environment and name is that attempt's.
        """
        finished = date_finished or datetime.now(timezone.utc)
        body: dict[str, Any] = {
            "environment": environment,
            "name": name,
            "url": url,
            "dateStarted": isoformat(date_started) if date_started else None,
            "dateFinished": isoformat(finished),
        }
        if projects:
            body["projects"] = list(projects)
        path = self.org_path(org, "releases", version, "deploys")
        if self.dry_run:
            before: set[Any] = set()
        else:
            listed = self.list_deploys(org, version) if known is None else known
            before = {d.get("id") for d in listed}

        def recover() -> requests.Response | None:
            new = [d for d in self.list_deploys(org, version) if d.get("id") not in before]
            landed = matching_deploy(new, environment, name)
            return DryRunResponse(landed) if landed is not None else None

        result: dict[str, Any] = self.request(
            "POST",
            path,
            json_body=body,
            idempotent=False,
            recover=recover,
            not_found=self._release_not_found(org, version),
            dry_run_body={"id": "dry-run", **body},
        ).json()
        return result

    # --- source maps: chunk upload + artifact bundles -------------------------------

    def chunk_upload_options(self, org: str) -> dict[str, Any] | None:
        """The server's chunk-upload limits, or None when it has no chunk upload (old Sentry)."""
        response = self.request(
            "GET",
            self.org_path(org, "chunk-upload"),
            ok=(404,),
            not_found=f"organization not found: {org!r}: check SENTRY_ORG",
        )
        if response.status_code == 404:
            return None
        body = response.json()
        return body if isinstance(body, dict) and body.get("url") else body or None

    def upload_chunks(
        self, url: str, chunks: Sequence[tuple[str, bytes]], *, field_name: str = "file_gzip"
    ) -> None:
        """POST one multipart batch; each part named by the sha1 of its uncompressed chunk.

        Idempotent: the server keys chunks by checksum, so a retry stores nothing twice.
        """
        if not self.is_trusted_host(self.url(url)):
            # Sentry wants the token on chunk uploads; sending it to another host would leak
            # it, and sending none would fail later with a confusing 401. Say so now.
            raise UploadError(
                f"Sentry's chunk-upload URL {redact(url)} is not on {self.base_url}: refusing "
                "to send the auth token there. Set SENTRY_URL to that host, or fix the "
                "server's URL prefix (system.url-prefix on self-hosted)"
            )
        files = [
            (field_name, (checksum, payload, "application/octet-stream"))
            for checksum, payload in chunks
        ]
        self.request("POST", url, files=files, idempotent=True)

    def assemble_artifact_bundle(
        self,
        org: str,
        *,
        checksum: str,
        chunks: Sequence[str],
        projects: Sequence[str],
        version: str | None = None,
        dist: str | None = None,
    ) -> dict[str, Any]:
        """Ask Sentry to assemble a bundle from chunks; `{state, missingChunks, detail}`."""
        body: dict[str, Any] = {
            "checksum": checksum,
            "chunks": list(chunks),
            "projects": list(projects),
        }
        if version:
            body["version"] = version
        if dist:
            body["dist"] = dist
        result: dict[str, Any] = self.request(
            "POST",
            self.org_path(org, "artifactbundle", "assemble"),
            json_body=body,
            idempotent=True,  # keyed by checksum on the server
            dry_run_body={"state": "ok", "missingChunks": []},
        ).json()
        return result

    def upload_release_file(
        self,
        org: str,
        project: str,
        version: str,
        *,
        name: str,
        content: bytes,
        dist: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """Legacy release-file upload; None when the file already exists (409)."""
        data: list[tuple[str, str]] = [("name", name)]
        if dist:
            data.append(("dist", dist))
        for key, value in (headers or {}).items():
            data.append(("header", f"{key}:{value}"))
        path = (
            "/projects/"
            + "/".join(seg(p) for p in (org, project, "releases", version, "files"))
            + "/"
        )
        response = self.request(
            "POST",
            path,
            data=data,
            files={"file": (name.rsplit("/", 1)[-1], content, "application/octet-stream")},
            idempotent=True,  # 409 on repeat
            ok=(409,),
            not_found=self._release_not_found(org, version),
        )
        if response.status_code == 409:
            return None
        result: dict[str, Any] = response.json()
        return result

    # --- issues and events (the gate) -----------------------------------------------

    def list_issues(
        self,
        org: str,
        *,
        query: str,
        environment: str | None = None,
        projects: Sequence[str | int] = (),
        start: datetime | None = None,
        end: datetime | None = None,
        sort: str = "date",
        limit: int = 100,
    ) -> Iterator[dict[str, Any]]:
        """Issues matching a search query (paginated)."""
        params: list[tuple[str, Any]] = [("query", query), ("sort", sort), ("limit", limit)]
        if environment:
            params.append(("environment", environment))
        params.extend(("project", p) for p in projects)
        if start:
            params.append(("start", isoformat(start)))
        if end:
            params.append(("end", isoformat(end)))
        if not start and not end:
            params.append(("statsPeriod", "14d"))
        return self.paginate(self.org_path(org, "issues"), params)

    def query_events(
        self,
        org: str,
        *,
        fields: Sequence[str],
        query: str,
        start: datetime,
        end: datetime,
        environment: str | None = None,
        projects: Sequence[str | int] = (),
        dataset: str = "errors",
    ) -> list[dict[str, Any]]:
        """Discover-style aggregate query (`count()`, `count_unique(user)`)."""
        params: list[tuple[str, Any]] = [("field", f) for f in fields]
        params += [
            ("query", query),
            ("dataset", dataset),
            ("start", isoformat(start)),
            ("end", isoformat(end)),
        ]
        if environment:
            params.append(("environment", environment))
        params.extend(("project", p) for p in projects)
        body = self.get_json(self.org_path(org, "events"), params=params)
        data: list[dict[str, Any]] = body.get("data", []) if isinstance(body, dict) else []
        return data

    def query_sessions(
        self,
        org: str,
        *,
        query: str,
        start: datetime,
        end: datetime,
        environment: str | None = None,
        projects: Sequence[str | int] = (),
        field: str = "sum(session)",
        interval: str = "1h",
    ) -> dict[str, Any]:
        """Session totals (exposure for error rates), grouped by release.

        Sentry widens start/end to whole intervals, so short windows need a short interval.
        """
        params: list[tuple[str, Any]] = [
            ("field", field),
            ("groupBy", "release"),
            ("query", query),
            ("start", isoformat(start)),
            ("end", isoformat(end)),
            ("interval", interval),
        ]
        if environment:
            params.append(("environment", environment))
        params.extend(("project", p) for p in projects)
        result: dict[str, Any] = self.get_json(self.org_path(org, "sessions"), params=params)
        return result


def matching_deploy(
    deploys: Iterable[Mapping[str, Any]], environment: str, name: str | None
) -> dict[str, Any] | None:
    """The first deploy of the same environment and name (no name and "" are the same).

    Both a re-run of the deploy step and a retry after a lost response look for it.
    """
    for deploy in deploys:
        if deploy.get("environment") == environment and (deploy.get("name") or None) == (
            name or None
        ):
            return dict(deploy)
    return None


def make_session(ca_bundle: str | None = None) -> requests.Session:
    """The one session factory: connection pooling sized for parallel chunk uploads."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    if ca_bundle:
        session.verify = ca_bundle
    return session


def status_429(error: SentryAPIError) -> bool:
    """Whether the error is a rate limit (its wait, not a backoff, ran out the budget)."""
    return error.status == RATE_LIMITED


def _never_sent(exc: Exception) -> bool:
    """A refused connection means the request never reached the server: safe to resend."""
    return isinstance(exc, requests.ConnectTimeout) or (
        isinstance(exc, requests.ConnectionError) and "Connection refused" in str(exc)
    )


def _short_exc(exc: Exception) -> str:
    text = str(exc)
    match = re.search(r"(certificate verify failed[^')(]*)", text) or re.search(
        r"\[Errno -?\d+\] ([^')\]]+)|Error\(-?\d+, '([^']+)'\)|(Read timed out)"
        r"|(Connection refused)",
        text,
    )
    if match:
        return next(g for g in match.groups() if g).strip()
    return redact(text)[:200]
