"""Build and run the stand-in: `sentry-release dev-server` and `python -m sentry_standin`."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import FrameType

from sentry_standin.app import DevServer
from sentry_standin.errors import StandinConfigError
from sentry_standin.options import Options
from sentry_standin.store import DEFAULT_ORG, DEFAULT_PROJECT, DEFAULT_TOKEN, Store


def parse_repo_flag(value: str) -> tuple[str, str]:
    """`owner/name=url` -> (name, url)."""
    name, sep, url = value.partition("=")
    if not sep or "/" not in name or not url:
        raise StandinConfigError(
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
    options: Options | None = None,
    features: Iterable[str] = (),
) -> DevServer:
    """A configured stand-in (not yet serving). Tokens are `NAME` or `NAME=scope1,scope2`."""
    store = Store(
        orgs=orgs or (DEFAULT_ORG,),
        projects=projects or (DEFAULT_PROJECT,),
        tokens=tokens or (DEFAULT_TOKEN,),
        state_file=state,
        features=features,
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
    return DevServer(
        store, host=host, port=port, faults=fault_plan, verbose=verbose, options=options
    )


def serve(**kwargs: object) -> None:
    """Print the URL, token and DSNs, then serve until interrupted."""
    server = build_server(**kwargs)  # type: ignore[arg-type]
    store = server.store
    print(f"Sentry stand-in listening on {server.url}", flush=True)
    print(f"  SENTRY_URL={server.url}", flush=True)
    print(f"  SENTRY_AUTH_TOKEN={store.data['tokens'][0]}", flush=True)
    for token in store.data["tokens"]:
        print(f"  token {token}: {', '.join(store.token_scopes(token))}", flush=True)
    for org_slug, org in store.data["orgs"].items():
        for slug in org["projects"]:
            print(f"  {org_slug}/{slug} DSN: {server.dsn(org_slug, slug)}", flush=True)
    options = server.options
    if options.lenient or options.modes:
        print(f"  lenient: {sorted(options.lenient)} modes: {sorted(options.modes)}", flush=True)
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
