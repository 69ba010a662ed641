"""The warehouse interface: named tables in, Arrow tables (or record batches) out.

Both backends, the local DuckDB file and BigQuery, implement these methods and speak Arrow only,
so the loader, splits, statistics and fingerprints never know which one they read from.

A *relation* is what a source names: a table name, or a :class:`Query` (SQL with named
``@parameters``, BigQuery's syntax, on both backends).
"""

from __future__ import annotations

import abc
import contextlib
import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from mlkit.errors import DataError

if TYPE_CHECKING:
    from mlkit.data.sql_dialect import SqlDialect

NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PARAM_PATTERN = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*)")
BATCH_ROWS = 4096  # rows per record batch where mlkit chooses (DuckDB); BigQuery decides its own


@dataclass(frozen=True)
class Query:
    """SQL with named parameters written ``@name``; ``params`` maps names to values."""

    sql: str
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return " ".join(self.sql.split())

    def check_params(self) -> None:
        used = set(PARAM_PATTERN.findall(self.sql))
        missing = sorted(used - set(self.params))
        if missing:
            raise DataError(
                f"query parameter {', '.join('@' + m for m in missing)} has no value",
                hint="give it in data.params, e.g. params = { " + missing[0] + " = 1 }",
            )
        for name, value in self.params.items():
            items = value if isinstance(value, list) else [value]
            if not items or not all(isinstance(v, bool | int | float | str) for v in items):
                raise DataError(
                    f"query parameter @{name} is {value!r}; expected a number, string, boolean "
                    "or a non-empty list of one of those"
                )


Relation = str | Query


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


class Appender:
    """Appends batches of rows to one table again and again (the prediction log's writer): by
    default each :meth:`append` is :meth:`Warehouse.write_table` with ``replace=False``. Used by
    one thread at a time; :meth:`close` when done."""

    def __init__(self, warehouse: Warehouse, name: str) -> None:
        self.warehouse = warehouse
        self.name = check_table_name(name)

    def append(self, table: pa.Table) -> int:
        """Append ``table`` (creating the table when missing; the columns must match)."""
        return self.warehouse.write_table(self.name, table, replace=False)

    def prepare(self) -> None:
        """Make ready what the first :meth:`append` would (a connection), before rows wait for
        it; never fails (the first append reports what is wrong)."""
        return None

    def close(self) -> None:
        return None


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

    def appender(self, name: str) -> Appender:
        """An :class:`Appender` to table ``name``, for many small appends (a backend may keep
        what each would open again)."""
        return Appender(self, name)

    def delete_before(self, name: str, column: str, before: float) -> int:
        """Delete the rows of table ``name`` whose numeric ``column`` is below ``before`` (in
        one transaction) and return how many; a missing table raises TableNotFound. A backend
        that cannot delete raises DataError."""
        raise DataError(f"{self.describe()} cannot delete rows")

    def for_streaming(self) -> Warehouse:
        """This warehouse as reads that stream a source bigger than memory should use it (a
        backend may bound what it caches while a scan runs)."""
        return self

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Within it, this thread's reads may share one connection to the backend (opening one
        can cost more than reading a small table); reads must not interleave (each finishes, or
        its generator is closed, before the next starts). By default: nothing held."""
        yield

    @contextlib.contextmanager
    def kept_open(self) -> Iterator[None]:
        """Keep what each operation would open (a database file) open across a job of many
        operations, for this process, every thread (a backend may have nothing to keep)."""
        yield

    # -- relations: tables or queries, read in record batches -------------------------------------

    @contextlib.contextmanager
    def materialize(self, relation: Relation) -> Iterator[Relation]:
        """A relation that :meth:`relation_schema`, :meth:`count_rows` and :meth:`iter_batches`
        can read more than once with the same rows (a backend may run a query into a table)."""
        yield relation

    def relation_schema(self, relation: Relation) -> pa.Schema:
        if isinstance(relation, str):
            return self.schema(relation)
        raise DataError(f"{self.describe()} cannot run queries")

    def count_rows(self, relation: Relation) -> int:
        if isinstance(relation, str):
            return self.read_table(relation, columns=[]).num_rows
        raise DataError(f"{self.describe()} cannot run queries")

    def iter_batches(
        self,
        relation: Relation,
        columns: list[str] | None = None,
        batch_rows: int = BATCH_ROWS,
        *,
        where: str | None = None,
    ) -> Generator[pa.RecordBatch, None, None]:
        """The relation's rows in record batches, without holding the whole table in memory
        (backends stream; this default reads the table first). A caller that stops early
        closes the generator, which releases what the backend holds open.

        ``where``: a condition in this warehouse's SQL (:meth:`sql_dialect`; only where it has
        one) that the warehouse applies itself, so that only the matching rows are sent."""
        if where is not None:
            raise DataError(f"{self.describe()} cannot filter rows in SQL")
        if not isinstance(relation, str):
            raise DataError(f"{self.describe()} cannot run queries")
        yield from self.read_table(relation, columns).to_batches(batch_rows)

    # -- SQL inside the warehouse: aggregates whose rows stay there ---------------------------

    def sql_dialect(self) -> SqlDialect | None:
        """The SQL this warehouse runs (see :mod:`mlkit.data.sql_dialect`), or None when it runs
        none: statistics are then computed by streaming the rows."""
        return None

    def aggregate(self, relation: Relation, build: Callable[[str], str]) -> pa.Table:
        """Run the query ``build(source)`` inside the warehouse, ``source`` being the relation as
        it may follow ``FROM`` (with its own ``AS`` alias left to the caller), and return its
        result: meant for aggregates, whose few rows are all that leaves the warehouse."""
        raise DataError(f"{self.describe()} cannot run queries")
