"""Each package's ``__all__`` is what it exports: every name in it exists, and every public name
its ``__init__`` defines or re-exports from its own modules is in it."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import mlkit

ROOT = Path(mlkit.__file__).parent
PACKAGES = sorted(
    ".".join(("mlkit", *init.parent.relative_to(ROOT).parts)) for init in ROOT.rglob("__init__.py")
)


def public_names(package: str) -> set[str]:
    """Top-level names the package's ``__init__`` binds for its users: functions, classes and
    constants it defines, and names it imports from its own modules (not ``TYPE_CHECKING``
    imports, not imports from elsewhere, not names starting with ``_``)."""
    path = ROOT.joinpath(*package.split(".")[1:], "__init__.py")
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom):
            own = node.level > 0 or (node.module or "").startswith(package + ".")
            if own:
                names |= {a.asname or a.name for a in node.names}
    return {n for n in names if not n.startswith("_")}


def test_every_package_is_checked():
    assert {"mlkit", "mlkit.cli", "mlkit.data", "mlkit.registry", "mlkit.search"} <= set(PACKAGES)
    assert "mlkit.workflows.launch" in PACKAGES


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_what_the_package_exports(package):
    module = importlib.import_module(package)
    exported = getattr(module, "__all__", None)
    assert isinstance(exported, list), f"{package} has no __all__"
    assert len(exported) == len(set(exported)), f"{package}.__all__ repeats a name"
    missing = [name for name in exported if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ names what it does not have: {missing}"
    left_out = public_names(package) - set(exported)
    assert not left_out, f"{package} exports {sorted(left_out)} without listing them in __all__"
