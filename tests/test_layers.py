"""The package layers point one way: configs <- models <- inspection <- components <- pipeline (and kubeflow)."""

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


def imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & OURS


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_package_imports_only_the_layers_below_it(package):
    offenders = {
        str(path.relative_to(REPO_ROOT)): sorted(imported_packages(path) - MAY_IMPORT[package])
        for path in sorted((REPO_ROOT / package).rglob("*.py"))
    }
    assert {path: bad for path, bad in offenders.items() if bad} == {}


def test_the_check_sees_lazy_imports_inside_functions(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from pipeline import configs\n    import models.backbone\n")
    assert imported_packages(module) == {"pipeline", "models"}
