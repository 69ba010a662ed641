"""The local warehouse: one DuckDB file, opened per operation and closed straight after (or held
open across a job's operations by :meth:`LocalWarehouse.kept_open`)."""

from __future__ import annotations

import contextlib
import difflib
import threading
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from duckdb.func import PythonUDFType

from mlkit.data.bundled import bundled_names
from mlkit.data.split import fingerprints
from mlkit.data.sql_dialect import FINGERPRINT_FUNCTION, DuckDBDialect, SqlDialect
from mlkit.data.warehouse import (
    BATCH_ROWS,
    PARAM_PATTERN,
    Appender,
    Query,
    Relation,
    TableInfo,
    Warehouse,
    check_columns,
    check_table_name,
)
from mlkit.errors import DataError, TableNotFound

_LOCK_WAIT_S = 5.0
_SOURCE_VIEW = "_mlkit_source"


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _describe_relation(relation: Relation) -> str:
    return f"table '{relation}'" if isinstance(relation, str) else "the query"


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())


# DuckDB keeps every block a scan reads in its buffer pool (up to 80% of RAM by default) until the
# connection closes: a streamed pass over a big table would hold the table after all.
STREAM_MEMORY_LIMIT = "128MB"


def _fingerprints(keys: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    return pa.array(fingerprints(np.asarray(keys.to_pylist(), dtype=object)))


def _register_fingerprint(con: duckdb.DuckDBPyConnection) -> None:
    """``FINGERPRINT_FUNCTION(VARCHAR) -> BIGINT``: FarmHash's Fingerprint64, as BigQuery's
    FARM_FINGERPRINT and :func:`mlkit.data.split.fingerprints` compute it, on this connection
    (vectorised over Arrow arrays), so that a split's and a shard's rows are chosen inside
    DuckDB and only they are sent."""
    con.create_function(
        FINGERPRINT_FUNCTION,
        _fingerprints,
        ["VARCHAR"],
        "BIGINT",
        type=PythonUDFType.ARROW,
        side_effects=False,
    )


class LocalWarehouse(Warehouse):
    def __init__(
        self, path: Path | str, memory_limit: str | None = None, *, writable_reads: bool = False
    ) -> None:
        self.path = Path(path).expanduser().resolve()
        self.memory_limit = memory_limit  # DuckDB's memory_limit for this object's connections
        # Reads open the file read-write too: DuckDB refuses, within one process, a read-only
        # connection beside a read-write one to the same file (a job that streams a table and
        # writes another of the same file).
        self.writable_reads = writable_reads
        self._held = threading.local()  # the connection :meth:`reading` holds, per thread

    def for_streaming(self) -> LocalWarehouse:
        return LocalWarehouse(
            self.path, memory_limit=STREAM_MEMORY_LIMIT, writable_reads=self.writable_reads
        )

    def for_writing_beside(self) -> LocalWarehouse:
        """This warehouse for reads that stay open while the same process writes to it."""
        return LocalWarehouse(self.path, self.memory_limit, writable_reads=True)

    @contextlib.contextmanager
    def kept_open(self) -> Iterator[None]:
        """Hold the database open for a job of many operations: each operation's own connection
        then joins this one's database (DuckDB keeps one per file and process while a connection
        is open) instead of opening the file again — ~0.1 s an operation otherwise. Other
        processes cannot write the file meanwhile. A file not there yet is left to be created."""
        if not self.path.exists():
            yield
            return
        with self._connect(write=self.writable_reads):
            yield

    def describe(self) -> str:
        return f"local warehouse {self.path}"

    def appender(self, name: str) -> Appender:
        return LocalAppender(self, name)

    def __repr__(self) -> str:
        return f"LocalWarehouse({str(self.path)!r})"

    # -- connections -------------------------------------------------------------------------

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """One read connection for this thread's reads until the block ends (opening the file
        is most of the cost of reading a table of a few thousand rows)."""
        if getattr(self._held, "con", None) is not None or not self.path.exists():
            yield  # nested, or no file yet: each read says what is missing
            return
        with self._connect(write=False) as con:
            self._held.con = con
            try:
                yield
            finally:
                self._held.con = None
                self._held.functions = set()
                self._held.names = None

    @contextlib.contextmanager
    def _connect(self, *, write: bool) -> Iterator[duckdb.DuckDBPyConnection]:
        held = getattr(self._held, "con", None)
        if held is not None and not write:
            yield held
            return
        if write:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + _LOCK_WAIT_S
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=not (write or self.writable_reads))
                break
            except (
                duckdb.IOException,
                duckdb.ConnectionException,
                getattr(duckdb, "ResourceInUseException", duckdb.IOException),
            ) as error:
                # Another process holds the file (or, in this process, a connection opened the
                # other way: read-only vs read-write, e.g. the prediction log's writer thread);
                # they use it one after another, so wait briefly.
                text = str(error).lower()
                busy = any(
                    sign in text
                    for sign in ("lock", "different configuration", "file handle conflict")
                )
                if not busy or time.monotonic() > deadline:
                    raise DataError(
                        f"cannot open {self.describe()}: {_one_line(error)}",
                        hint="another mlkit process may be using it; try again when it finishes",
                    ) from error
                time.sleep(0.1)
            except duckdb.Error as error:
                raise DataError(f"cannot open {self.describe()}: {_one_line(error)}") from error
        try:
            con.execute("SET enable_progress_bar = false")
            if self.memory_limit:
                con.execute(f"SET memory_limit = '{self.memory_limit}'")
            yield con
        finally:
            con.close()

    def _register_fingerprint(self, con: duckdb.DuckDBPyConnection) -> None:
        """The fingerprint function on ``con``, once per held connection."""
        if con is getattr(self._held, "con", None):
            registered: set[str] = getattr(self._held, "functions", set())
            if FINGERPRINT_FUNCTION in registered:
                return
            self._held.functions = registered | {FINGERPRINT_FUNCTION}
        _register_fingerprint(con)

    def _table_names(self, con: duckdb.DuckDBPyConnection) -> list[str]:
        held = con is getattr(self._held, "con", None)
        if held and getattr(self._held, "names", None) is not None:
            return list(self._held.names)  # nothing writes while a read connection is held
        names = self._list_names(con)
        if held:
            self._held.names = tuple(names)
        return names

    def _list_names(self, con: duckdb.DuckDBPyConnection) -> list[str]:
        rows = con.execute(
            "SELECT table_name FROM duckdb_tables() "
            "WHERE database_name = current_database() AND schema_name = 'main' "
            "ORDER BY table_name"
        ).fetchall()
        return [row[0] for row in rows]

    def _not_found(self, name: str, existing: list[str]) -> TableNotFound:
        hints = []
        if name in bundled_names():
            hints.append(f"load it with `mlkit data load {name}`")
        if existing:
            hints.append("tables here: " + ", ".join(existing))
        elif not hints:
            hints.append("the warehouse is empty; bundled datasets: " + ", ".join(bundled_names()))
        return TableNotFound(
            f"table '{name}' not found in {self.describe()}", hint="; ".join(hints)
        )

    def _existing(self, con: duckdb.DuckDBPyConnection, name: str) -> str:
        """The stored spelling of ``name`` (DuckDB names are case-insensitive), or TableNotFound."""
        existing = self._table_names(con)
        for stored in existing:
            if stored.lower() == name.lower():
                return stored
        raise self._not_found(name, existing)

    # -- reading -----------------------------------------------------------------------------

    def has_table(self, name: str) -> bool:
        check_table_name(name)
        if not self.path.exists():
            return False
        with self._connect(write=False) as con:
            return any(t.lower() == name.lower() for t in self._table_names(con))

    def list_tables(self) -> list[TableInfo]:
        if not self.path.exists():
            return []
        infos = []
        with self._connect(write=False) as con:
            for name in self._table_names(con):
                columns = [row[0] for row in con.execute(f"DESCRIBE {_quote(name)}").fetchall()]
                counted = con.execute(f"SELECT count(*) FROM {_quote(name)}").fetchone()
                if counted is None:  # count(*) always answers one row
                    raise DataError(f"cannot count the rows of table '{name}'")
                (rows,) = counted
                infos.append(TableInfo(name=name, rows=int(rows), columns=tuple(columns)))
        return infos

    def schema(self, name: str) -> pa.Schema:
        check_table_name(name)
        if not self.path.exists():
            raise self._not_found(name, [])
        with self._connect(write=False) as con:
            stored = self._existing(con, name)
            return con.sql(f"SELECT * FROM {_quote(stored)} LIMIT 0").to_arrow_table().schema

    def read_table(self, name: str, columns: list[str] | None = None) -> pa.Table:
        check_table_name(name)
        if not self.path.exists():
            raise self._not_found(name, [])
        with self._connect(write=False) as con:
            stored = self._existing(con, name)
            select = "*"
            if columns is not None:
                available = [row[0] for row in con.execute(f"DESCRIBE {_quote(stored)}").fetchall()]
                for column in columns:
                    if column not in available:
                        close = difflib.get_close_matches(column, available, n=1)
                        maybe = f"; did you mean '{close[0]}'?" if close else ""
                        raise DataError(
                            f"column '{column}' not found in table '{name}' "
                            f"(columns: {', '.join(available)}){maybe}"
                        )
                select = ", ".join(_quote(c) for c in columns) if columns else "*"
            try:
                return con.sql(f"SELECT {select} FROM {_quote(stored)}").to_arrow_table()
            except duckdb.Error as error:
                raise DataError(f"cannot read table '{name}': {_one_line(error)}") from error

    # -- relations: tables and queries, streamed ----------------------------------------------

    def _from(self, con: duckdb.DuckDBPyConnection, relation: Relation) -> tuple[str, dict]:
        """``FROM`` text and parameters for a table or a query (``@name`` → DuckDB's ``$name``)."""
        if isinstance(relation, str):
            check_table_name(relation)
            return _quote(self._existing(con, relation)), {}
        relation.check_params()
        sql = relation.sql.strip().rstrip(";")
        used = set(PARAM_PATTERN.findall(sql))
        duck_sql = PARAM_PATTERN.sub(r"$\1", sql)
        return f"({duck_sql}) AS _mlkit_query", {
            k: v for k, v in relation.params.items() if k in used
        }

    def _execute(
        self, con: duckdb.DuckDBPyConnection, relation: Relation, sql: str, params: dict
    ) -> duckdb.DuckDBPyRelation:
        try:
            return con.sql(sql, params=params) if params else con.sql(sql)
        except duckdb.Error as error:
            what = "query" if isinstance(relation, Query) else f"table '{relation}'"
            raise DataError(f"cannot read {what}: {_one_line(error)}") from error

    def _missing_file(self, relation: Relation) -> None:
        if not self.path.exists():
            if isinstance(relation, str):
                check_table_name(relation)
                raise self._not_found(relation, [])
            raise DataError(f"cannot run a query: {self.describe()} does not exist yet")

    def relation_schema(self, relation: Relation) -> pa.Schema:
        if isinstance(relation, str):
            return self.schema(relation)
        self._missing_file(relation)
        with self._connect(write=False) as con:
            source, params = self._from(con, relation)
            cursor = self._execute(con, relation, f"SELECT * FROM {source} LIMIT 0", params)
            return cursor.to_arrow_table().schema

    def count_rows(self, relation: Relation) -> int:
        self._missing_file(relation)
        with self._connect(write=False) as con:
            source, params = self._from(con, relation)
            (rows,) = self._execute(
                con, relation, f"SELECT count(*) FROM {source}", params
            ).fetchall()[0]
            return int(rows)

    def iter_batches(
        self,
        relation: Relation,
        columns: list[str] | None = None,
        batch_rows: int = BATCH_ROWS,
        *,
        where: str | None = None,
    ) -> Generator[pa.RecordBatch, None, None]:
        self._missing_file(relation)
        select = "*"
        with self._connect(write=False) as con:  # one connection: opening the file is the cost
            if where is not None:
                self._register_fingerprint(con)
            source, params = self._from(con, relation)
            if columns is not None:
                names = self._execute(
                    con, relation, f"SELECT * FROM {source} LIMIT 0", params
                ).columns
                for column in columns:
                    if column not in names:
                        close = difflib.get_close_matches(column, names, n=1)
                        maybe = f"; did you mean '{close[0]}'?" if close else ""
                        raise DataError(
                            f"column '{column}' not found in {_describe_relation(relation)} "
                            f"(columns: {', '.join(names)}){maybe}"
                        )
                select = ", ".join(_quote(c) for c in columns) if columns else "*"
            condition = f" WHERE {where}" if where is not None else ""
            cursor = self._execute(
                con, relation, f"SELECT {select} FROM {source}{condition}", params
            )
            reader = cursor.to_arrow_reader(batch_rows)
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                yield batch

    # -- aggregates inside DuckDB ----------------------------------------------------------------

    def sql_dialect(self) -> SqlDialect:
        return DuckDBDialect()

    def aggregate(self, relation: Relation, build: Callable[[str], str]) -> pa.Table:
        self._missing_file(relation)
        with self._connect(write=False) as con:
            _register_fingerprint(con)  # aggregates over a split name its rows by the key's hash
            source, params = self._from(con, relation)
            source = source.removesuffix(" AS _mlkit_query")
            return self._execute(con, relation, build(source), params).to_arrow_table()

    # -- writing -----------------------------------------------------------------------------

    def write_table(self, name: str, table: pa.Table, *, replace: bool = True) -> int:
        check_table_name(name)
        check_columns(table, name)
        with self._connect(write=True) as con:
            con.register(_SOURCE_VIEW, table)
            con.begin()
            try:
                target = _quote(name)
                exists = any(t.lower() == name.lower() for t in self._table_names(con))
                if replace or not exists:
                    con.execute(f"CREATE OR REPLACE TABLE {target} AS SELECT * FROM {_SOURCE_VIEW}")
                else:
                    self._check_append(con, name, table)
                    con.execute(f"INSERT INTO {target} BY NAME SELECT * FROM {_SOURCE_VIEW}")
                con.commit()
            except BaseException as error:
                with contextlib.suppress(duckdb.Error):
                    con.rollback()
                if isinstance(error, duckdb.Error):
                    raise DataError(
                        f"cannot write table '{name}' to {self.describe()}: {_one_line(error)}",
                        hint="the table was left as it was",
                    ) from error
                raise
            finally:
                con.unregister(_SOURCE_VIEW)
        return table.num_rows

    def delete_before(self, name: str, column: str, before: float) -> int:
        """DELETE, then a checkpoint (with DuckDB's vacuum): the file does not shrink, but the
        blocks the rows held are reused by later appends (docs/monitoring.md, "Retention")."""
        check_table_name(name)
        with self._connect(write=True) as con:
            stored = self._existing(con, name)
            try:
                deleted = con.execute(
                    f"DELETE FROM {_quote(stored)} WHERE {_quote(column)} < ?", [before]
                ).fetchone()
                con.execute("CHECKPOINT")
            except duckdb.Error as error:
                raise DataError(
                    f"cannot delete from table '{name}' of {self.describe()}: {_one_line(error)}",
                    hint="the table was left as it was",
                ) from error
        return int(deleted[0]) if deleted else 0

    def _check_append(self, con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> None:
        stored = [row[0] for row in con.execute(f"DESCRIBE {_quote(name)}").fetchall()]
        if sorted(c.lower() for c in stored) != sorted(c.lower() for c in table.column_names):
            raise DataError(
                f"cannot append to table '{name}': it has columns {', '.join(stored)}, "
                f"the new rows have {', '.join(table.column_names)}"
            )


class LocalAppender(Appender):
    """Appends to a table of the local warehouse through one in-memory DuckDB connection kept
    open, which attaches the file for each append and detaches it after (so other processes can
    open it between appends, as with :meth:`LocalWarehouse.write_table`). Opening a DuckDB
    database costs ~40 ms of CPU each time; attaching the file to a kept one ~10 ms (measured
    for the prediction log, docs/monitoring.md). The table's columns are looked up on the first
    append (and after one that failed): the next ones with the same columns are one INSERT
    (2.3 ms less per append of 1,000 log rows, measured)."""

    def __init__(self, warehouse: LocalWarehouse, name: str) -> None:
        super().__init__(warehouse, name)
        self.path = warehouse.path
        self.memory_limit = warehouse.memory_limit
        self._con: duckdb.DuckDBPyConnection | None = None
        # the columns (lowercased) of the last append that found the table with them
        self._checked: frozenset[str] | None = None

    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            # one thread: an append is small, and DuckDB's worker threads would take the CPU of
            # the process that appends (the endpoint's) for nothing
            con = duckdb.connect(config={"threads": 1})
            con.execute("SET enable_progress_bar = false")
            # No vacuum in the checkpoint that each detach makes: with it, DuckDB merges the
            # small row groups that frequent appends leave, in a binary cascade (every 2^k-th
            # append rewrites the last 2^k appends: 1.3 s of CPU at one of them, 61 ms an
            # append on average, for 2,500 digits rows a second); without it, 17 ms and at
            # most 20 ms (docs/monitoring.md). Nothing deletes from an appended table, so
            # there is nothing for a vacuum to reclaim, and reads are as fast.
            con.execute("SET max_vacuum_tasks = 0")
            # Each append commits by checkpointing the file at once, without writing its rows
            # to the write-ahead log first (which the detach would then checkpoint: the rows
            # written twice). As durable when the commit returns, and the detach has nothing
            # left to do: 12.5 -> 10.0 µs of CPU per digits log row (docs/monitoring.md).
            con.execute("SET checkpoint_threshold = '0KB'")
            con.execute("SET auto_checkpoint_skip_wal_threshold = 0")
            if self.memory_limit:
                con.execute(f"SET memory_limit = '{self.memory_limit}'")
            self._con = con
        return self._con

    def prepare(self) -> None:
        """Open the kept connection (tens of ms of CPU: the first append would pay it)."""
        with contextlib.suppress(duckdb.Error):
            self._connection()

    def _attach(self, con: duckdb.DuckDBPyConnection) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        target = "'" + str(self.path).replace("'", "''") + "'"
        deadline = time.monotonic() + _LOCK_WAIT_S
        while True:
            try:
                con.execute(f"ATTACH {target} AS _mlkit_target")
                return
            except duckdb.Error as error:  # held by another process, or this one (as _connect)
                text = str(error).lower()
                busy = any(s in text for s in ("lock", "different configuration", "conflict"))
                if not busy or time.monotonic() > deadline:
                    raise DataError(
                        f"cannot open {self.warehouse.describe()}: {_one_line(error)}",
                        hint="another mlkit process may be using it; try again when it finishes",
                    ) from error
                time.sleep(0.1)

    def append(self, table: pa.Table) -> int:
        check_columns(table, self.name)
        con = self._connection()
        self._attach(con)
        columns = frozenset(c.lower() for c in table.column_names)
        target = "_mlkit_target.main." + _quote(self.name)
        try:
            try:
                if not self._insert_checked(con, target, columns, table):
                    con.register(_SOURCE_VIEW, table)
                    try:
                        self._check_and_insert(con, target, table)
                    finally:
                        con.unregister(_SOURCE_VIEW)
                    self._checked = columns
            except BaseException as error:
                self._checked = None  # look again next time (dropped, replaced)
                if isinstance(error, duckdb.Error):
                    raise DataError(
                        f"cannot write table '{self.name}' to {self.warehouse.describe()}: "
                        f"{_one_line(error)}",
                        hint="the table was left as it was",
                    ) from error
                raise
        finally:
            try:
                con.execute("DETACH _mlkit_target")
            except duckdb.Error:  # start from a new connection next time
                self.close()
        return table.num_rows

    def _insert_checked(
        self,
        con: duckdb.DuckDBPyConnection,
        target: str,
        columns: frozenset[str],
        table: pa.Table,
    ) -> bool:
        """Insert at once when the last append found the table with these columns (one
        statement, committed by itself); False when it did not or the insert failed (the table
        dropped or replaced since: then the rows go through :meth:`_check_and_insert`)."""
        if columns != self._checked:
            return False
        # read by DuckDB's replacement scan (a local of the frame that calls execute): 1.2 ms
        # less per append of 1,000 log rows than registering a view and dropping it (measured)
        _mlkit_rows = table
        try:
            con.execute(f"INSERT INTO {target} BY NAME SELECT * FROM _mlkit_rows")
        except duckdb.Error:
            self._checked = None
            return False
        finally:
            del _mlkit_rows
        return True

    def _check_and_insert(
        self, con: duckdb.DuckDBPyConnection, target: str, table: pa.Table
    ) -> None:
        """The first append (or one with other columns): create the table, or check that its
        columns are the new rows' before inserting, in one transaction."""
        con.begin()
        try:
            stored = con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = "
                "'_mlkit_target' AND schema_name = 'main' AND lower(table_name) = lower(?)",
                [self.name],
            ).fetchall()
            if not stored:
                con.execute(f"CREATE TABLE {target} AS SELECT * FROM {_SOURCE_VIEW}")
            elif sorted(r[0].lower() for r in stored) != sorted(
                c.lower() for c in table.column_names
            ):
                raise DataError(
                    f"cannot append to table '{self.name}': it has columns "
                    f"{', '.join(r[0] for r in stored)}, the new rows have "
                    f"{', '.join(table.column_names)}"
                )
            else:
                con.execute(f"INSERT INTO {target} BY NAME SELECT * FROM {_SOURCE_VIEW}")
            con.commit()
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.rollback()
            raise

    def close(self) -> None:
        if self._con is not None:
            with contextlib.suppress(duckdb.Error):
                self._con.close()
            self._con = None
