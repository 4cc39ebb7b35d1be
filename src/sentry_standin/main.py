"""`sentry-release dev-server`: run the stand-in in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from sentry_release.errors import ConfigError
from sentry_standin.app import DevServer
from sentry_standin.store import DEFAULT_ORG, DEFAULT_PROJECT, DEFAULT_TOKEN, Store


def parse_repo_flag(value: str) -> tuple[str, str]:
    """`owner/name=url` -> (name, url)."""
    name, sep, url = value.partition("=")
    if not sep or "/" not in name or not url:
        raise ConfigError(
            f"--repo must look like owner/name=https://github.com/owner/name, got {value!r}"
        )
    return name.strip(), url.strip()


def build_server(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    orgs: Sequence[str] = (),
    projects: Sequence[str] = (),
    tokens: Sequence[str] = (),
    repos: Sequence[str] = (),
    state: Path | None = None,
    faults: str | None = None,
    verbose: bool = False,
) -> DevServer:
    """A configured stand-in (not yet serving)."""
    store = Store(
        orgs=orgs or (DEFAULT_ORG,),
        projects=projects or (DEFAULT_PROJECT,),
        tokens=tokens or (DEFAULT_TOKEN,),
        state_file=state,
    )
    if repos:
        from sentry_standin.commits import add_repo

        for org in orgs or (DEFAULT_ORG,):
            for flag in repos:
                name, url = parse_repo_flag(flag)
                add_repo(store, org, name, url)
    fault_plan = None
    if faults:
        from sentry_standin.faults import FaultPlan

        fault_plan = FaultPlan.parse(faults)
    return DevServer(store, host=host, port=port, faults=fault_plan, verbose=verbose)


def serve(**kwargs: object) -> None:
    """Print the URL, token and DSNs, then serve until interrupted."""
    server = build_server(**kwargs)  # type: ignore[arg-type]
    store = server.store
    print(f"Sentry stand-in listening on {server.url}", flush=True)
    print(f"  SENTRY_URL={server.url}", flush=True)
    print(f"  SENTRY_AUTH_TOKEN={store.data['tokens'][0]}", flush=True)
    for org_slug, org in store.data["orgs"].items():
        for slug in org["projects"]:
            print(f"  {org_slug}/{slug} DSN: {server.dsn(org_slug, slug)}", flush=True)
    if server.faults is not None:
        server.faults.echo = lambda line: print(line, file=sys.stderr, flush=True)
        print(f"Injecting faults: {len(server.faults.rules)} rule(s)", flush=True)
    print("Press Ctrl+C to stop.", flush=True)

    def stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    server.serve_forever()
    server.httpd.server_close()
    store.save()
    print("Sentry stand-in stopped.", file=sys.stderr, flush=True)
