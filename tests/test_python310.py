"""mlkit runs on Python 3.10 as well as 3.11: Google's prebuilt TensorFlow 2.15 training
containers, where ``mlkit train --backend vertex`` runs without an own image, have 3.10.

Cheap, without installing TensorFlow on 3.10: a Python 3.10 compiles every module (syntax such as
``except*``), and a rule list finds no name that 3.10's standard library lacks.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlkit.compat import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _python310() -> str | None:
    """A Python 3.10 that runs (a pyenv shim may name one that is not selected)."""
    for candidate in (
        os.environ.get("MLKIT_PYTHON310"),
        shutil.which("python3.10"),
        *map(str, Path("/root/.pyenv/versions").glob("3.10.*/bin/python3.10")),
    ):
        if candidate and os.access(candidate, os.X_OK):
            probe = subprocess.run(
                [candidate, "-c", "import sys; print(sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=30,
            )
            if probe.stdout.strip() == "(3, 10)":
                return candidate
    return None  # fmt: skip


PYTHON310 = _python310()

# Standard-library names new in 3.11, by module (What's New in Python 3.11).
NEW_IN_311: dict[str, set[str]] = {
    "datetime": {"UTC"},
    "typing": {
        "Self", "LiteralString", "Never", "assert_never", "assert_type", "reveal_type",
        "Required", "NotRequired", "TypeVarTuple", "Unpack", "dataclass_transform",
        "get_overloads", "clear_overloads",
    },
    "enum": {
        "StrEnum", "ReprEnum", "EnumCheck", "FlagBoundary", "verify", "member", "nonmember",
        "global_enum", "property", "show_flag_values",
    },
    "asyncio": {"timeout", "timeout_at", "Timeout", "TaskGroup", "Runner"},
    "hashlib": {"file_digest"},
    "operator": {"call"},
    "contextlib": {"chdir"},
    "logging": {"getLevelNamesMapping"},
    "inspect": {"getmembers_static", "markcoroutinefunction"},
    "re": {"NOFLAG"},
}  # fmt: skip
NEW_MODULES = {"tomllib", "wsgiref.types"}
NEW_BUILTINS = {"ExceptionGroup", "BaseExceptionGroup", "EncodingWarning"}
# The one place that picks tomllib or tomli, and asyncio.timeout or wait_for.
ALLOWED = {("mlkit/compat.py", "tomllib"), ("mlkit/compat.py", "asyncio")}


def _sources() -> list[Path]:
    return sorted(p for top in ("mlkit", "tests", "bench") for p in (ROOT / top).rglob("*.py"))


def _type_checking_lines(tree: ast.Module) -> set[int]:
    """Lines under ``if TYPE_CHECKING:``: never run, so 3.11 typing names are fine there."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def findings(path: Path, source: str) -> list[str]:
    """Each use of a 3.11-only standard-library name in ``source``, as ``path:line: name``."""
    tree = ast.parse(source)
    skip = _type_checking_lines(tree)
    rel = path.relative_to(ROOT).as_posix() if path.is_absolute() else path.as_posix()
    aliases: dict[str, str] = {}  # local name -> module, for `import asyncio as aio`
    found: list[str] = []

    def hit(node: ast.AST, name: str) -> None:
        line = getattr(node, "lineno", 0)
        if line not in skip and (rel, name.split(".")[0]) not in ALLOWED:
            found.append(f"{rel}:{line}: {name}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in NEW_MODULES:
                    hit(node, alias.name)
                aliases[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module in NEW_MODULES:
                hit(node, node.module)
            for alias in node.names:
                if alias.name in NEW_IN_311.get(node.module, set()):
                    hit(node, f"{node.module}.{alias.name}")
        elif isinstance(node, ast.Name) and node.id in NEW_BUILTINS:
            hit(node, node.id)
        elif isinstance(node, ast.Attribute):
            if node.attr == "add_note":
                hit(node, "BaseException.add_note")
            if isinstance(node.value, ast.Name):
                module = aliases.get(node.value.id)
                if module and node.attr in NEW_IN_311.get(module, set()):
                    hit(node, f"{module}.{node.attr}")
        elif type(node).__name__ == "TryStar":
            hit(node, "except*")
    return found


def test_the_rules_find_311_only_names() -> None:
    source = (
        "import tomllib\nimport asyncio as aio\nfrom datetime import UTC\n"
        "from typing import TYPE_CHECKING, Self\nfrom enum import StrEnum\n"
        "async def f():\n    async with aio.timeout(1):\n        pass\n"
        "if TYPE_CHECKING:\n    from typing import Never\n"
        "x = ExceptionGroup('a', [ValueError()])\n"
    )
    names = [f.split(": ", 1)[1] for f in findings(Path("x.py"), source)]
    expected = ["tomllib", "datetime.UTC", "typing.Self", "enum.StrEnum", "asyncio.timeout"]
    assert sorted(names) == sorted([*expected, "ExceptionGroup"])  # not typing.Never: TYPE_CHECKING


def test_no_311_only_names_in_mlkit_tests_or_bench() -> None:
    found = [f for path in _sources() for f in findings(path, path.read_text())]
    assert not found, "3.11-only names (mlkit also runs on 3.10):\n" + "\n".join(found)


def test_requires_python_and_ruff_target_include_310() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["requires-python"] == ">=3.10,<3.12"
    assert project["tool"]["ruff"]["target-version"] == "py310"
    assert "tomli>=2; python_version < '3.11'" in project["project"]["dependencies"]


@pytest.mark.skipif(PYTHON310 is None, reason="no python3.10 here to compile mlkit with")
def test_python310_compiles_every_module() -> None:
    files = [str(p) for p in _sources()]
    script = (
        "import sys\n"
        "assert sys.version_info[:2] == (3, 10), sys.version\n"
        "bad = []\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n"
        "        compile(open(path, encoding='utf-8').read(), path, 'exec')\n"
        "    except SyntaxError as exc:\n"
        "        bad.append(f'{path}:{exc.lineno}: {exc.msg}')\n"
        "print('\\n'.join(bad) or f'{len(sys.argv) - 1} compiled')\n"
        "sys.exit(1 if bad else 0)\n"
    )
    assert PYTHON310 is not None
    done = subprocess.run(
        [PYTHON310, "-c", script, *files], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == f"{len(files)} compiled"
    assert sys.version_info >= (3, 10)
