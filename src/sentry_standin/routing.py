"""The stand-in's HTTP vocabulary: requests, responses, errors, the route table that the
area modules register into with `@route`, and Sentry's cursor pagination. The area modules
import this, never `app.py`, which imports them (so the stand-in has no import cycle)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlencode

from sentry_standin import rules
from sentry_standin.options import Options
from sentry_standin.store import Store


class Server(Protocol):
    """What a handler may ask of the server it runs in (`app.DevServer` is one)."""

    url: str
    options: Options
    faults: Any


NOT_FOUND = "The requested resource does not exist"
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
    server: Server
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
