"""LocalWarehouse against real DuckDB files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from mlkit.data import LocalWarehouse, TableInfo, open_warehouse
from mlkit.errors import DataError, TableNotFound


def sample(n: int = 5, offset: int = 0) -> pa.Table:
    ids = np.arange(offset, offset + n, dtype=np.int64)
    return pa.table(
        {
            "id": pa.array(ids),
            "x": pa.array(ids * 0.5),
            "name": pa.array([f"row{i}" for i in ids]),
            "flag": pa.array(ids % 2 == 0),
            "values": pa.array([[int(i), int(i) + 1] for i in ids], pa.list_(pa.int64())),
        }
    )


@pytest.fixture
def wh(tmp_path: Path) -> LocalWarehouse:
    return LocalWarehouse(tmp_path / "warehouse.duckdb")


def test_open_warehouse_is_local(tmp_path: Path) -> None:
    w = open_warehouse(tmp_path / "w.duckdb")
    assert isinstance(w, LocalWarehouse)
    assert w.describe() == f"local warehouse {tmp_path / 'w.duckdb'}"


def test_round_trip_keeps_types_and_values(wh: LocalWarehouse) -> None:
    table = sample()
    assert wh.write_table("things", table) == 5
    back = wh.read_table("things")
    assert back.column_names == table.column_names
    for name in table.column_names:
        assert back[name].to_pylist() == table[name].to_pylist()
    assert back.schema.field("id").type == pa.int64()
    assert back.schema.field("x").type == pa.float64()
    assert back.schema.field("flag").type == pa.bool_()
    assert pa.types.is_list(back.schema.field("values").type)
    assert wh.schema("things").names == table.column_names


def test_read_some_columns_in_the_order_asked(wh: LocalWarehouse) -> None:
    wh.write_table("things", sample())
    back = wh.read_table("things", ["x", "id"])
    assert back.column_names == ["x", "id"]
    assert back["id"].to_pylist() == [0, 1, 2, 3, 4]


def test_missing_column_suggests_a_close_match(wh: LocalWarehouse) -> None:
    wh.write_table("things", sample())
    with pytest.raises(DataError) as info:
        wh.read_table("things", ["valuse"])
    assert str(info.value) == (
        "column 'valuse' not found in table 'things' (columns: id, x, name, flag, values); "
        "did you mean 'values'?"
    )


def test_list_and_has_tables(wh: LocalWarehouse) -> None:
    assert wh.list_tables() == []
    assert not wh.has_table("things")
    wh.write_table("things", sample(3))
    wh.write_table("other", sample(7))
    assert wh.has_table("things")
    assert wh.list_tables() == [
        TableInfo("other", 7, ("id", "x", "name", "flag", "values")),
        TableInfo("things", 3, ("id", "x", "name", "flag", "values")),
    ]


def test_missing_file_is_a_missing_table_and_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "x" / "warehouse.duckdb"
    wh = LocalWarehouse(path)
    with pytest.raises(TableNotFound) as info:
        wh.read_table("digits")
    assert str(info.value) == f"table 'digits' not found in local warehouse {path}"
    assert info.value.hint == "load it with `mlkit data load digits`"
    with pytest.raises(TableNotFound):
        wh.schema("digits")
    assert not wh.has_table("digits")
    assert not path.exists() and not path.parent.exists()


def test_missing_table_hint_lists_existing_tables(wh: LocalWarehouse) -> None:
    wh.write_table("things", sample())
    with pytest.raises(TableNotFound) as info:
        wh.read_table("digits")
    assert info.value.hint == "load it with `mlkit data load digits`; tables here: things"
    with pytest.raises(TableNotFound) as info:
        wh.read_table("nope")
    assert str(info.value) == f"table 'nope' not found in {wh.describe()}"
    assert info.value.hint == "tables here: things"


@pytest.mark.parametrize("name", ["1abc", "a-b", "a b", "", "x;drop table y", "é"])
def test_invalid_table_names(wh: LocalWarehouse, name: str) -> None:
    with pytest.raises(DataError) as info:
        wh.write_table(name, sample())
    assert str(info.value) == (
        f"invalid table name {name!r}: expected letters, digits and underscores, "
        "not starting with a digit"
    )
    assert "\n" not in str(info.value)
    with pytest.raises(DataError):
        wh.read_table(name)


def test_invalid_column_name(wh: LocalWarehouse) -> None:
    with pytest.raises(DataError, match=r"^invalid column name 'a b' in table 't'"):
        wh.write_table("t", pa.table({"a b": [1]}))
    with pytest.raises(DataError, match=r"^duplicate column 'A' in table 't'$"):
        wh.write_table("t", pa.table([pa.array([1]), pa.array([2])], names=["a", "A"]))


def test_replace_swaps_the_whole_table(wh: LocalWarehouse) -> None:
    wh.write_table("t", sample(5))
    wh.write_table("t", pa.table({"only": [1.5, 2.5]}))
    back = wh.read_table("t")
    assert back.column_names == ["only"]
    assert back["only"].to_pylist() == [1.5, 2.5]


def test_append(wh: LocalWarehouse) -> None:
    assert wh.write_table("t", sample(3), replace=False) == 3
    assert wh.write_table("t", sample(2, offset=3), replace=False) == 2
    assert wh.read_table("t")["id"].to_pylist() == [0, 1, 2, 3, 4]
    with pytest.raises(DataError) as info:
        wh.write_table("t", pa.table({"id": [9]}), replace=False)
    assert str(info.value) == (
        "cannot append to table 't': it has columns id, x, name, flag, values, the new rows have id"
    )
    assert wh.read_table("t").num_rows == 5


def _invalid_utf8_table(n_good: int) -> pa.Table:
    good = pa.array([f"s{i}" for i in range(n_good)])
    offsets = pa.py_buffer(np.array([0, 1, 2, 3], dtype=np.int32).tobytes())
    bad = pa.Array.from_buffers(pa.string(), 3, [None, offsets, pa.py_buffer(b"a\xffb")])
    return pa.table({"name": pa.chunked_array([good, bad])})


@pytest.mark.parametrize("replace", [True, False])
def test_failed_write_leaves_old_table_intact(wh: LocalWarehouse, replace: bool) -> None:
    old = pa.table({"name": ["kept", "rows"]})
    wh.write_table("t", old)
    with pytest.raises(DataError) as info:
        wh.write_table("t", _invalid_utf8_table(50_000), replace=replace)
    assert str(info.value).startswith(f"cannot write table 't' to {wh.describe()}: ")
    assert "\n" not in str(info.value)
    assert wh.read_table("t")["name"].to_pylist() == ["kept", "rows"]
    assert [t.name for t in wh.list_tables()] == ["t"]


def test_failed_first_write_creates_no_table(wh: LocalWarehouse) -> None:
    with pytest.raises(DataError):
        wh.write_table("t", _invalid_utf8_table(10))
    assert not wh.has_table("t")


def test_rejects_non_tables(wh: LocalWarehouse) -> None:
    with pytest.raises(
        DataError, match="^cannot write dict to table 't': expected a pyarrow.Table$"
    ):
        wh.write_table("t", {"a": [1]})  # type: ignore[arg-type]


def test_processes_take_turns_with_the_file(wh: LocalWarehouse) -> None:
    """Connections close after each call, so another process can write straight after us."""
    wh.write_table("t", sample(3))
    script = (
        "import sys, pyarrow as pa\n"
        "from mlkit.data import LocalWarehouse\n"
        "w = LocalWarehouse(sys.argv[1])\n"
        "assert w.read_table('t').num_rows == 3\n"
        "w.write_table('t', pa.table({'id': [7, 8]}))\n"
    )
    subprocess.run([sys.executable, "-c", script, str(wh.path)], check=True, timeout=120)
    assert wh.read_table("t")["id"].to_pylist() == [7, 8]
    wh.write_table("t", sample(1))
    subprocess.run([sys.executable, "-c", script.replace("== 3", "== 1"), str(wh.path)], check=True)


def test_data_service_never_imports_tensorflow() -> None:
    script = "import sys, mlkit.data; assert 'tensorflow' not in sys.modules"
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)


def test_reads_share_one_connection_while_reading(wh: LocalWarehouse) -> None:
    wh.write_table("t", pa.table({"a": [1, 2, 3]}))
    with wh.reading():
        with wh._connect(write=False) as first, wh._connect(write=False) as second:
            assert first is second
        assert wh.schema("t").names == ["a"]
        batches = list(wh.iter_batches("t", ["a"], where="TRUE"))
        batches += list(wh.iter_batches("t", ["a"], where="TRUE"))  # the function once
        assert sum(b.num_rows for b in batches) == 6
    with wh._connect(write=False) as first, wh._connect(write=False) as second:
        assert first is not second  # nothing held after the block
    wh.write_table("t", pa.table({"a": [4]}))  # the file is free for writers again
    assert wh.read_table("t").num_rows == 1


def test_reading_a_missing_file_still_names_the_missing_table(tmp_path: Path) -> None:
    wh = LocalWarehouse(tmp_path / "none.duckdb")
    with wh.reading(), pytest.raises(TableNotFound):
        wh.schema("t")
    assert not wh.path.exists()


def test_kept_open_holds_the_file_for_a_job(tmp_path: Path) -> None:
    """Within ``kept_open`` reads and appends go through the held database, and the file stays
    open for this process (another process cannot open it) until the block ends."""
    missing = LocalWarehouse(tmp_path / "none.duckdb")
    with missing.kept_open():
        assert not missing.path.exists()
    wh = LocalWarehouse(tmp_path / "w.duckdb").for_writing_beside()
    wh.write_table("t", sample(3))
    probe = "import duckdb, sys; duckdb.connect(sys.argv[1], read_only=True)"
    with wh.kept_open():
        batches = wh.iter_batches("t", ["id"], 2)
        first = next(batches)
        wh.write_table("t", sample(2, offset=3), replace=False)
        assert first.num_rows == 2 and wh.count_rows("t") == 5
        batches.close()
        held = subprocess.run([sys.executable, "-c", probe, str(wh.path)], capture_output=True)
        assert held.returncode != 0 and b"lock" in held.stderr.lower()
    subprocess.run([sys.executable, "-c", probe, str(wh.path)], check=True, timeout=120)
    assert wh.read_table("t")["id"].to_pylist() == list(range(5))
