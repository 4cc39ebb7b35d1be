"""How many times each build file is read (#23): `inject` reads a file once to plan and check
it and once more under the folder lock to write it (refused if it changed in between); a
second `inject` only once; `upload-sourcemaps` once to check it and once to stream it into the
bundle; `run` four times (checked, planned and collected, re-read to be written, streamed), its
inject step writing from the plan made before the release, not planning again.

Every read of a build file opens it through `paths.open_regular` (whole reads through
`read_regular`, the bundle's slices directly), so counting its calls per path counts reads.
"""

from __future__ import annotations

import io
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sentry_release.sourcemaps import bundle, paths
from sentry_standin import DevServer
from tests.helpers import run_cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sourcemaps"


@pytest.fixture()
def work(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    shutil.copytree(FIXTURES / "dist", work / "dist", ignore=shutil.ignore_patterns("TERSER_*"))
    return work


@pytest.fixture()
def reads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Opens for reading, by file name, of every build file."""
    seen: Counter[str] = Counter()
    real = paths.open_regular

    def counted(path: Path | str) -> Any:
        if Path(path).parent.name == "dist":
            seen[Path(path).name] += 1
        return real(path)

    monkeypatch.setattr(paths, "open_regular", counted)
    monkeypatch.setattr(bundle, "open_regular", counted)
    return seen


def _files(work: Path) -> list[str]:
    return sorted(p.name for p in (work / "dist").iterdir())


def _each(work: Path, reads: Counter[str]) -> dict[str, int]:
    return {name: reads[name] for name in _files(work)}


def test_inject_reads_each_file_twice(
    server: DevServer, env: dict[str, str], work: Path, reads: Counter[str]
) -> None:
    done = run_cli(["inject", "dist"], env, cwd=work)
    assert done.returncode == 0, done.stderr
    assert _each(work, reads) == {name: 2 for name in _files(work)}


def test_upload_reads_each_file_twice(
    server: DevServer, env: dict[str, str], work: Path, reads: Counter[str]
) -> None:
    done = run_cli(["upload-sourcemaps", "1.0", "dist"], env, cwd=work)
    assert done.returncode == 0, done.stderr
    assert _each(work, reads) == {name: 2 for name in _files(work)}


def test_run_reads_each_file_four_times(
    server: DevServer, env: dict[str, str], work: Path, reads: Counter[str]
) -> None:
    done = run_cli(
        ["run", "1.0", "--mode", "skip", "--no-deploy", "--sourcemaps", "dist"], env, cwd=work
    )
    assert done.returncode == 0, done.stderr
    assert _each(work, reads) == {name: 4 for name in _files(work)}


def test_a_second_inject_reads_each_file_once(
    server: DevServer, env: dict[str, str], work: Path, reads: Counter[str]
) -> None:
    assert run_cli(["inject", "dist"], env, cwd=work).returncode == 0
    reads.clear()
    again = run_cli(["inject", "dist"], env, cwd=work)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("already has") + again.stderr.count("already has") == 6
    assert _each(work, reads) == {name: 1 for name in _files(work)}


def _between_checks_and_inject(monkeypatch: pytest.MonkeyPatch, then: Callable[[], None]) -> None:
    """`then` runs once `run` has checked and collected the files, before the release exists."""
    from sentry_release.steps import pipeline

    real = pipeline.check_commits

    def hooked(*args: Any, **kwargs: Any) -> None:
        then()
        real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "check_commits", hooked)


RUN = ["run", "1.0", "--mode", "skip", "--no-deploy", "--sourcemaps", "dist"]


def test_run_refuses_a_bundle_rebuilt_after_its_checks_and_keeps_the_rebuild(
    server: DevServer, env: dict[str, str], work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = work / "dist" / "sibling.min.js"
    rebuilt = target.read_text() + "\nrebuilt();\n"
    _between_checks_and_inject(monkeypatch, lambda: target.write_text(rebuilt))
    done = run_cli(RUN, env, cwd=work)
    assert done.returncode == 2, done.stderr
    assert "sibling.min.js changed after it was checked" in done.stderr
    assert target.read_text() == rebuilt  # not overwritten from the stale plan
    assert not any("assemble" in r["path"] for r in server.store.requests)


def test_run_refuses_a_map_rebuilt_after_its_checks(
    server: DevServer, env: dict[str, str], work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = work / "dist" / "app.min.js.map"
    rebuilt = target.read_text().replace('"version":3', '"version":3,"file":"x"')
    assert rebuilt != target.read_text()
    _between_checks_and_inject(monkeypatch, lambda: target.write_text(rebuilt))
    done = run_cli(RUN, env, cwd=work)
    assert done.returncode == 2, done.stderr
    assert "app.min.js.map changed after it was checked" in done.stderr
    assert target.read_text() == rebuilt


def test_run_takes_the_files_a_parallel_inject_wrote_as_they_are(
    server: DevServer, env: dict[str, str], work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sentry_release.output import Output
    from sentry_release.sourcemaps.inject import inject_paths

    def parallel() -> None:  # another `run` of the same build injects first
        quiet = Output(stdout=io.StringIO(), stderr=io.StringIO(), is_tty=False)
        inject_paths((work / "dist",), dry_run=False, out=quiet, inside=work)

    alone = work.parent / "alone"
    shutil.copytree(work, alone)
    assert run_cli(["inject", "dist"], env, cwd=alone).returncode == 0
    _between_checks_and_inject(monkeypatch, parallel)
    done = run_cli(RUN, env, cwd=work)
    assert done.returncode == 0, done.stderr
    assert (done.stdout + done.stderr).count("already has") == 6
    assert {p.name: p.read_bytes() for p in (work / "dist").iterdir()} == {
        p.name: p.read_bytes() for p in (alone / "dist").iterdir()
    }
    assert any(r["path"].endswith("/artifactbundle/assemble/") for r in server.store.requests)
