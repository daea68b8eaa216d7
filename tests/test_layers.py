"""The shape of the code: layers point one way (configs <- models <- inspection <- components <- pipeline, and
kubeflow), no module imports itself back through others, and no function is too long to read at once."""

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

OURS = {"configs", "models", "inspection", "components", "pipeline", "kubeflow"}
MAY_IMPORT = {
    "configs": {"configs"},
    "models": {"configs", "models"},
    "inspection": {"configs", "models", "inspection"},
    "components": {"configs", "models", "inspection", "components"},
    "pipeline": {"configs", "models", "inspection", "components", "pipeline"},
}
LONGEST_FUNCTION = 80  # lines, docstring included


def python_files(package: str) -> list[Path]:
    return sorted((REPO_ROOT / package).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """The modules of ours `path` imports, at the top or inside functions (`from a.b import c` -> `a.b.c` if that is
    a module of ours, else `a.b`)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
    return {name for name in found if name.split(".")[0] in OURS}


def imported_packages(path: Path) -> set[str]:
    return {name.split(".")[0] for name in imported_modules(path)}


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_package_imports_only_the_layers_below_it(package):
    offenders = {
        str(path.relative_to(REPO_ROOT)): sorted(imported_packages(path) - MAY_IMPORT[package])
        for path in python_files(package)
    }
    assert {path: bad for path, bad in offenders.items() if bad} == {}


def test_the_check_sees_lazy_imports_inside_functions(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from pipeline import configs\n    import models.backbone\n")
    assert imported_packages(module) == {"pipeline", "models"}


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of ours it imports (a package's `__init__` counts as the package)."""
    paths = {module_name(path): path for package in OURS for path in python_files(package)}
    return {name: imported_modules(path) & set(paths) - {name} for name, path in paths.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected group of modules (Tarjan's algorithm), as a path."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_itself_back_through_others():
    assert cycles(import_graph()) == []


def test_the_cycle_check_finds_a_circle_through_a_lazy_import():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    return [
        f"{path.relative_to(REPO_ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > LONGEST_FUNCTION
    ]


def test_no_function_is_longer_than_80_lines():
    packages = ("configs", "models", "components", "pipeline", "inspection")
    assert [line for package in packages for path in python_files(package) for line in long_functions(path)] == []
