"""The same warehouse and loader behaviour on both backends: the local DuckDB file, and BigQuery
through the real google-cloud-bigquery / bigquery-storage clients against the emulator."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from mlkit.data import (
    BigQueryWarehouse,
    FeatureSpec,
    Query,
    Warehouse,
    load_dataset,
    load_splits,
)
from mlkit.data.ingest import pixels_column
from mlkit.data.stream import StreamSpec, iter_split
from mlkit.data.validation import (
    FeatureShapeError,
    FeatureTypeError,
    LabelValuesError,
    MissingColumnError,
    NullValuesError,
)
from mlkit.errors import DataError, TableNotFound

PIXELS64 = [FeatureSpec("pixels", (64,))]


def table_ref(wh: Warehouse, name: str) -> str:
    """How SQL names a table on each backend."""
    if isinstance(wh, BigQueryWarehouse):
        return f"`{wh.table_id(name)}`"
    return name


def sample(n: int = 50) -> pa.Table:
    ids = np.arange(n, dtype=np.int64)
    return pa.table(
        {
            "id": pa.array(ids),
            "x": pa.array(ids * 0.5),
            "name": pa.array([f"row{i}" for i in ids]),
            "blob": pa.array([bytes([i % 256, 7]) for i in ids], pa.binary()),
            "values": pa.array([[int(i), int(i) + 1] for i in ids], pa.list_(pa.int64())),
            "label": pa.array(ids % 3),
        }
    )


def load(wh: Warehouse, source, **kwargs):
    options = {
        "label": "label",
        "features": None,
        "key": "id",
        "eval_fraction": 0.2,
        "test_fraction": 0.2,
    }
    options.update(kwargs)
    return load_splits(wh, source, **options)


def test_round_trip_and_schema(warehouse: Warehouse) -> None:
    data = sample()
    assert warehouse.write_table("things", data) == 50
    assert warehouse.has_table("things") and not warehouse.has_table("other")
    schema = warehouse.schema("things")
    assert [(f.name, str(f.type).replace("item", "x")) for f in schema][:4] == [
        ("id", "int64"),
        ("x", "double"),
        ("name", "string"),
        ("blob", "binary"),
    ]
    assert pa.types.is_list(schema.field("values").type)
    back = warehouse.read_table("things").sort_by("id")
    for column in data.column_names:
        assert back[column].to_pylist() == data[column].to_pylist(), column
    assert warehouse.read_table("things", ["label", "id"]).column_names == ["label", "id"]
    assert [(t.name, t.rows) for t in warehouse.list_tables()] == [("things", 50)]


def test_replace_and_append(warehouse: Warehouse) -> None:
    warehouse.write_table("t", sample(10))
    warehouse.write_table("t", sample(4), replace=True)
    assert warehouse.count_rows("t") == 4
    warehouse.write_table("t", sample(6).slice(4), replace=False)
    assert sorted(warehouse.read_table("t", ["id"])["id"].to_pylist()) == list(range(6))
    with pytest.raises(DataError, match="^cannot append to table 't': it has columns"):
        warehouse.write_table("t", pa.table({"id": [1]}), replace=False)


def test_missing_table_and_column(warehouse: Warehouse) -> None:
    warehouse.write_table("things", sample(3))
    with pytest.raises(TableNotFound) as info:
        warehouse.read_table("nope")
    assert "not found in" in str(info.value) and "things" in (info.value.hint or "")
    with pytest.raises(DataError, match=r"column 'nam' not found .*did you mean 'name'\?$"):
        warehouse.read_table("things", ["nam"])


def test_query_with_named_parameters(warehouse: Warehouse) -> None:
    warehouse.write_table("things", sample())
    sql = f"SELECT id, x, label FROM {table_ref(warehouse, 'things')} WHERE label <= @l AND id < @n"
    query = Query(sql, {"l": 1, "n": 30})
    assert warehouse.count_rows(query) == 20
    ids = sorted(i for b in warehouse.iter_batches(query, ["id"]) for i in b.column(0).to_pylist())
    assert ids == [i for i in range(30) if i % 3 <= 1]
    with pytest.raises(DataError, match=r"^query parameter @n has no value$"):
        warehouse.count_rows(Query(sql, {"l": 1}))
    split = load(warehouse, query, features=[FeatureSpec("x")], eval_fraction=0.3)
    assert split.fingerprint["query"] == " ".join(sql.split())
    assert split.fingerprint["params"] == {"l": 1, "n": 30} and split.fingerprint["table"] is None
    assert sum(split.fingerprint["split_rows"].values()) == 20


@pytest.mark.parametrize("form", ["bytes", "string"])
def test_pixel_forms_decode_to_the_same_arrays(warehouse: Warehouse, form: str) -> None:
    from sklearn.datasets import load_digits

    digits = load_digits().data
    load_dataset("digits", warehouse, "digits", pixels_form=form)
    load_dataset("digits", warehouse, "digits_array", pixels_form="array")
    options = dict(features=PIXELS64, eval_fraction=0.1, test_fraction=0.1, extra_columns=["id"])
    data = load(warehouse, "digits", **options)
    assert data.fingerprint["storage_forms"] == {"pixels": form}
    assert sum(len(p) for p in (data.train, data.eval, data.test)) == 1797
    for part in (data.train, data.eval, data.test):
        assert part.features["pixels"].dtype == np.float32
        np.testing.assert_array_equal(part.features["pixels"], digits[part.extras["id"]])
    # the content hash covers what is trained on, so every storage form of it hashes the same
    array = load(warehouse, "digits_array", **options)
    assert array.fingerprint["storage_forms"] == {"pixels": "array"}
    assert data.fingerprint["content_sha256"] == array.fingerprint["content_sha256"]
    assert data.fingerprint["schema"] != array.fingerprint["schema"]


def test_extra_columns_come_back_aligned(warehouse: Warehouse) -> None:
    table = sample(120).append_column("slice", pa.array([f"s{i % 4}" for i in range(120)]))
    warehouse.write_table("t", table)
    data = load(warehouse, "t", features=[FeatureSpec("x")], extra_columns=["slice", "id"])
    for part in (data.train, data.eval, data.test):
        ids = part.extras["id"]
        np.testing.assert_array_equal(part.features["x"], (ids * 0.5).astype(np.float32))
        assert part.extras["slice"].tolist() == [f"s{i % 4}" for i in ids]
        np.testing.assert_array_equal(part.labels, ids % 3)
    assert data.fingerprint["extra_columns"] == ["slice", "id"]
    with pytest.raises(MissingColumnError, match=r"^extra column 'slic' not found in table 't'"):
        load(warehouse, "t", features=[FeatureSpec("x")], extra_columns=["slic"])


def test_validation_errors(warehouse: Warehouse) -> None:
    n = 40
    ids = np.arange(n)
    warehouse.write_table(
        "bad",
        pa.table(
            {
                "id": pa.array(ids),
                "label": pa.array(ids % 2),
                "label_gap": pa.array((ids % 2) * 2),
                "label_null": pa.array([None if i == 3 else i % 2 for i in ids], pa.int64()),
                "x": pa.array([None if i == 5 else 1.0 for i in ids], pa.float64()),
                "ok": pa.array(ids * 1.0),
                "v": pa.array([[1, 2, 3]] * (n - 1) + [[1, 2]], pa.list_(pa.int64())),
                "s": pa.array(["1,2,x"] * n),
            }
        ),
    )
    cases = [
        (MissingColumnError, dict(label="target"), "label column 'target' not found in table"),
        (
            LabelValuesError,
            dict(label="label_gap", features=[FeatureSpec("ok")]),
            "label column 'label_gap' in table 'bad' has values 0, 2; classification labels must "
            "be integers 0..K-1 with K >= 2",
        ),
        (
            NullValuesError,
            dict(label="label_null", features=[FeatureSpec("ok")]),
            "label column 'label_null' in table 'bad': 1 row has a NULL label",
        ),
        (
            FeatureShapeError,
            dict(features=[FeatureSpec("v", (3,))]),
            "feature 'v' in table 'bad' expects 3 values per row (shape (3,)), found 2 in row",
        ),
        (
            FeatureShapeError,
            dict(features=[FeatureSpec("v")]),
            "feature column 'v' in table 'bad' holds lists; give its shape, e.g. (64,)",
        ),
        (
            FeatureTypeError,
            dict(features=[FeatureSpec("s", (3,))]),
            "feature column 's' in table 'bad' has 'x' in row 0; a STRING feature must hold "
            "comma-separated numbers",
        ),
    ]
    for kind, kwargs, message in cases:
        with pytest.raises(kind) as info:
            load(warehouse, "bad", **kwargs)
        assert str(info.value).startswith(message), str(info.value)
        assert "\n" not in str(info.value)
        assert isinstance(info.value, DataError)
        assert info.value.hint or kind is LabelValuesError or kind is FeatureShapeError


def test_stream_yields_the_loaded_split(warehouse: Warehouse) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, size=(300, 12))
    warehouse.write_table(
        "img",
        pa.table(
            {
                "id": pa.array(np.arange(300)),
                "label": pa.array(np.arange(300) % 4),
                "pixels": pixels_column(pixels, "string"),
            }
        ),
    )
    features = [FeatureSpec("pixels", (12,))]
    loaded = load(warehouse, "img", features=features, extra_columns=["id"])
    for split in ("train", "eval", "test"):
        spec = StreamSpec("label", features, "id", split, 0.2, 0.2, n_classes=4)
        got = list(iter_split(warehouse, "img", spec, batch_rows=64))
        values = np.concatenate([f["pixels"] for f, _ in got])
        labels = np.concatenate([y for _, y in got])
        part = getattr(loaded, split)
        order = np.argsort(part.extras["id"])
        streamed_order = np.argsort(values[:, 0] * 1000 + values[:, 1])
        expected_order = np.argsort(
            part.features["pixels"][:, 0] * 1000 + part.features["pixels"][:, 1]
        )
        assert len(labels) == len(part) and order.size == len(part)
        np.testing.assert_array_equal(
            values[streamed_order], part.features["pixels"][expected_order]
        )
        np.testing.assert_array_equal(labels[streamed_order], part.labels[expected_order])
    bad = StreamSpec("label", features, "id", "train", 0.2, 0.2, n_classes=3)
    with pytest.raises(LabelValuesError, match=r"has value 3; expected 0..2$"):
        list(iter_split(warehouse, "img", bad))


def test_repeated_keys_keep_a_group_in_one_split(warehouse: Warehouse) -> None:
    n = 300
    users = [f"user{i // 3}" for i in range(n)]
    warehouse.write_table(
        "events",
        pa.table(
            {
                "user": pa.array(users),
                "x": pa.array(np.arange(n) * 1.0),
                "label": pa.array(np.arange(n) % 2),
            }
        ),
    )
    data = load(
        warehouse, "events", key="user", features=[FeatureSpec("x")], extra_columns=["user"]
    )
    seen: dict[str, str] = {}
    for split in ("train", "eval", "test"):
        part = getattr(data, split)
        for user, x in zip(part.extras["user"], part.features["x"], strict=True):
            assert seen.setdefault(user, split) == split
            assert users[int(x)] == user  # each row's features stayed with its key
    assert len(seen) == 100 and sum(data.fingerprint["split_rows"].values()) == n


def test_storage_read_holds_a_bounded_part_of_a_table_at_a_time(
    bq_warehouse: BigQueryWarehouse,
) -> None:
    """bqemulator sends up to 65,536 rows a message; mlkit asks for a stream per STREAM_ROWS rows
    and reads them one after another, so no batch is bigger than a stream, and every row comes
    back once."""
    from mlkit.data.bigquery import STREAM_ROWS, read_stream_count

    rows = 3 * STREAM_ROWS + 100
    ids = np.arange(rows, dtype=np.int64)
    blobs = np.random.default_rng(0).integers(0, 256, (rows, 64), dtype=np.uint8)
    table = pa.table(
        {
            "id": pa.array(ids),
            "pixels": pa.array([bytes(b) for b in blobs], pa.binary()),
            "label": pa.array(ids % 2),
        }
    )  # 1.8 MB: above the emulator's one-stream threshold
    bq_warehouse.write_table("big", table)
    assert read_stream_count(rows) == 4
    batches = list(bq_warehouse.iter_batches("big", ["id", "pixels"]))
    assert len(batches) >= 4 and max(b.num_rows for b in batches) <= STREAM_ROWS
    got = pa.Table.from_batches(batches).sort_by("id")
    assert got["id"].to_numpy().tolist() == ids.tolist()
    assert got["pixels"].to_pylist() == table["pixels"].to_pylist()
    data = load(bq_warehouse, "big", features=[FeatureSpec("pixels", (64,))])
    assert sum(len(p) for p in (data.train, data.eval, data.test)) == rows
