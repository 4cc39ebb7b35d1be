"""What PyPI shows and the sdist holds: absolute links in the README (PyPI renders it away
from the repository), a classifier per supported Python, the sdist with docs/, tests/ and the
CHANGELOG, and `twine check --strict` passing on what `python -m build` makes."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PYPROJECT = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
SUPPORTED = ("3.10", "3.11", "3.12", "3.13")


def test_the_readme_links_only_absolute_urls_or_its_own_anchors() -> None:
    targets = re.findall(r"\]\(([^)\s]+)\)", README)
    relative = [t for t in targets if not t.startswith(("https://", "http://", "#", "mailto:"))]
    assert relative == [], "relative links break on PyPI's page"
    for target in targets:  # an absolute link into this repository names a file that exists
        prefix = "https://github.com/sentry-release/sentry-release/blob/main/"
        if target.startswith(prefix):
            assert (ROOT / target[len(prefix) :].split("#")[0]).exists(), target


def test_a_classifier_per_supported_python() -> None:
    minimum = re.search(r'requires-python = ">=(3\.\d+)"', PYPROJECT)
    assert minimum is not None and minimum[1] == SUPPORTED[0]
    for version in SUPPORTED:
        assert f'"Programming Language :: Python :: {version}"' in PYPROJECT


def test_the_dev_extras_install_the_release_checks() -> None:
    assert '"build>=' in PYPROJECT and '"twine>=' in PYPROJECT


@pytest.mark.slow  # builds the sdist and wheel (an isolated build environment)
def test_build_then_twine_check_strict_and_the_sdist_holds_docs_tests_changelog(
    tmp_path: Path,
) -> None:
    if shutil.which("twine") is None and not (Path(sys.executable).parent / "twine").exists():
        pytest.skip("twine is not installed (pip install -e '.[dev]')")
    out = tmp_path / "dist"
    build = [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)]
    done = subprocess.run(build, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    files = sorted(str(p) for p in out.iterdir())
    check = [sys.executable, "-m", "twine", "check", "--strict", *files]
    checked = subprocess.run(check, capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    [sdist] = out.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {"/".join(n.split("/")[1:]) for n in archive.getnames()}
    assert "CHANGELOG.md" in names
    assert any(n.startswith("docs/") and n.endswith(".md") for n in names)
    assert "tests/conftest.py" in names and "tests/helpers.py" in names
    assert not any("__pycache__" in n for n in names)
