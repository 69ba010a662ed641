"""The local warehouse's appender (many small appends, one kept DuckDB connection): creates the
table, appends by name, refuses other columns, and leaves the file free between appends."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from mlkit.data import LocalWarehouse
from mlkit.errors import DataError


def test_appends_create_then_add_and_leave_the_file_free(tmp_path: Path) -> None:
    warehouse = LocalWarehouse(tmp_path / "w.duckdb")
    appender = warehouse.appender("log")
    try:
        assert appender.append(pa.table({"a": [1, 2], "b": ["x", "y"]})) == 2
        # between appends another connection (here: read-write, this process) opens the file
        warehouse.write_table("other", pa.table({"c": [1]}))
        assert appender.append(pa.table({"b": ["z"], "a": [3]})) == 1  # by name
        assert warehouse.read_table("log").to_pydict() == {"a": [1, 2, 3], "b": ["x", "y", "z"]}
        with pytest.raises(DataError, match="cannot append to table 'log': it has columns a, b"):
            appender.append(pa.table({"a": [4]}))
        assert warehouse.read_table("log").num_rows == 3  # left as it was
        assert appender.append(pa.table({"a": [5], "b": ["w"]})) == 1  # still usable
    finally:
        appender.close()
    assert warehouse.read_table("log").num_rows == 4


def test_a_file_that_cannot_be_opened_is_one_error(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder.duckdb"
    folder.mkdir()
    appender = LocalWarehouse(folder).appender("log")
    with pytest.raises(DataError, match="cannot open local warehouse"):
        appender.append(pa.table({"a": [1]}))
    appender.close()


def test_a_table_dropped_or_replaced_between_appends_is_looked_up_again(tmp_path: Path) -> None:
    """Appends after the first insert at once; when the table changed under them (another
    process dropped or replaced it), the append looks it up again instead of failing."""
    warehouse = LocalWarehouse(tmp_path / "w.duckdb")
    appender = warehouse.appender("log")
    try:
        appender.append(pa.table({"a": [1], "b": ["x"]}))
        appender.append(pa.table({"a": [2], "b": ["y"]}))
        with duckdb.connect(str(tmp_path / "w.duckdb")) as con:  # another connection drops it
            con.execute("DROP TABLE log")
        assert appender.append(pa.table({"a": [3], "b": ["z"]})) == 1  # created again
        assert warehouse.read_table("log").to_pydict() == {"a": [3], "b": ["z"]}
        warehouse.write_table("log", pa.table({"c": [1]}))  # replaced, other columns
        with pytest.raises(DataError, match="cannot append to table 'log': it has columns c"):
            appender.append(pa.table({"a": [4], "b": ["w"]}))
    finally:
        appender.close()


def test_appends_leave_earlier_rows_where_they_are(tmp_path: Path) -> None:
    """Each append's checkpoint writes only the new rows: DuckDB's vacuum, which merges small
    row groups by rewriting earlier appends (every 2^k-th append rewrote the last 2^k: one
    append of 2,500 log rows took 1.3 s of CPU), is off for the appender."""
    warehouse = LocalWarehouse(tmp_path / "w.duckdb")
    appender = warehouse.appender("log")
    try:
        for start in range(0, 1700, 100):
            appender.append(pa.table({"a": list(range(start, start + 100))}))
    finally:
        appender.close()
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        groups = con.execute(
            "SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('log')"
        ).fetchone()
        assert con.execute("SELECT count(*), sum(a) FROM log").fetchone() == (1700, 1699 * 850)
    assert groups == (17,)


def test_an_append_is_in_the_file_when_it_returns_even_if_the_process_is_killed(
    tmp_path: Path,
) -> None:
    """Each append commits by checkpointing the file (no write-ahead log): a process killed the
    moment the append returns (no close, no detach of its own) leaves the rows in the file and no
    log to replay."""
    import subprocess
    import sys

    path = tmp_path / "w.duckdb"
    code = (
        "import os, signal, pyarrow as pa; from mlkit.data import LocalWarehouse; "
        f"a = LocalWarehouse({str(path)!r}).appender('log'); "
        "a.append(pa.table({'a': [1, 2]})); a.append(pa.table({'a': [3]})); "
        "os.kill(os.getpid(), signal.SIGKILL)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert done.returncode == -9, done.stderr.decode()
    assert not Path(f"{path}.wal").exists()
    assert LocalWarehouse(path).read_table("log").to_pydict() == {"a": [1, 2, 3]}
