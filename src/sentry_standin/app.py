"""The stand-in's HTTP layer: a threaded server, a tiny router, Sentry-shaped errors.

Each area of the API lives in its own module (`releases`, `commits`, `chunks`, `events`) and
registers its handlers with `@route`. Handlers take a `Request` and return a `Response` or
raise `HTTPError`; auth and org lookup are shared helpers so every endpoint fails alike.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from sentry_standin import rules
from sentry_standin.options import STRICT, Options
from sentry_standin.store import Store

NOT_FOUND = "The requested resource does not exist"
# What a DevServer built without `options` uses: strict. A test suite may set another default
# in one place (the product's tests/conftest.py does, naming each lenient flag it needs).
DEFAULT_OPTIONS: Options = STRICT
MAX_BODY = 256 * 1024 * 1024
PER_PAGE = 100
# Route prefixes of Sentry's organization and project endpoints (`api/urls.py`).
ORG = r"/api/0/organizations/(?P<org>[^/]+)"
PROJECT = r"/api/0/projects/(?P<org>[^/]+)/(?P<project>[^/]+)"


class HTTPError(Exception):
    """An error response with Sentry's JSON body."""

    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.body = {"detail": NOT_FOUND} if body is None and status == 404 else body
        self.headers = headers or {}


def bad_request(field_name: str, message: str) -> HTTPError:
    """400 with DRF's field-error shape."""
    return HTTPError(400, {field_name: [message]})


@dataclass
class Response:
    """What a handler returns."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


@dataclass
class Request:
    """A parsed request, handed to handlers."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str]
    store: Store
    server: DevServer
    permission: ScopeMap | None = None
    token: str | None = None

    @property
    def options(self) -> Options:
        """The server's strictness and modes."""
        return self.server.options

    @property
    def scopes(self) -> list[str]:
        """The authenticated token's scopes (none before `authenticate`)."""
        return self.store.token_scopes(self.token) if self.token else []

    def has_scope(self, *wanted: str) -> bool:
        """Whether the token holds any of these scopes."""
        return any(s in self.scopes for s in wanted)

    def called_base(self) -> str:
        """The scheme and host the client called (what a lenient server builds URLs from)."""
        host = self.header("host")
        return f"http://{host}/" if host else self.server.url

    def url_prefix(self) -> str:
        """Sentry's `system.url-prefix`: where absolute URLs point (api/base.py absolute_uri)."""
        return self.options.url_prefix or self.server.url

    def arg(self, name: str, default: str | None = None) -> str | None:
        """First value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else default

    def args(self, name: str) -> list[str]:
        """All values of a repeated query parameter."""
        return self.query.get(name, [])

    def json(self) -> Any:
        """The JSON body, or a 400 like Sentry's parser error."""
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except ValueError:
            raise HTTPError(400, {"detail": "JSON parse error"}) from None

    def header(self, name: str) -> str | None:
        """A header, case-insensitively."""
        return self.headers.get(name.lower())

    def authenticate(self) -> str:
        """Check the bearer token as Sentry does (401 on missing or unknown)."""
        auth = self.header("authorization") or ""
        scheme, _, token = auth.partition(" ")
        if not auth:
            raise HTTPError(401, {"detail": "Authentication credentials were not provided."})
        if scheme.lower() not in ("bearer", "token") or not token.strip():
            raise HTTPError(401, {"detail": "Invalid authentication header."})
        if not self.store.token_ok(token.strip()):
            raise HTTPError(401, {"detail": "Invalid token"})
        self.token = token.strip()
        if "org" not in self.params:
            self.check_permission()
        return self.token

    def check_permission(self) -> None:
        """403 unless the token holds a scope the route's permission class accepts."""
        if self.permission is not None and not rules.allowed(
            self.permission, self.method, self.scopes
        ):
            raise HTTPError(403, {"detail": rules.FORBIDDEN})

    def org(self) -> dict[str, Any]:
        """Authenticate, then the org named in the path (404 when unknown), then the scopes
        (403), in the order Sentry's OrganizationEndpoint.convert_args checks them."""
        self.authenticate()
        org = self.store.org(self.params["org"])
        if org is None:
            raise HTTPError(404)
        self.check_permission()
        return org

    def release(self) -> dict[str, Any]:
        """Authenticate, then the release in the path (404 for unknown org or release)."""
        org = self.org()
        rel = self.store.release(org["slug"], self.params["version"])
        if rel is None:
            raise HTTPError(404)
        return rel

    def json_object(self) -> dict[str, Any]:
        """The JSON body, which must be an object (400 as Sentry's serializers say)."""
        body = self.json()
        if not isinstance(body, dict):
            raise HTTPError(400, {"detail": "Invalid data. Expected a dictionary"})
        return body


Handler = Callable[[Request], Response]
ScopeMap = dict[str, tuple[str, ...]]
ROUTES: list[tuple[str, re.Pattern[str], Handler]] = []
# (method, path regex) -> the scope map of the permission class guarding that endpoint.
PERMISSIONS: dict[tuple[str, str], ScopeMap] = {}


def route(
    method: str, pattern: str, permission: ScopeMap | None = None
) -> Callable[[Handler], Handler]:
    """Register a handler for `method` and a path regex with named groups; `permission` is
    the scope map of the Sentry permission class that guards the endpoint (rules.py)."""

    def register(handler: Handler) -> Handler:
        compiled = re.compile("^" + pattern + "$")
        ROUTES.append((method, compiled, handler))
        if permission is not None:
            PERMISSIONS[(method, compiled.pattern)] = permission
        return handler

    return register


def paginate(request: Request, items: list[Any]) -> Response:
    """Sentry's cursor pagination: `cursor=0:offset:0`, Link with previous/next."""
    try:
        per_page = max(1, min(PER_PAGE, int(request.arg("per_page") or PER_PAGE)))
    except ValueError:
        raise bad_request("per_page", "A valid integer is required.") from None
    cursor = request.arg("cursor") or "0:0:0"
    try:
        offset = int(cursor.split(":")[1])
    except (IndexError, ValueError):
        raise HTTPError(400, {"detail": "Invalid cursor parameter."}) from None
    page = items[offset : offset + per_page]
    # Sentry builds Link URLs with absolute_uri from system.url-prefix (api/base.py), not
    # from the host the client called; a client must reuse only the cursor.
    origin = (
        request.called_base()
        if request.options.lenient_on("link-called-host")
        else request.url_prefix()
    )
    base = origin.rstrip("/") + request.path
    query = {k: v for k, v in request.query.items() if k != "cursor"}

    def link(rel: str, off: int, results: bool) -> str:
        cur = f"0:{max(off, 0)}:{1 if rel == 'previous' else 0}"
        qs = urlencode({**query, "cursor": [cur]}, doseq=True)
        return f'<{base}?{qs}>; rel="{rel}"; results="{str(results).lower()}"; cursor="{cur}"'

    links = ", ".join(
        [
            link("previous", offset - per_page, offset > 0),
            link("next", offset + per_page, offset + per_page < len(items)),
        ]
    )
    return Response(200, page, {"Link": links})


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: avoid 40 ms stalls

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.owner.verbose:
            super().log_message(format, *args)

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The `Date` header, on the store's clock (a test's simulated one, or real time)."""
        return super().date_time_string(
            self.server.owner.store.clock() if timestamp is None else timestamp
        )

    def _dispatch(self) -> None:
        owner = self.server.owner
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._send(Response(413, {"detail": "Request too large"}))
            return
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        path = split.path
        if owner.faults is not None and owner.faults.before(self, self.command, path, body):
            return
        response = self._handle(owner, path, split.query, headers, body)
        with owner.store.lock:
            owner.store.requests.append(
                {
                    "method": self.command,
                    "path": path,
                    "query": split.query,
                    "status": response.status,
                    "headers": headers,
                }
            )
        if owner.faults is not None and owner.faults.after(self, self.command, path, response):
            return
        self._send(response)

    def _handle(
        self, owner: DevServer, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> Response:
        method_allowed = False
        for method, pattern, handler in ROUTES:
            match = pattern.match(path)
            if not match:
                continue
            if method != self.command:
                method_allowed = True
                continue
            request = Request(
                method=self.command,
                path=path,
                query=parse_qs(query, keep_blank_values=True),
                headers=headers,
                body=body,
                params={k: unquote(v) for k, v in match.groupdict().items() if v is not None},
                store=owner.store,
                server=owner,
                permission=PERMISSIONS.get((method, pattern.pattern)),
            )
            try:
                with owner.store.lock if method != "GET" else _nolock():
                    response = handler(request)
                if method != "GET":
                    owner.store.save()
                return response
            except HTTPError as exc:
                return Response(exc.status, exc.body, exc.headers)
            except Exception as exc:  # the stand-in must answer like a server, not hang
                return Response(500, {"detail": f"Internal Error: {exc.__class__.__name__}"})
        if method_allowed:
            return Response(405, {"detail": f'Method "{self.command}" not allowed.'})
        return Response(404, {"detail": NOT_FOUND})

    def _send(self, response: Response) -> None:
        if response.raw is not None:
            payload = response.raw
            content_type = response.headers.pop("Content-Type", "application/octet-stream")
        elif response.body is None and response.status in (204,):
            payload = b""
            content_type = "application/json"
        else:
            payload = json.dumps(response.body).encode()
            content_type = "application/json"
        self.send_response(response.status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _dispatch


class _nolock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: DevServer

    def server_activate(self) -> None:
        # The server's own log is the stderr of the moment it starts: a client run later in
        # the same process with its stderr redirected (a test, the demo) must not receive the
        # server's tracebacks of connections the client dropped.
        self.log = sys.stderr
        super().server_activate()

    def handle_error(self, request: Any, client_address: Any) -> None:
        import traceback

        print(f"stand-in: error handling a request from {client_address}", file=self.log)
        traceback.print_exc(file=self.log)


class DevServer:
    """The stand-in, started in a background thread (tests, demo) or in the foreground."""

    def __init__(
        self,
        store: Store | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Any = None,
        verbose: bool = False,
        options: Options | None = None,
    ) -> None:
        _load_routes()
        self.store = store or Store()
        self.faults = faults
        self.verbose = verbose
        self.httpd = _HTTPServer((host, port), _Handler)
        self.httpd.owner = self
        self.host, self.port = self.httpd.server_address[:2]
        self.url = f"http://{host if ':' not in host else f'[{host}]'}:{self.port}/"
        chosen = DEFAULT_OPTIONS if options is None else options
        # A url-prefix may name this server's port as `{port}` (another host, same port).
        self.options = chosen.for_port(self.port)
        self._thread: threading.Thread | None = None

    def start(self) -> DevServer:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            # A short poll makes stop() quick (the default 0.5 s adds up over a test suite).
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name="sentry-devserver",
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until `stop()` (from a signal handler) is called."""
        self.httpd.serve_forever()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> DevServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def dsn(self, org: str, project: str) -> str:
        """The DSN of a project on this server."""
        return self.store.dsn(self.url, org, project)


def _load_routes() -> None:
    """Import every area module so their `@route`s register (modules import once; an area
    imported earlier on its own, like `commits` for `--repo`, must not stop the others)."""
    from sentry_standin import (  # noqa: F401
        chunks,
        commits,
        events,
        gate_reads,
        project_releases,
        releases,
    )
