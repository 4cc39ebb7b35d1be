"""Fixture sets per size, built once and cached under bench/.work/fixtures/ (deterministic).

The JS bundles come from the source maps work's `sourcemaps_fixture.make_bundles` when that
module is present in bench/, else from our own `js_fixture.make_js_bundles` (same signature).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from git_fixture import make_repo

WORK = Path(__file__).resolve().parent / ".work"
SEED = 7
FIXTURE_VERSION = 1  # bump when a generator changes its output


@dataclass(frozen=True)
class Size:
    """One benchmark size."""

    name: str
    files: int
    commits: int
    total_bytes: int


SIZES = {
    "small": Size("small", 1, 20, 50_000),
    "medium": Size("medium", 200, 1_000, 10_000_000),
    "large": Size("large", 2_000, 10_000, 100_000_000),
}


@dataclass(frozen=True)
class FixtureSet:
    """A built fixture: the repository and the pristine bundle directory."""

    size: Size
    repo: Path
    dist: Path
    head: str
    generator: str
    js_files: int
    bytes_on_disk: int


def bundle_generator() -> tuple[str, Callable[..., object]]:
    """(name, make_bundles) — the source maps work's generator if present, else ours."""
    try:
        from sourcemaps_fixture import make_bundles  # type: ignore[import-not-found]

        return "bench/sourcemaps_fixture.py make_bundles (source maps work)", make_bundles
    except ImportError:
        from js_fixture import make_js_bundles

        return "bench/js_fixture.py make_js_bundles (bench's own)", make_js_bundles


def _source_digest(*functions: Callable[..., object]) -> str:
    """A digest of the generators' source files: an edited generator rebuilds the cache."""
    import hashlib
    import inspect

    digest = hashlib.sha1()
    for function in functions:
        digest.update(Path(inspect.getfile(function)).read_bytes())
    return digest.hexdigest()[:12]


def build(size: Size, *, log: Callable[[str], None] = print) -> FixtureSet:
    """Build (or reuse) the fixture for `size`."""
    generator, make_bundles = bundle_generator()
    root = WORK / "fixtures" / size.name
    stamp = root / "fixture.json"
    params = {
        "size": size.__dict__,
        "seed": SEED,
        "generator": generator,
        "v": FIXTURE_VERSION,
        "code": _source_digest(make_bundles, make_repo),
    }
    if stamp.is_file():
        saved = json.loads(stamp.read_text())
        if saved.get("params") == params:
            return FixtureSet(
                size=size,
                repo=root / "repo",
                dist=root / "dist",
                head=saved["head"],
                generator=generator,
                js_files=saved["js_files"],
                bytes_on_disk=saved["bytes"],
            )
    log(
        f"building {size.name} fixture: {size.commits} commits, {size.files} bundles "
        f"(~{size.total_bytes / 1e6:.1f} MB)"
    )
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    head = make_repo(root / "repo", size.commits, seed=SEED)
    make_bundles(root / "dist", size.files, size.total_bytes, SEED)
    js_files = sum(1 for p in (root / "dist").rglob("*") if p.suffix in (".js", ".mjs", ".cjs"))
    total = sum(p.stat().st_size for p in (root / "dist").rglob("*") if p.is_file())
    stamp.write_text(
        json.dumps({"params": params, "head": head, "js_files": js_files, "bytes": total})
    )
    return FixtureSet(
        size=size,
        repo=root / "repo",
        dist=root / "dist",
        head=head,
        generator=generator,
        js_files=js_files,
        bytes_on_disk=total,
    )


def copy_dist(fixture: FixtureSet, target: Path) -> Path:
    """A private copy of the bundles: inject rewrites files, each tool gets its own."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(fixture.dist, target)
    return target


def git_head(repo: Path) -> str:
    """HEAD of a repository (for the README)."""
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
