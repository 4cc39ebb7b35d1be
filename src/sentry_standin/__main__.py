"""`python -m sentry_standin`: the stand-in with every strictness option on the command line."""

from __future__ import annotations

from pathlib import Path

import click

from sentry_standin.main import serve
from sentry_standin.options import CHUNK_URL_STYLES, FEATURES, LENIENT_FLAGS, MODES, Options


@click.command("sentry-standin")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=0, help="Port (0: any free port). [default: 0]")
@click.option("--org", "orgs", multiple=True, help="Organization slug (repeatable). [acme]")
@click.option("--project", "projects", multiple=True, help="Project slug (repeatable). [web]")
@click.option("--token", "tokens", multiple=True, help="NAME or NAME=scope1,scope2 (repeatable).")
@click.option("--repo", "repos", multiple=True, help="Repository: owner/name=url (repeatable).")
@click.option("--state", type=click.Path(dir_okay=False), help="JSON file that keeps state.")
@click.option("--faults", help="Fault injection spec (see docs/reliability.md).")
@click.option("--url-prefix", help="Sentry's system.url-prefix (Link and chunk URLs).")
@click.option("--upload-url-prefix", help="Sentry's system.upload-url-prefix (chunk URL).")
@click.option("--chunk-url", type=click.Choice(CHUNK_URL_STYLES), default="absolute")
@click.option("--feature", "features", multiple=True, type=click.Choice(FEATURES))
@click.option(
    "--lenient", multiple=True, type=click.Choice(sorted(LENIENT_FLAGS)), help="Relax one rule."
)
@click.option("--mode", "modes", multiple=True, type=click.Choice(sorted(MODES)))
@click.option("--verbose", is_flag=True, help="Log every request.")
def main(
    url_prefix: str | None,
    upload_url_prefix: str | None,
    chunk_url: str,
    lenient: tuple[str, ...],
    modes: tuple[str, ...],
    features: tuple[str, ...],
    state: str | None,
    **kwargs: object,
) -> None:
    """Run the strict Sentry stand-in until interrupted."""
    options = Options(
        url_prefix=url_prefix,
        upload_url_prefix=upload_url_prefix,
        chunk_url=chunk_url,
        lenient=frozenset(lenient),
        modes=frozenset(modes),
        features=frozenset(features),
    )
    serve(options=options, state=Path(state) if state else None, **kwargs)


if __name__ == "__main__":
    main()
