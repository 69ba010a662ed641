"""The warehouse interface: named tables in, Arrow tables out.

Every backend (the local DuckDB file now, BigQuery later) implements these few methods and speaks
Arrow only, so the loader, splits and fingerprints never know which one they read from.
"""

from __future__ import annotations

import abc
import re
from dataclasses import dataclass

import pyarrow as pa

from mlkit.errors import DataError

NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class TableInfo:
    name: str
    rows: int
    columns: tuple[str, ...]


def check_table_name(name: object) -> str:
    """Return ``name`` if it is a valid table name, else raise a one-line DataError."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise DataError(
            f"invalid table name {name!r}: expected letters, digits and underscores, "
            "not starting with a digit"
        )
    return name


def check_columns(table: pa.Table, name: str) -> None:
    """Column names must be identifiers that every backend accepts, and unique ignoring case."""
    if not isinstance(table, pa.Table):
        raise DataError(
            f"cannot write {type(table).__name__} to table '{name}': expected a pyarrow.Table"
        )
    if table.num_columns == 0:
        raise DataError(f"cannot write table '{name}': it has no columns")
    seen: set[str] = set()
    for column in table.column_names:
        if not NAME_PATTERN.match(column):
            raise DataError(
                f"invalid column name {column!r} in table '{name}': expected letters, digits "
                "and underscores, not starting with a digit"
            )
        if column.lower() in seen:
            raise DataError(f"duplicate column {column!r} in table '{name}'")
        seen.add(column.lower())


class Warehouse(abc.ABC):
    """Where tables live. Names are validated with :func:`check_table_name`."""

    @abc.abstractmethod
    def write_table(self, name: str, table: pa.Table, *, replace: bool = True) -> int:
        """Write ``table`` as ``name`` and return the rows written.

        ``replace=True`` swaps the whole table atomically; ``replace=False`` appends (creating the
        table when missing; the columns must match).
        """

    @abc.abstractmethod
    def read_table(self, name: str, columns: list[str] | None = None) -> pa.Table:
        """Read the table (or some of its columns); a missing one raises TableNotFound."""

    @abc.abstractmethod
    def has_table(self, name: str) -> bool: ...

    @abc.abstractmethod
    def list_tables(self) -> list[TableInfo]: ...

    @abc.abstractmethod
    def schema(self, name: str) -> pa.Schema:
        """The Arrow schema of a table, without reading its rows."""

    @abc.abstractmethod
    def describe(self) -> str:
        """One line naming the backend and where: ``local warehouse /p/warehouse.duckdb``."""
