"""The stand-in's HTTP server: a threaded server dispatching to the route table.

Each area of the API lives in its own module (`releases`, `commits`, `chunks`, `events`) and
registers its handlers with `@route` from `routing.py` (requests, responses, Sentry-shaped
errors, pagination); this module imports the areas, they never import it. Handlers take a
`Request` and return a `Response` or raise `HTTPError`.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sentry_standin.options import STRICT, Options
from sentry_standin.routing import (
    MAX_BODY,
    NOT_FOUND,
    PERMISSIONS,
    ROUTES,
    HTTPError,
    Request,
    Response,
)
from sentry_standin.store import Store

# What a DevServer built without `options` uses: strict. A test suite may set another default
# in one place (the product's tests/conftest.py does, naming each lenient flag it needs).
DEFAULT_OPTIONS: Options = STRICT


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
