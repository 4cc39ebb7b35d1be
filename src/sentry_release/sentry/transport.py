"""HTTP to Sentry: one session, the token only for Sentry's origin, deadlines, retries, errors.

What every request gets here, whatever endpoint it is:
- a deadline for the whole exchange (connect, headers and body), not only per socket read, so
  a server that drips bytes cannot hold a step; a cap on the answer's size;
- retries: 429 waits for Sentry's rate-limit reset (or Retry-After); 5xx and lost connections
  are retried for idempotent calls, and a non-idempotent call can pass `recover` to look for
  the effect of a lost attempt first; all within a retry budget and the step's deadline;
- redirects followed for reads only (requests drops the token when the host or port changes);
  a 3xx to a write is an error naming where it pointed, never a silent GET;
- errors mapped once: 401/403 → `AuthError` (exit 2, naming the scope the endpoint needs),
  404 → `NotFoundError`, anything else → `SentryAPIError` with Sentry's own `detail`.
"""

from __future__ import annotations

import contextlib
import copy
import email.utils
import itertools
import json
import logging
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
import requests.adapters
import urllib3
import urllib3.connection
import urllib3.util

from sentry_release import __version__, preconnect
from sentry_release.config.parse import check_sentry_url
from sentry_release.errors import (
    AuthError,
    ConfigError,
    NetworkError,
    NotFoundError,
    SentryAPIError,
)
from sentry_release.redact import redact
from sentry_release.sentry.models import ShapeError

log = logging.getLogger("sentry_release.http")

USER_AGENT = f"sentry-release/{__version__}"
RETRY_STATUSES = frozenset({500, 502, 503, 504, 507, 524})
RATE_LIMITED = 429
CONNECT_TIMEOUT = 10.0
MAX_BODY = 32 * 1024 * 1024  # no Sentry answer we read comes near this
MAX_PAGES = 1000  # 100 items a page: far beyond any list a step reads
READS = frozenset({"GET", "HEAD", "OPTIONS"})
T = TypeVar("T")

_CURSOR_RE = re.compile(r'<[^>]*>;\s*rel="(\w+)";\s*results="(\w+)";\s*cursor="([^"]*)"')


# A Sentry that is restarting listens again within a second or two; an address still refused
# after this many tries is one to fix, not one to wait for through the whole retry budget.
REFUSED_ATTEMPTS = 3


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, bounded by attempts and by total time."""

    attempts: int = 6
    base: float = 0.5
    factor: float = 2.0
    cap: float = 20.0
    budget: float = 120.0  # total seconds one call may spend across its retries

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Delay before retry number `attempt` (1-based)."""
        ceiling = min(self.cap, self.base * self.factor ** (attempt - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


MAX_CLOCK_SKEW = 900.0  # seconds: a Sentry `Date` further from the runner's clock is ignored


def sentry_now(headers: Mapping[str, str], now: float) -> float:
    """Sentry's time by its `Date` header when that agrees with the runner's clock `now`
    within MAX_CLOCK_SKEW; else `now` (a Date of year 2000 or 2100 is not believed)."""
    try:
        parsed = email.utils.parsedate_to_datetime(headers.get("Date") or "")
    except (TypeError, ValueError, IndexError):
        return now
    if parsed is None or parsed.tzinfo is None:
        return now
    stamp = parsed.timestamp()
    return stamp if abs(stamp - now) <= MAX_CLOCK_SKEW else now


def rate_limit_wait(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds to wait after a 429: Sentry's reset header, else Retry-After (seconds or date);
    None when neither is usable (a garbled header falls back to backoff, never crashes).
    Absolute times are Sentry's, so they are counted from Sentry's `Date` (see `sentry_now`)."""
    now = sentry_now(headers, now)
    reset = headers.get("X-Sentry-Rate-Limit-Reset")
    if reset:
        with contextlib.suppress(ValueError):
            return max(0.0, float(reset) - now)
    retry_after = headers.get("Retry-After")
    if retry_after:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            pass
        try:
            parsed = email.utils.parsedate_to_datetime(retry_after)
        except (TypeError, ValueError, IndexError):
            return None
        if parsed is not None and parsed.tzinfo is not None:
            return max(0.0, parsed.timestamp() - now)
    return None


def next_cursor(link: str | None) -> str | None:
    """The `next` cursor of Sentry's Link header when it says more results follow.

    Only the cursor is used: Sentry builds the Link URLs from `system.url-prefix`
    (`api/base.py` `build_cursor_link`), which need not be the host we called.
    """
    for rel, results, cursor in _CURSOR_RE.findall(link or ""):
        if rel == "next" and results == "true" and cursor:
            return str(cursor)
    return None


def error_detail(body: bytes, reason: str, status: int) -> str:
    """Sentry's own words from an error body: `detail`, field errors, or the raw text."""
    try:
        data = json.loads(body)
    except ValueError:
        text = body.decode("utf-8", "replace").strip()
        if text.lower().startswith(("<!doctype", "<html")):
            return f"{reason or 'HTTP ' + str(status)} (an HTML page)"
        return " ".join(text.split())[:300] if text else reason or f"HTTP {status}"
    if isinstance(data, dict):
        detail = data.get("detail")
        if isinstance(detail, str):
            return detail
        if isinstance(detail, dict) and "message" in detail:
            return str(detail["message"])
        parts = []
        for key, value in data.items():
            values = value if isinstance(value, list) else [value]
            parts.append(f"{key}: {' '.join(str(v) for v in values)}")
        if parts:
            return "; ".join(parts)
    return json.dumps(data)[:300]


def check_token(token: str | None) -> None:
    """A token is printable ASCII without whitespace; anything else is a paste error that
    would otherwise crash in the HTTP layer or leak its second line past log masking."""
    if token is None:
        return
    if not token or any(not (33 <= ord(c) <= 126) for c in token):
        raise ConfigError(
            "the auth token contains spaces, line breaks or non-ASCII characters: paste the "
            "token alone into SENTRY_AUTH_TOKEN (or the auth_token input)"
        )
    if '"' in token or "\\" in token:
        # No Sentry token has them (sntryu_ + hex, sntrys_ + base64, 64 hex): a paste error,
        # and one whose JSON-escaped form (`\\"`) the log masking would not know.
        raise ConfigError(
            "the auth token contains '\"' or '\\', which no Sentry token has: paste the token "
            "alone into SENTRY_AUTH_TOKEN (or the auth_token input)"
        )


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) with the scheme's default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or (443 if scheme == "https" else 80)


@dataclass
class Reply:
    """One answer, read whole within its deadline and size cap."""

    method: str
    endpoint: str
    status: int
    headers: Mapping[str, str]
    content: bytes
    dry_run: bool = False

    def json(self) -> Any:
        """The body as JSON, or ShapeError naming the endpoint and what came instead."""
        try:
            return json.loads(self.content)
        except ValueError:
            kind = self.headers.get("Content-Type", "no content type").split(";")[0]
            text = " ".join(self.content[:80].decode("utf-8", "replace").split())
            raise ShapeError(
                f"{self.method} {self.endpoint}: expected JSON, got {kind}"
                + (f" ({text!r})" if text else " (an empty body)"),
                status=self.status,
                method=self.method,
                endpoint=self.endpoint,
            ) from None

    def parse(self, parser: Callable[[Any], T]) -> T:
        """Decode and parse into a model; a wrong shape names the endpoint."""
        try:
            return parser(self.json())
        except ShapeError as exc:
            if exc.endpoint:
                raise
            raise ShapeError(
                f"{self.method} {self.endpoint}: {exc}",
                status=self.status,
                method=self.method,
                endpoint=self.endpoint,
            ) from None


@dataclass(frozen=True)
class Outcome:
    """A failed attempt: its error, whether another attempt may follow, after how long."""

    failure: SentryAPIError
    retriable: bool
    delay: float


@dataclass
class Stats:
    """What went over the wire (the bench and progress lines read it)."""

    requests: int = 0
    bytes_sent: int = 0
    rate_limit: dict[str, str] = field(default_factory=dict)  # last X-Sentry-Rate-Limit-*


TransportT = TypeVar("TransportT", bound="Transport")


class Transport:
    """Sends requests to one Sentry (base URL and token); see the module docstring."""

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
        headers: Mapping[str, str] | None = None,
        step_timeout: float | None = None,
        max_body: int = MAX_BODY,
    ) -> None:
        check_token(token)
        check_sentry_url(base_url)
        parts = urlsplit(base_url)
        api = re.search(r"/api/0(/|$)", parts.path)
        if api is not None:  # the client adds /api/0/ itself: this would ask for /api/0/api/0/
            root = parts._replace(path=parts.path[: api.start()] + "/", query="", fragment="")
            raise ConfigError(
                f"Sentry URL {redact(base_url)!r} already holds the API path /api/0/: set "
                f"SENTRY_URL (or --url) to the server's root, {redact(root.geturl())}"
            )
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
        self.verify: str | None = ca_bundle
        self.extra_headers = dict(headers or {})
        if isinstance(self.session, GuardedSession):
            self.session.private.update(name.lower() for name in self.extra_headers)
        self.step_timeout = step_timeout
        self.max_body = max_body
        self.stats = Stats()
        self._origin = origin(self.base_url)
        self._step_end: float | None = None
        self._step_name = ""
        self._step_limit = step_timeout
        # Outside an explicit step (a single command such as `new` or `deploy`), the whole
        # run of this client is the step: its deadline counts from the client's creation.
        self._born = time.monotonic()
        self._lock = threading.Lock()
        self._cancelled = threading.Event()  # shared with forks: one run, one cancel

    def __repr__(self) -> str:
        return f"{type(self).__name__}({redact(self.base_url)!r})"

    def fork(self: TransportT, echo: Callable[[str], None] | None = None) -> TransportT:
        """This client for another thread: the same session (connections), counters and
        settings, its own step deadline, and optionally its own dry-run echo."""
        twin = copy.copy(self)
        twin._step_end, twin._step_name, twin._step_limit = None, "", self.step_timeout
        if echo is not None:
            twin.echo = echo
        return twin

    # --- where the token may go -----------------------------------------------------

    def is_trusted(self, url: str) -> bool:
        """The token goes to the configured origin (scheme, host and port), or to a
        subdomain of its host with the same scheme and port (Sentry's region hosts such as
        us.sentry.io for sentry.io); never to another port, another host or plain http."""
        scheme, host, port = origin(url)
        base_scheme, base_host, base_port = self._origin
        if (scheme, port) != (base_scheme, base_port):
            return False
        return host == base_host or host.endswith("." + base_host)

    def url(self, path: str) -> str:
        """Absolute URL for an API path (`/organizations/...`); full URLs as they are."""
        if path.startswith(("http://", "https://")):
            return path
        return self.api_url + path

    def resolve_upload_url(self, url: str) -> str:
        """Where chunks go, from the chunk-upload options' `url` (`api/endpoints/chunk.py`).

        Relative (self-hosted without a url-prefix): under our own API root, never
        `.../api/0/api/0/`. Absolute on a trusted origin: as given. Absolute elsewhere (an
        upload-url-prefix or url-prefix we cannot vouch for): the same API path on the
        configured Sentry, which serves it too, so the token never leaves for another host.
        """
        parts = urlsplit(url)
        marker = "/api/0/"
        if parts.scheme and self.is_trusted(url):
            return url
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if marker in path:
            resolved = self.api_url + "/" + path.split(marker, 1)[1]
        elif not parts.scheme:
            resolved = urljoin(self.base_url, path)
        else:
            raise SentryAPIError(
                f"Sentry's chunk-upload URL {redact(url)} is on another host and is not an API "
                "path: refusing to send the auth token there; set SENTRY_URL to that host"
            )
        if parts.scheme:
            log.info(
                "chunk-upload URL %s is not on %s: using %s", redact(url), self.base_url, resolved
            )
        return resolved

    def _headers(self, url: str) -> dict[str, str]:
        """The token and the custom headers (a proxy's secret) where `is_trusted` says; a
        redirect to another origin drops both (see `GuardedSession`)."""
        headers = {"User-Agent": USER_AGENT}
        if self.is_trusted(url):
            headers.update(self.extra_headers)
            if self.token:
                headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def endpoint(self, url: str) -> str:
        """The URL as messages show it: API path only, no query, secrets removed."""
        return redact(url.split("?", 1)[0].replace(self.api_url, ""))

    def cancel(self) -> None:
        """Send nothing more, from this transport or its forks (a cancelled run): the next
        attempt of any call fails at once, and waits between attempts end."""
        self._cancelled.set()

    # --- deadlines ------------------------------------------------------------------

    @contextlib.contextmanager
    def step(self, name: str, seconds: float | None = None) -> Iterator[None]:
        """Bound every request of a step by one deadline (nested steps keep the outer one)."""
        limit = seconds if seconds is not None else self.step_timeout
        if self._step_end is not None or not limit:
            yield
            return
        self._step_end, self._step_name, self._step_limit = time.monotonic() + limit, name, limit
        try:
            yield
        finally:
            self._step_end, self._step_name, self._step_limit = None, "", self.step_timeout

    def _remaining(self) -> float | None:
        if self._step_end is not None:
            return self._step_end - time.monotonic()
        if self.step_timeout:
            return self._born + self.step_timeout - time.monotonic()
        return None

    # --- one call -------------------------------------------------------------------

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
        recover: Callable[[], Reply | None] | None = None,
        not_found: str | None = None,
        scopes: str | None = None,
        ok: Iterable[int] = (),
        timeout: float | None = None,
        dry_run_body: Any = None,
    ) -> Reply:
        """Send one call with retries; raise a domain error for anything but 2xx (or `ok`).

        The steps, each a method of its own: `preview` (dry run), `attempt_limit` (the
        deadline), `_send` (one exchange), `judge` / `judge_error` (what a failed attempt
        means: redirect refused, 429 wait, retry or not), `may_retry` (attempts and budget),
        then `recover` (a lost write looked for) before the next attempt.
        """
        url = self.url(path)
        endpoint = self.endpoint(url)
        preview = self.preview(method, url, endpoint, json_body, dry_run_body)
        if preview is not None:
            return preview
        if idempotent is None:
            idempotent = method in READS or method in ("PUT", "DELETE")
        repeatable = idempotent or recover is not None
        call = _Call(method, url, endpoint, params, json_body, data, files)
        ok_statuses = frozenset(ok)
        started = time.monotonic()
        waited = 0.0
        for attempt in itertools.count(1):
            limit = self.attempt_limit(method, endpoint, timeout)
            try:
                reply = self._send(call, limit)
            except SentryAPIError as exc:
                outcome = self.judge_error(exc, attempt, repeatable)
            else:
                if 200 <= reply.status < 300 or reply.status in ok_statuses:
                    return reply
                outcome = self.judge(reply, attempt, repeatable, not_found, scopes)
            spent = max(waited, time.monotonic() - started)
            if not self.may_retry(outcome, attempt, spent):
                raise self._final(outcome, method, attempt, spent)
            log.info(
                "%s %s failed (%s); retry %d in %.1fs",
                method,
                endpoint,
                outcome.failure.status or "network",
                attempt,
                outcome.delay,
            )
            self._wait(outcome.delay)
            waited += outcome.delay
            if recover is not None:
                recovered = recover()
                if recovered is not None:
                    return recovered
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, seconds: float) -> None:
        """The wait before a retry; a real one ends early when the run is cancelled."""
        if self.sleep is time.sleep:
            self._cancelled.wait(seconds)
        else:
            self.sleep(seconds)

    def preview(
        self, method: str, url: str, endpoint: str, json_body: Any, dry_run_body: Any
    ) -> Reply | None:
        """In a dry run, the printed stand-in answer for a write (or for a read without a
        token); None when the call is to be sent."""
        if not self.dry_run or (method in READS and self.token):
            return None
        # A dry run is a preview: reads go to Sentry as in a real run (so the plan is the
        # real one), writes are printed instead. Without a token (a fork's pull request)
        # nothing is sent and the read is named as not checked.
        if method in READS:
            self.echo(redact(f"[dry-run] not checked (no auth token): {method} {url}"))
        else:
            shown = f" {json.dumps(json_body, default=str)}" if json_body is not None else ""
            self.echo(redact(f"[dry-run] would {method} {url}{shown}"))
        body = json.dumps({} if dry_run_body is None else dry_run_body).encode()
        return Reply(method, endpoint, 200, {"Content-Type": "application/json"}, body, True)

    def attempt_limit(self, method: str, endpoint: str, timeout: float | None) -> float:
        """Seconds the next attempt may take: the call's timeout within what is left of the
        step's deadline; NetworkError when nothing is left or the run was cancelled."""
        if self._cancelled.is_set():
            raise NetworkError(
                f"{method} {endpoint}: not sent, the run was cancelled",
                method=method,
                endpoint=endpoint,
            )
        remaining = self._remaining()
        if remaining is not None and remaining <= 0:
            raise NetworkError(
                f"{method} {endpoint}: the {self._step_name or 'command'} ran out of its "
                f"{self._step_limit or 0:g}s deadline (raise it with --step-timeout)",
                method=method,
                endpoint=endpoint,
            )
        limit = timeout or self.timeout
        return min(limit, remaining) if remaining is not None else limit

    def judge_error(self, exc: SentryAPIError, attempt: int, repeatable: bool) -> Outcome:
        """An exchange that got no answer: retried when the call may be repeated or the
        request never left (a refused connection)."""
        if exc.final:  # the same answer on every attempt
            return Outcome(exc, False, 0.0)
        retriable = repeatable or bool(getattr(exc, "unsent", False))
        return Outcome(exc, retriable, self.retry.backoff(attempt, self.rng))

    def judge(
        self,
        reply: Reply,
        attempt: int,
        repeatable: bool,
        not_found: str | None = None,
        scopes: str | None = None,
    ) -> Outcome:
        """A non-2xx answer: a redirect is refused (raised), a 429 waits for Sentry's reset,
        5xx is retried when the call may be repeated, anything else is final."""
        status = reply.status
        if 300 <= status < 400:
            raise self.redirect_refused(reply)
        failure = self._error(reply.method, reply.endpoint, reply, not_found, scopes)
        if status == RATE_LIMITED:
            hinted = rate_limit_wait(reply.headers, self.clock())
            delay = (
                hinted + self.rng.uniform(0, 0.5)
                if hinted is not None
                else self.retry.backoff(attempt, self.rng)
            )
            return Outcome(failure, True, delay)
        if status in RETRY_STATUSES:
            return Outcome(failure, repeatable, self.retry.backoff(attempt, self.rng))
        return Outcome(failure, False, 0.0)

    @staticmethod
    def redirect_refused(reply: Reply) -> SentryAPIError:
        """A 3xx that reached us (writes are never redirected; reads were followed)."""
        location = reply.headers.get("Location", "(no Location)")
        return SentryAPIError(
            f"{reply.method} {reply.endpoint} was answered with a redirect ({reply.status}) to "
            f"{redact(location)}: writes are not redirected; set SENTRY_URL to "
            "the address Sentry really answers on",
            status=reply.status,
            method=reply.method,
            endpoint=reply.endpoint,
        )

    def may_retry(self, outcome: Outcome, attempt: int, spent: float) -> bool:
        """Whether another attempt follows: retriable, attempts left, and its wait fits both
        the retry budget and the step's deadline."""
        remaining = self._remaining()
        out_of_time = spent + outcome.delay > self.retry.budget or (
            remaining is not None and outcome.delay >= remaining
        )
        failure = outcome.failure
        if isinstance(failure, NetworkError) and failure.refused and attempt >= REFUSED_ATTEMPTS:
            return False  # nothing listens there: a few tries, not the whole budget
        return outcome.retriable and attempt < self.retry.attempts and not out_of_time

    def _final(self, outcome: Outcome, method: str, attempt: int, spent: float) -> SentryAPIError:
        """The error to raise when a call gives up, with why it stopped."""
        failure, delay = outcome.failure, outcome.delay
        if isinstance(failure, NetworkError) and failure.refused:
            # the budget is not what to change: the address is (or Sentry is down)
            times = f"{attempt} time{'s' if attempt > 1 else ''}"
            return failure.with_note(f" (refused {times} in {spent:.1f}s)")
        if outcome.retriable:
            why = (
                f"Sentry asked to wait {delay:.0f}s more, beyond"
                if failure.status == RATE_LIMITED and spent + delay > self.retry.budget
                else "out of"
            )
            note = (
                f" (gave up after {attempt} attempt{'s' if attempt > 1 else ''} in "
                f"{spent:.1f}s: {why} the retry budget of {self.retry.budget:g}s and "
                f"{self.retry.attempts} attempts; raise it with --retry-budget)"
            )
        elif isinstance(failure, NetworkError) and not failure.final:
            note = f" (not retried: the {method} may have reached Sentry and is not safe to repeat)"
        else:
            return failure
        return failure.with_note(note)

    def _send(self, call: _Call, limit: float) -> Reply:
        """One exchange in a worker thread, abandoned at the deadline (a dripping server
        keeps every socket read under its timeout, so only a wall-clock bound holds)."""
        result: dict[str, Any] = {}
        deadline = time.monotonic() + limit
        method, endpoint = call.method, call.endpoint

        def work() -> None:
            try:
                result["reply"] = self._exchange(call, limit, deadline)
            except BaseException as exc:  # handed to the caller's thread
                result["error"] = exc

        with self._lock:
            self.stats.requests += 1
        worker = threading.Thread(target=work, name="sentry-request", daemon=True)
        worker.start()
        given_up = time.monotonic() + limit + 0.5
        while worker.is_alive() and not self._cancelled.is_set():
            left = given_up - time.monotonic()
            if left <= 0:
                break
            worker.join(min(left, 0.25))  # short waits: a cancel is seen within 0.25 s
        if self._cancelled.is_set() and worker.is_alive():
            raise NetworkError(
                f"{method} {endpoint}: abandoned, the run was cancelled",
                method=method,
                endpoint=endpoint,
            )
        if worker.is_alive():
            raise NetworkError(
                f"{method} {endpoint} timed out: no complete answer within {limit:g}s",
                method=method,
                endpoint=endpoint,
            )
        if "error" in result:
            raise self._network_error(method, endpoint, result["error"]) from None
        reply: Reply = result["reply"]
        return reply

    def _exchange(self, call: _Call, limit: float, deadline: float) -> Reply:
        method, url = call.method, call.url
        response = self.session.request(
            method,
            url,
            params=call.params,
            json=call.json_body,
            data=call.data,
            files=call.files,
            headers=self._headers(url),
            timeout=(min(CONNECT_TIMEOUT, limit), limit),
            allow_redirects=method in READS,
            stream=True,
            verify=self.verify,
        )
        try:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > self.max_body:
                    raise _TooLarge(f"answer larger than {self.max_body // (1024 * 1024)} MiB")
                if time.monotonic() > deadline:
                    raise requests.Timeout(f"no complete answer within {limit:g}s")
                chunks.append(chunk)
        finally:
            response.close()
        limits = {
            k.lower(): v
            for k, v in response.headers.items()
            if k.lower().startswith("x-sentry-rate-limit-")
        }
        body = response.request.body
        with self._lock:
            if limits:
                self.stats.rate_limit = limits
            self.stats.bytes_sent += len(body) if isinstance(body, (bytes, str)) else 0
        log.debug("%s %s -> %s", method, redact(url), response.status_code)
        return Reply(
            method, call.endpoint, response.status_code, response.headers, b"".join(chunks)
        )

    def _network_error(self, method: str, endpoint: str, exc: BaseException) -> Exception:
        """A requests/urllib3/socket failure as one line; bad local input as ConfigError."""
        if isinstance(exc, SentryAPIError | ConfigError):
            return exc
        if isinstance(exc, requests.exceptions.SSLError):
            if re.search(r"NO_CERTIFICATE_OR_CRL_FOUND|PEM lib|no certificate or crl", str(exc)):
                # the CA bundle (REQUESTS_CA_BUNDLE; --ca-bundle is checked up front) is bad input
                return ConfigError(
                    f"the CA bundle holds no usable certificate ({_short_exc(exc)}): fix "
                    "REQUESTS_CA_BUNDLE / --ca-bundle"
                )
            return final(self._tls_error(method, endpoint, exc))
        if isinstance(exc, requests.TooManyRedirects):
            return final(
                SentryAPIError(
                    f"{method} {endpoint}: Sentry's answers redirect in a loop; check SENTRY_URL",
                    method=method,
                    endpoint=endpoint,
                )
            )
        if isinstance(exc, _TooLarge):
            return SentryAPIError(f"{method} {endpoint}: {exc}", method=method, endpoint=endpoint)
        if _refused(exc):
            where = urlsplit(self.base_url)
            error = NetworkError(
                f"{method} {endpoint}: connection refused by {where.hostname}:"
                f"{where.port or (443 if where.scheme == 'https' else 80)}: nothing is listening "
                f"there; check SENTRY_URL ({redact(self.base_url)}) and that Sentry is up",
                method=method,
                endpoint=endpoint,
            )
            error.unsent = error.refused = True
            return error
        if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
            kind = "timed out" if isinstance(exc, requests.Timeout) else "connection failed"
            error = NetworkError(
                f"{method} {endpoint} {kind}: {_short_exc(exc)}", method=method, endpoint=endpoint
            )
            error.unsent = _never_sent(exc)
            return error
        if isinstance(exc, OSError) and "CA certificate bundle" in str(exc):
            # requests' message for a CA bundle path that does not exist: bad input.
            return ConfigError(f"{_short_exc(exc)}: fix REQUESTS_CA_BUNDLE / --ca-bundle")
        if isinstance(exc, (requests.RequestException, OSError, ValueError, UnicodeError)):
            return NetworkError(
                f"{method} {endpoint} failed: {_short_exc(exc)}", method=method, endpoint=endpoint
            )
        return exc if isinstance(exc, Exception) else RuntimeError(str(exc))

    def _tls_error(self, method: str, endpoint: str, exc: BaseException) -> NetworkError:
        """A failed TLS handshake, with the advice that fits: no TLS on that port, a CA bundle
        that does not vouch for the certificate, or no CA bundle given."""
        text = str(exc)
        where = f"{method} {endpoint}"
        if re.search(r"(?i)wrong.version.number|record.layer.failure|packet.length.too.long", text):
            _scheme, host, port = self._origin
            advice = (
                f"the server at {host}:{port} does not speak TLS on that port: use http:// "
                "or the port Sentry serves https on"
            )
        elif "certificate verify failed" in text and self.verify:
            advice = (
                f"Sentry's certificate does not verify against the CA bundle {self.verify} "
                f"({_short_exc(exc)}): check that the bundle holds the CA that signed it"
            )
        elif "certificate verify failed" in text:
            advice = (
                f"TLS verification failed ({_short_exc(exc)}): for a self-hosted Sentry with "
                "its own CA pass --ca-bundle /path/to/ca.pem (or set REQUESTS_CA_BUNDLE)"
            )
        else:
            advice = f"the TLS handshake failed ({_short_exc(exc)})"
        return NetworkError(f"{where}: {advice}", method=method, endpoint=endpoint)

    def _error(
        self,
        method: str,
        endpoint: str,
        reply: Reply,
        not_found: str | None,
        scopes: str | None,
    ) -> SentryAPIError:
        status = reply.status
        detail = error_detail(reply.content, "", status)
        where = f"{method} {endpoint}"
        kwargs: dict[str, Any] = {
            "status": status,
            "detail": detail,
            "method": method,
            "endpoint": endpoint,
        }
        needs = f"; {where} needs {scopes}" if scopes else ""
        if status == 401:
            return AuthError(
                f"Sentry rejected the auth token ({detail}){needs}: check the token "
                "(SENTRY_AUTH_TOKEN / auth_token) and that it belongs to this Sentry",
                **kwargs,
            )
        if status == 403:
            return AuthError(
                f"the auth token may not do this ({detail}){needs}: give the token that "
                "scope (see the README's token scopes table)",
                **kwargs,
            )
        if status == 404:
            return NotFoundError(f"{not_found or where + ': not found'} ({detail})", **kwargs)
        return SentryAPIError(f"{where} failed with HTTP {status}: {detail}", **kwargs)

    # --- lists ----------------------------------------------------------------------

    def paginate(
        self,
        path: str,
        params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
        **kwargs: Any,
    ) -> Iterator[Any]:
        """Items across pages: the `next` cursor reused against our own base URL (never the
        Link URL's host), stopping on `results="false"`, a repeated cursor or MAX_PAGES."""
        base: list[tuple[str, Any]] = (
            list(params.items()) if isinstance(params, Mapping) else list(params or [])
        )
        seen: set[str] = set()
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            query = base + ([("cursor", cursor)] if cursor else [])
            reply = self.request("GET", path, params=query or None, **kwargs)
            items = reply.json()
            if reply.dry_run and not isinstance(items, list):
                return
            if not isinstance(items, list):
                raise ShapeError(
                    f"GET {reply.endpoint}: expected a JSON list, got {type(items).__name__}",
                    method="GET",
                    endpoint=reply.endpoint,
                )
            yield from items
            cursor = next_cursor(reply.headers.get("Link"))
            if cursor is None or cursor in seen:
                return
            seen.add(cursor)


@dataclass(frozen=True)
class _Call:
    """One request as the caller gave it."""

    method: str
    url: str
    endpoint: str
    params: Any
    json_body: Any
    data: Any
    files: Any


class _TooLarge(Exception):
    """The answer passed the size cap."""


class GuardedSession(requests.Session):
    """A session that drops the custom headers on a redirect to another origin (requests
    itself drops only `Authorization`, and only when the host changes)."""

    def __init__(self) -> None:
        super().__init__()
        self.private: set[str] = set()  # lower-cased names of the custom headers

    def rebuild_auth(
        self, prepared_request: requests.PreparedRequest, response: requests.Response
    ) -> None:
        super().rebuild_auth(prepared_request, response)  # type: ignore[no-untyped-call]
        if origin(prepared_request.url or "") != origin(response.request.url or ""):
            for name in [n for n in prepared_request.headers if n.lower() in self.private]:
                del prepared_request.headers[name]


def make_session(ca_bundle: str | None = None) -> requests.Session:
    """The one session factory: pooled connections sized for parallel chunk uploads.

    `trust_env` stays on so HTTPS_PROXY / NO_PROXY work on self-hosted runners; the token is
    still only sent to Sentry's origin (through a CONNECT tunnel for https).
    """
    session = GuardedSession()
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
    adapter.poolmanager.pool_classes_by_scheme = _preconnected_pools()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    if ca_bundle:
        session.verify = ca_bundle
    return session


def _preconnected_pools() -> dict[str, type[urllib3.HTTPConnectionPool]]:
    """urllib3's pools, whose first new connection takes the socket `preconnect` opened at
    process start when it is to the same host and port (TLS is then done on it as on any
    other); every other connection is opened as urllib3 opens it."""

    def new_conn(
        conn: urllib3.connection.HTTPConnection, opened: Callable[[], socket.socket]
    ) -> socket.socket:
        timeout = urllib3.util.Timeout.resolve_default_timeout(conn.timeout)
        sock = preconnect.take(conn._dns_host, conn.port, timeout)  # urllib3's resolved host
        if sock is None:
            return opened()
        sock.settimeout(timeout)
        return sock

    class Connection(urllib3.connection.HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return new_conn(self, super()._new_conn)

    class TlsConnection(urllib3.connection.HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return new_conn(self, super()._new_conn)

    class Pool(urllib3.HTTPConnectionPool):
        ConnectionCls = Connection

    class TlsPool(urllib3.HTTPSConnectionPool):
        ConnectionCls = TlsConnection

    return {"http": Pool, "https": TlsPool}


def _refused(exc: BaseException) -> bool:
    """Whether nothing listens at the address (the connection was refused)."""
    return isinstance(exc, requests.ConnectionError) and "Connection refused" in str(exc)


E = TypeVar("E", bound=SentryAPIError)


def final(error: E) -> E:
    """Mark a failure that another attempt would meet again (TLS, a redirect loop)."""
    error.final = True
    return error


def _never_sent(exc: BaseException) -> bool:
    """A refused connection means the request never reached the server: safe to resend."""
    return isinstance(exc, requests.ConnectTimeout) or _refused(exc)


def _short_exc(exc: BaseException) -> str:
    text = str(exc)
    match = re.search(r"(certificate verify failed[^')(]*)", text) or re.search(
        r"\[Errno -?\d+\] ([^'\")\]]+)|Error\(-?\d+, '([^']+)'\)|(Read timed out)"
        r"|(Connection refused)|(no complete answer within [\d.]+s)",
        text,
    )
    if match:
        return next(g for g in match.groups() if g).strip()
    return redact(text)[:200] or type(exc).__name__
