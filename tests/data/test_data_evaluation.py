"""Evaluation rows are the experiment's test split, exactly as training read it, plus the slice."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from mlkit.data import FeatureSpec, LocalWarehouse, Query, load_splits
from mlkit.data.evaluation import NO_SLICE, load_evaluation_data
from mlkit.errors import DataError


@pytest.fixture(params=["local", "bigquery"])
def warehouse_both(request):
    """The local warehouse and BigQuery (the emulator; tests/data/conftest.py)."""
    return request.getfixturevalue(
        "local_warehouse" if request.param == "local" else "bq_warehouse"
    )


@pytest.fixture
def warehouse(tmp_path):
    wh = LocalWarehouse(tmp_path / "w.duckdb")
    rng = np.random.default_rng(0)
    n = 600
    ids = rng.permutation(n) * 3 + 1  # not in order, not contiguous
    wh.write_table(
        "t",
        pa.table(
            {
                "id": pa.array(ids, pa.int64()),
                "pixels": pa.array([list(rng.random(4)) for _ in range(n)], pa.list_(pa.float64())),
                "size": pa.array(rng.random(n)),
                "label": pa.array((ids // 3) % 3, pa.int64()),
                "region": pa.array([None if i % 7 == 0 else f"r{i % 2}" for i in ids]),
            }
        ),
    )
    return wh


def test_the_test_split_matches_the_loaders_row_for_row(warehouse):
    data = load_evaluation_data(
        warehouse, "t", features={"pixels": (4,), "size": ()}, label="label", key="id",
        slice_column="region", split=(0.1, 0.2),
    )  # fmt: skip
    splits = load_splits(
        warehouse, "t", label="label", key="id", eval_fraction=0.1,
        features=[FeatureSpec("pixels", (4,)), FeatureSpec("size", ())],
        test_fraction=0.2,
    )  # fmt: skip
    np.testing.assert_array_equal(data.labels, splits.test.labels)
    np.testing.assert_array_equal(data.features["pixels"], splits.test.features["pixels"])
    np.testing.assert_array_equal(data.features["size"], splits.test.features["size"])
    assert data.features["pixels"].dtype == np.float32 and data.features["pixels"].shape[1:] == (4,)
    # Each row's slice belongs to its own key.
    expected = [NO_SLICE if k % 7 == 0 else f"r{k % 2}" for k in data.keys]
    assert data.slices.tolist() == expected
    assert data.fingerprint["rows"] == len(data) == len(splits.test)
    assert data.fingerprint["selection"] == "test split (eval 0.1, test 0.2)"


def test_a_table_given_with_data_is_read_whole(warehouse):
    data = load_evaluation_data(
        warehouse, "t", features={"size": ()}, label="label", key="id", split=None
    )
    assert len(data) == 600 and data.slices is None
    assert np.all(np.diff(data.keys) > 0)
    assert data.fingerprint["selection"] == "all rows"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"features": {"nope": ()}}, "table 't' has no column 'nope', an input of the model"),
        ({"features": {"pixels": (5,)}}, "has 4 values in a row; the model expects 5"),
        ({"features": {"size": (2,)}}, "holds single numbers, but the model expects shape (2,)"),
        ({"features": {"region": ()}}, "expected numbers"),
        ({"features": {"size": ()}, "label": "region"}, "label column 'region' in table 't'"),
        ({"features": {"size": ()}, "slice_column": "zone"}, "slice column 'zone' not found"),
    ],
)
def test_mismatches_are_data_errors(warehouse, kwargs, message):
    args = {"label": "label", "key": "id", "split": None, **kwargs}
    with pytest.raises(DataError, match=None) as info:
        load_evaluation_data(warehouse, "t", **args)
    assert message in info.value.message


def test_repeated_keys_are_refused(warehouse):
    table = warehouse.read_table("t")
    warehouse.write_table("twice", pa.concat_tables([table, table.slice(0, 1)]))
    with pytest.raises(DataError, match="has repeated values; evaluation needs one row per key"):
        load_evaluation_data(
            warehouse, "twice", features={"size": ()}, label="label", key="id", split=None
        )


# -- the same reader on every source kind: BigQuery, queries, an experiment's [data] section -----


def _digits_like(n: int = 400) -> pa.Table:
    rng = np.random.default_rng(3)
    ids = rng.permutation(n) + 10
    pixels = rng.integers(0, 17, size=(n, 4))
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "label": pa.array(ids % 4, pa.int64()),
            "pixels": pa.array([",".join(str(v) for v in row) for row in pixels]),
        }
    )


def test_the_evaluation_rows_are_the_loaders_test_split_on_both_backends(warehouse_both):
    warehouse_both.write_table("d", _digits_like())
    dataset = getattr(getattr(warehouse_both, "config", None), "dataset", None)
    table = f"{dataset}.d" if dataset else "d"  # BigQuery names a query's tables with a dataset
    query = Query(f"SELECT id, label, pixels FROM {table} WHERE label < @k", {"k": 3})
    for source in ("d", query):
        got = load_evaluation_data(
            warehouse_both, source, features={"pixels": (2, 2)}, label="label", key="id",
            split=(0.1, 0.2),
        )  # fmt: skip
        want = load_splits(
            warehouse_both, source, label="label", features=[FeatureSpec("pixels", (2, 2))],
            key="id", eval_fraction=0.1, test_fraction=0.2,
        ).test  # fmt: skip
        np.testing.assert_array_equal(got.keys, want.keys)
        np.testing.assert_array_equal(got.labels, want.labels)
        np.testing.assert_array_equal(got.features["pixels"], want.features["pixels"])
        assert got.features["pixels"].shape[1:] == (2, 2)
    assert got.fingerprint["query"] == str(query) and got.fingerprint["params"] == {"k": 3}
    assert set(got.labels.tolist()) <= {0, 1, 2}


def test_an_experiments_bq_table_and_query_sources_are_read_from_bigquery(bq_emulator, tmp_path):
    from mlkit.config import load_settings
    from mlkit.data import BigQueryWarehouse
    from mlkit.data.experiment_data import experiment_evaluation_data
    from mlkit.experiment import parse_experiment

    dataset = "evalsrc"
    BigQueryWarehouse(bq_emulator.config(dataset=dataset)).write_table("d", _digits_like())
    where = {
        "project": "test",
        "endpoint": bq_emulator.endpoint,
        "storage_endpoint": bq_emulator.storage_endpoint,
    }
    sources = {
        "table": {"source": f"bq://test.{dataset}.d"},
        "query": {
            "source": f"SELECT * FROM {dataset}.d WHERE label < @k",
            "params": {"k": 2},
            "backend": "bigquery",
            "dataset": dataset,
        },
    }
    settings = load_settings(tmp_path)  # a local warehouse with no tables: nothing falls back
    for kind, data in sources.items():
        spec = parse_experiment(
            {"experiment": {"name": "e"}, "data": {"label": "label", **where, **data}}
        ).data
        rows = experiment_evaluation_data(spec, settings, features={"pixels": (4,)})
        assert rows.fingerprint["source"] == f"BigQuery test.{dataset} at {bq_emulator.endpoint}"
        assert rows.fingerprint["selection"] == "test split (eval 0.1, test 0.2)"
        labels = set(rows.labels.tolist())
        assert labels <= ({0, 1} if kind == "query" else {0, 1, 2, 3}) and len(labels) >= 2
        whole = experiment_evaluation_data(
            spec, settings, features={"pixels": (4,)}, data=f"bq://test.{dataset}.d"
        )
        assert len(whole) == 400 and whole.fingerprint["table"] == f"bq://test.{dataset}.d"
    with pytest.raises(DataError, match=r"^invalid table name 'SELECT 1'"):
        experiment_evaluation_data(spec, settings, features={"pixels": (4,)}, data="SELECT 1")
