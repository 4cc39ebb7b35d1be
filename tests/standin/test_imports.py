"""The stand-in imports nothing of the product, so a wrong rule in the product cannot hide in
the server that tests it (issue #11/#12)."""

from __future__ import annotations

import ast
from pathlib import Path

import sentry_standin

PACKAGE = Path(sentry_standin.__file__).parent


def imported_modules(path: Path) -> set[str]:
    """Every module an `import` or `from ... import` in the file names (any depth)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_module_of_the_stand_in_imports_the_product() -> None:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) >= 10  # the walk found the package
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(
            name for name in imported_modules(path) if name.split(".")[0] == "sentry_release"
        )
        for path in modules
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_walk_sees_nested_and_from_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def f():\n    import sentry_release.git\n    from sentry_release import cli\n",
        encoding="utf-8",
    )
    assert imported_modules(sample) == {"sentry_release.git", "sentry_release"}
