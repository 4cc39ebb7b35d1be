"""Legacy upload for old self-hosted Sentry: one release file per file.

`POST /projects/{org}/{project}/releases/{version}/files/` (Sentry's
`api/endpoints/project_release_files.py`), used when the server has no chunk upload or does
not accept artifact bundles; 409 (already there) counts as done.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from sentry_release.config.settings import Settings
from sentry_release.errors import SourceMapError
from sentry_release.output import Output
from sentry_release.sentry.api import SentryApi
from sentry_release.sourcemaps.bundle import BundleFile


def upload_legacy(
    settings: Settings,
    client: SentryApi,
    version: str | None,
    files: Sequence[BundleFile],
    out: Output,
) -> tuple[int, int]:
    """Old self-hosted Sentry: one release-file POST per file; `(bytes sent, files new)`."""
    if not version:
        raise SourceMapError(
            "this Sentry has no artifact bundle upload, so source maps need a release: "
            "pass VERSION or --release"
        )
    assert settings.org is not None
    org, project, release = settings.org, settings.projects[0], version
    bar = out.progress("Uploading release files", len(files), "files")

    def one(item: BundleFile) -> int:
        headers = {"Sourcemap": item.headers["sourcemap"]} if "sourcemap" in item.headers else {}
        if "debug-id" in item.headers:
            headers["debug-id"] = item.headers["debug-id"]
        created = client.upload_release_file(
            org,
            project,
            release,
            name=item.url,
            content=item.content,
            dist=settings.sourcemaps.dist,
            headers=headers,
        )
        bar.advance(1)
        return item.size if created else -1  # not `len(item.content)`: a 2nd read

    workers = settings.sourcemaps.concurrency or 4
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="release-files") as pool:
        results = list(pool.map(one, files))
    bar.close()
    return sum(r for r in results if r > 0), sum(1 for r in results if r >= 0)
