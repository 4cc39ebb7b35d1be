"""The import rules of docs/architecture.md, read from the source (every import, lazy ones too):
front doors -> runtime/report -> steps -> sentry/, git and the base modules; nothing imports a
front door; the stand-in imports nothing of the product."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[2] / "src"
PRODUCT = "sentry_release"
# The stand-in: its own package, or (before the move) a package of the product.
STANDIN = "sentry_standin"  # the stand-in, beside the product in src/

FRONT_DOORS = {"cli", "action", "__main__"}
# Floors, top to bottom: a module may import its own floor and the ones below it.
FLOORS: dict[str, int] = {
    "cli": 4,
    "action": 4,
    "__main__": 4,
    "runtime": 3,
    "report": 3,
    "demo": 3,
    "steps": 2,
    "gate": 2,
    "sourcemaps": 2,
    "sentry": 1,
    "git": 1,
    "version": 1,
    "version_inputs": 2,  # gathers what naming reads: git, event file, manifests
    "config": 0,
    "output": 0,
    "dates": 0,
    "errors": 0,
    "exports": 0,  # the release name as GITHUB_ENV or NAME=value lines (both doors)
    "redact": 0,
    "preconnect": 0,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> set[str]:
    """Every module `path` imports, absolute, wherever the import statement sits."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def sources(package: str) -> list[Path]:
    root = SRC / package.replace(".", "/")
    return sorted(root.rglob("*.py")) if root.is_dir() else [root.with_suffix(".py")]


def floor_of(module: str) -> tuple[str, int] | None:
    """(area, floor) of a product module; None for the stand-in and the package root."""
    if module == STANDIN or module.startswith(STANDIN + "."):
        return None
    parts = module.split(".")
    if parts[0] != PRODUCT or len(parts) < 2 or parts[1] == "__version__":
        return None
    return parts[1], FLOORS[parts[1]]


PRODUCT_FILES = [p for p in sources(PRODUCT) if floor_of(module_name(p)) is not None]


def test_every_module_has_a_floor() -> None:
    areas = {floor_of(module_name(p)) for p in PRODUCT_FILES}
    assert areas, "no product modules found"
    assert {area for area, _ in filter(None, areas)} <= set(FLOORS)


@pytest.mark.parametrize("path", PRODUCT_FILES, ids=lambda p: module_name(p))
def test_imports_only_go_down(path: Path) -> None:
    here = floor_of(module_name(path))
    assert here is not None
    area, floor = here
    for target in imports(path):
        there = floor_of(target)
        if there is None or there[0] == area:
            continue
        assert there[0] not in FRONT_DOORS or area == "__main__", (
            f"{module_name(path)} imports the front door {target}"
        )
        assert there[1] <= floor, f"{module_name(path)} (floor {floor}) imports {target} up"


def test_front_doors_do_not_import_each_other() -> None:
    for door in ("cli", "action"):
        other = "action" if door == "cli" else "cli"
        assert f"{PRODUCT}.{other}" not in imports(SRC / PRODUCT / f"{door}.py")


def test_the_stand_in_imports_nothing_of_the_product() -> None:
    files = sources(STANDIN)
    assert files, f"no stand-in found at {STANDIN}"
    found = {
        f"{module_name(path)} -> {m}"
        for path in files
        for m in imports(path)
        if (m == PRODUCT or m.startswith(PRODUCT + "."))
        and not (m == STANDIN or m.startswith(STANDIN + "."))
    }
    assert not found, sorted(found)


def product_graph() -> dict[str, set[str]]:
    """Module -> the product modules it imports (lazy and TYPE_CHECKING imports too)."""
    modules = {module_name(p): p for p in sources(PRODUCT)}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for target in imports(path):
            while target and target not in modules:  # `pkg.mod.name` -> `pkg.mod`
                target = target.rpartition(".")[0]
            if target and target != name and target != PRODUCT:
                targets.add(target)
        graph[name] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of `graph`: its strongly connected components of more than one
    module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_cycles_finds_a_cycle_and_only_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_inside_the_product() -> None:
    found = cycles(product_graph())
    assert not found, f"import cycles: {found}"
