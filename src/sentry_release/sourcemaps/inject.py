"""Debug ID injection, compatible with `sentry-cli sourcemaps inject`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sentry_release.output import Output


@dataclass(frozen=True)
class InjectedFile:
    """One bundle that got (or already had) a debug id."""

    path: Path
    debug_id: str
    sourcemap: Path | None
    changed: bool


@dataclass(frozen=True)
class InjectResult:
    """What inject did."""

    files: tuple[InjectedFile, ...] = ()
    skipped: tuple[Path, ...] = field(default=())


def inject_paths(paths: tuple[Path, ...], *, dry_run: bool, out: Output) -> InjectResult:
    """Inject debug IDs into every JS file under `paths` that has a source map."""
    raise NotImplementedError("inject is built by issue 4")
