"""Before publishing: the pushed tag (vX.Y.Z), pyproject.toml's version, the image action.yml
runs and the CHANGELOG's dated entry all name the same version. Exit 1 naming what differs.

Usage: python .ci/check_release.py v1.0.0   (run by .github/workflows/release.yml)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGE = "ghcr.io/sentry-release/sentry-release"


def problems(tag: str) -> list[str]:
    found: list[str] = []
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    version = re.search(r'^version = "([^"]+)"$', pyproject, flags=re.M)
    if version is None:
        return ["pyproject.toml has no version line"]
    want = version[1]
    init = (ROOT / "src" / "sentry_release" / "__init__.py").read_text(encoding="utf-8")
    if f'__version__ = "{want}"' not in init:
        found.append(f"src/sentry_release/__init__.py's __version__ is not {want}")
    if tag != f"v{want}":
        found.append(f"tag {tag} is not v{want} (pyproject.toml's version)")
    action = (ROOT / "action.yml").read_text(encoding="utf-8")
    images = set(re.findall(rf"docker://{re.escape(IMAGE)}:(\S+)", action))
    if images != {want}:
        found.append(f"action.yml runs {IMAGE}:{', '.join(sorted(images)) or '?'}, not :{want}")
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    if not re.search(rf"^## \[{re.escape(want)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", changelog, re.M):
        found.append(f"CHANGELOG.md has no dated '## [{want}] - YYYY-MM-DD' entry")
    return found


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: check_release.py vX.Y.Z", file=sys.stderr)
        return 2
    found = problems(sys.argv[1])
    for problem in found:
        print(f"::error title=release check::{problem}")
    if not found:
        print(f"release {sys.argv[1]}: pyproject.toml, action.yml and CHANGELOG.md agree")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
