"""Evaluation rows are the experiment's test split, exactly as training read it, plus the slice."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from mlkit.data import FeatureSpec, LocalWarehouse, load_splits
from mlkit.data.evaluation import NO_SLICE, load_evaluation_data
from mlkit.errors import DataError


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
