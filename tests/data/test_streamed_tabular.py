"""A tabular source streamed (``[data] stream = true``): the preprocessing fitted inside the
warehouse on the training split equals the in-memory fit, and the streamed batches hold the
encoded rows the in-memory load gives, on both warehouses."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.csv as csv
import pytest

from mlkit.data import Warehouse, load_splits
from mlkit.data.streamed import scan_splits
from mlkit.data.validation import LabelValuesError, NullValuesError
from tests.data.test_data_tabular import churn

ARGS = dict(label="churned", features=None, key="id", eval_fraction=0.1, test_fraction=0.2)


def _both(warehouse: Warehouse, table: pa.Table, **kwargs):
    warehouse.write_table("churn", table)
    args = {**ARGS, **kwargs}
    return load_splits(warehouse, "churn", **args), scan_splits(
        warehouse, "churn", batch_rows=53, **args
    )


def _streamed_rows(split) -> tuple[dict[str, np.ndarray], np.ndarray]:
    parts = list(split.batches())
    features = {n: np.concatenate([f[n] for f, _ in parts]) for n in parts[0][0]}
    return features, np.concatenate([labels for _, labels in parts])


def test_the_plan_and_the_rows_equal_the_in_memory_ones(warehouse: Warehouse) -> None:
    loaded, streamed = _both(warehouse, churn())
    assert streamed.columns is not None and loaded.columns is not None
    fitted, expected = streamed.columns.to_json(), loaded.columns.to_json()
    for got, want in zip(fitted["columns"], expected["columns"], strict=True):
        assert got.keys() == want.keys() and got["name"] == want["name"]
        assert got.get("vocabulary") == want.get("vocabulary")
        assert got.get("indicator") == want.get("indicator")
        np.testing.assert_allclose(got.get("impute", []), want.get("impute", []), rtol=1e-6)
    assert streamed.classes == loaded.classes == ["no", "yes"]
    assert streamed.rows() == loaded.rows()
    assert [f.name for f in streamed.feature_specs] == [f.name for f in loaded.feature_specs]
    assert streamed.fingerprint["kinds"] == loaded.fingerprint["kinds"]
    for name, values in loaded.train.features.items():
        assert streamed.train.mean[name] == pytest.approx(values.astype(np.float64).mean())
        assert streamed.train.std[name] == pytest.approx(values.astype(np.float64).std())
    features, labels = _streamed_rows(streamed.test)
    assert streamed.test.stream.shards == 1
    # the streamed order is the warehouse's: the rows compared as sorted multisets
    got = np.column_stack([labels, *(features[n] for n in sorted(features))]).astype(np.float64)
    want = np.column_stack(
        [loaded.test.labels, *(loaded.test.features[n] for n in sorted(features))]
    ).astype(np.float64)
    np.testing.assert_allclose(got[np.lexsort(got.T)], want[np.lexsort(want.T)], rtol=1e-6)
    assert features["plan"].dtype == np.int64  # category ids, as the model takes them


def test_the_churn_csv_streams_locally(local_warehouse) -> None:
    from pathlib import Path

    table = csv.read_csv(Path(__file__).resolve().parents[2] / "examples" / "churn.csv")
    loaded, streamed = _both(local_warehouse, table)
    assert streamed.columns == loaded.columns  # exactly: float32 means of the same values
    assert streamed.rows() == loaded.rows()


def test_numbers_with_nulls_alone_go_to_the_tabular_reader(local_warehouse) -> None:
    table = churn().select(["id", "store", "fee"])
    labels = (churn()["churned"].to_numpy(zero_copy_only=False) == "yes").astype(np.int64)
    loaded, streamed = _both(local_warehouse, table.append_column("churned", pa.array(labels)))
    assert streamed.columns is not None
    assert streamed.columns.features() == loaded.columns.features()


def test_label_errors_are_one_line(local_warehouse) -> None:
    table = churn()
    labels = [None if i in (5, 9) else v for i, v in enumerate(table["churned"].to_pylist())]
    local_warehouse.write_table("churn", table.set_column(7, "churned", pa.array(labels)))
    with pytest.raises(NullValuesError, match="2 rows have a NULL label") as error:
        scan_splits(local_warehouse, "churn", **ARGS)
    assert "WHERE churned IS NOT NULL" in (error.value.hint or "")
    only_one = pa.array(["yes"] * len(table))
    local_warehouse.write_table("churn", table.set_column(7, "churned", only_one))
    with pytest.raises(LabelValuesError, match="1 class in the training split"):
        scan_splits(local_warehouse, "churn", **ARGS)
