"""Exit codes: one table in the code (mlkit.errors.EXIT_CODES), the same as docs/cli.md's, and
the real CLI exits with it for every kind of error (the CLI runs of each kind of user mistake are
in test_cli_errors.py; these are the ones that cross the error handling itself)."""

from __future__ import annotations

import builtins
import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import mlkit
import mlkit.errors as errors
from mlkit.errors import EXIT_CODES, MlkitError, exit_code
from tests.conftest import home_env

REPO = Path(__file__).resolve().parents[1]


def documented() -> dict[int, set[str]]:
    """docs/cli.md's exit-code table: code -> the error classes its row names."""
    text = (REPO / "docs" / "cli.md").read_text()
    section = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    table: dict[int, set[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].isdigit():
            table[int(cells[0])] = set(re.findall(r"`(\w+)`", cells[2]))
    return table


def error_class(name: str) -> type[BaseException]:
    cls = getattr(errors, name, None) or getattr(builtins, name)
    assert isinstance(cls, type) and issubclass(cls, BaseException), name
    return cls


def all_error_classes() -> set[type[MlkitError]]:
    """Every MlkitError subclass defined anywhere in mlkit (every module imported)."""
    for info in pkgutil.walk_packages(mlkit.__path__, "mlkit."):
        if ".migrations" not in info.name and info.name != "mlkit.__main__":
            importlib.import_module(info.name)
    found: set[type[MlkitError]] = set()
    todo: list[type[MlkitError]] = [MlkitError]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo += cls.__subclasses__()
    return found


def test_the_documented_table_is_the_table_in_the_code():
    docs = documented()
    assert set(docs) == {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 130}
    named = {name: code for code, names in docs.items() for name in names}
    for name, code in named.items():  # every class the docs name exits with that row's code
        assert exit_code(error_class(name)("x")) == code, name
    for cls, code in EXIT_CODES.items():  # every class of the table is in the docs, same code
        assert named.get(cls.__name__) == code, cls.__name__
    assert set(EXIT_CODES.values()) | {0} == set(docs)  # no documented code that nothing gives


def test_every_error_class_takes_its_code_from_the_table():
    named = {name: code for code, names in documented().items() for name in names}
    classes = all_error_classes()
    assert {"MissingColumnError", "TableNotFound", "InvalidPayload"} <= {
        c.__name__ for c in classes
    }
    for cls in classes:
        assert "exit_code" not in vars(cls) or cls is MlkitError, f"{cls} sets its own code"
        # the nearest documented class among its ancestors gives the code
        nearest = next(c for c in cls.__mro__ if c.__name__ in named)
        code = exit_code(cls.__new__(cls))
        assert code == named[nearest.__name__], cls
        assert cls.__new__(cls).exit_code == code


def test_exceptions_outside_the_hierarchy():
    assert exit_code(KeyboardInterrupt()) == 130
    assert exit_code(RecursionError()) == 1
    assert exit_code(ValueError("x")) == 1


def one_line(result, code: int) -> str:
    assert result.code == code, (result.out, result.err)
    assert "Traceback" not in result.err
    first, *rest = result.err.strip().splitlines()
    assert first.startswith("Error: ")
    assert all(line.startswith("Hint: ") for line in rest)
    return first


@pytest.fixture
def broken_listing(monkeypatch):
    """``mlkit models list`` fails with ``error`` (a bug, or Ctrl-C)."""

    def install(error: BaseException) -> None:
        def fail(*_args, **_kwargs):
            raise error

        monkeypatch.setattr("mlkit.cli.listings.list_models", fail)

    return install


def test_a_bug_is_one_line_and_exit_1_and_its_traceback_with_verbose(
    mlkit_home, cli, broken_listing
):
    broken_listing(RecursionError("maximum recursion depth exceeded"))
    line = one_line(cli("models", "list"), 1)
    assert line == "Error: unexpected RecursionError: maximum recursion depth exceeded"
    verbose = cli("--verbose", "models", "list")
    assert verbose.code == 1 and "Traceback" in verbose.err


def test_the_installed_scripts_fast_path_maps_errors_as_the_full_cli_does(
    mlkit_home, broken_listing, capsys
):
    from mlkit.cli.fast import run_fast

    for error, code in [
        (OverflowError("int too large to convert"), 1),
        (errors.ModelNotFound("model 'x' not found"), 5),
        (KeyboardInterrupt(), 130),
    ]:
        broken_listing(error)
        assert run_fast(["models", "list"]) == code
        err = capsys.readouterr().err
        assert err.startswith("Error: ") and "Traceback" not in err


def test_typers_usage_errors_exit_2(mlkit_home, cli):
    result = cli("models", "versions", "digits", "--limit", "many")
    assert result.code == 2 and "Traceback" not in result.err
    assert cli("train", "--no-such-option").code == 2


def test_the_usage_error_of_a_workflow_exits_2(mlkit_home, cli):
    line = one_line(cli("train"), 2)
    assert line == "Error: give either an experiment file or --resume RUN"
    line = one_line(cli("train", "x.toml", "--backend", "gpu"), 2)
    assert "unknown backend 'gpu'" in line


def test_python_dash_m_mlkit_is_the_cli(mlkit_home):
    result = subprocess.run(
        [sys.executable, "-m", "mlkit", "models", "versions", "nope"],
        env={**home_env(mlkit_home), "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 5, result.stderr
    assert result.stderr.startswith("Error: model 'nope' not found")
