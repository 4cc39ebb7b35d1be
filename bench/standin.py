"""The Sentry stand-in as the bench runs it: its own process, plus two bench-only endpoints.

`GET /bench/counters` sums what clients sent (request bodies by Content-Length, split into chunk
uploads and the rest) so the harness can read bytes per step as deltas; `POST /bench/orgs/<slug>`
adds a fresh organization so every (round, tool) starts with no previous release;
`POST /bench/public-url/?url=U` makes the stand-in name U (the shaping proxy,
bench/netem_proxy.py) in the URLs it hands out: the chunk-upload `url` and the pagination
`Link`s, so both tools' chunks and next pages cross the emulated network too. All three are
registered here, not in `src/`: the product's stand-in stays the product's.

The stand-in has no option for its public URL: `DevServer.url` is a plain attribute that
`chunk_upload_options` and `paginate` read per request, so `public_url` sets it (a documented
monkeypatch; product hook wanted: a `public_url=` argument to `build_server`).
The harness, the network runs, monorepo.py, history.py and waits.py reach the stand-in only
through this process (two import lines to change when it moves to `sentry_standin`; the
older commits_fixture.py and sourcemaps_upload.py import it directly).

Run: `python bench/standin.py --token T --project web` (prints the URL as its first line).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from sentry_standin.main import build_server
from sentry_standin.routing import ROUTES, Request, Response, route

BENCH = "/bench/"


def counters(request: Request) -> Response:
    """Totals of every non-bench request so far, and requests to paths with no route."""
    total: dict[str, Any] = {
        "requests": 0,
        "body_bytes": 0,
        "chunk_requests": 0,
        "chunk_bytes": 0,
        "unrouted": 0,
        "last_unrouted": "",
    }
    with request.store.lock:
        seen = list(request.store.requests)
    for entry in seen:
        if entry["path"].startswith(BENCH):
            continue
        size = int(entry["headers"].get("content-length") or 0)
        total["requests"] += 1
        total["body_bytes"] += size
        if entry["method"] == "POST" and "chunk-upload" in entry["path"]:
            total["chunk_requests"] += 1
            total["chunk_bytes"] += size
        if entry["status"] in (404, 405) and not any(
            pattern.match(entry["path"])
            for method, pattern, _ in ROUTES
            if method == entry["method"]
        ):
            # a path the stand-in does not serve yet (not a 404 of a served endpoint)
            total["unrouted"] += 1
            total["last_unrouted"] = f"{entry['method']} {entry['path']}"
    return Response(200, total)


def add_org(request: Request) -> Response:
    """A new org with the configured projects (idempotent)."""
    projects: list[str] = request.server.bench_projects  # type: ignore[attr-defined]
    org: dict[str, Any] = request.store.add_org(request.params["slug"], projects)
    return Response(201, {"slug": org["slug"]})


def public_url(request: Request) -> Response:
    """Hand out `url` (the proxy) instead of the listening address from now on."""
    url = request.arg("url") or ""
    if not url.startswith("http"):
        return Response(400, {"detail": "url= must be an http URL"})
    request.server.url = url if url.endswith("/") else url + "/"
    return Response(200, {"url": request.server.url})


def main(argv: list[str] | None = None) -> None:
    """Start the stand-in on an ephemeral port and serve until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--token", required=True)
    parser.add_argument("--project", action="append", default=[])
    parser.add_argument("--org", action="append", default=[])
    args = parser.parse_args(argv)
    projects = args.project or ["web"]
    server = build_server(orgs=args.org or ["acme"], projects=projects, tokens=[args.token])
    server.bench_projects = projects  # type: ignore[attr-defined]
    # the server constructor loaded the product routes; ours go after them
    route("GET", BENCH + "counters/?")(counters)
    route("POST", BENCH + "orgs/(?P<slug>[^/]+)/?")(add_org)
    route("POST", BENCH + "public-url/?")(public_url)
    print(server.url, flush=True)

    def stop(signum: int, frame: object) -> None:
        threading.Thread(target=server.httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()
    server.httpd.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
