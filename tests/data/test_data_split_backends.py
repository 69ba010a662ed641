"""Splits agree row for row between BigQuery (FARM_FINGERPRINT in SQL, on the emulator through the
real client) and mlkit's own computation, and a row keeps its split when the table grows."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from mlkit.data import BigQueryWarehouse, FeatureSpec, LocalWarehouse, Query, load_splits
from mlkit.data.split import assign_splits, buckets, split_expression


def _keys_table(n: int, offset: int = 0) -> pa.Table:
    ids = np.arange(offset, offset + n, dtype=np.int64)
    return pa.table(
        {
            "id": pa.array(ids),
            "name": pa.array([f"user-{i}@example.com" for i in ids]),
            "x": pa.array(ids * 2.0),
            "label": pa.array(ids % 2),
        }
    )


def test_bigquery_sql_buckets_and_splits_match_mlkit(bq_warehouse: BigQueryWarehouse) -> None:
    bq_warehouse.write_table("keys", _keys_table(3000, offset=-500))
    table = f"`{bq_warehouse.table_id('keys')}`"
    sql = (
        "SELECT id, name, "
        "ABS(MOD(FARM_FINGERPRINT(CAST(id AS STRING)), 1000)) AS id_bucket, "
        "ABS(MOD(FARM_FINGERPRINT(name), 1000)) AS name_bucket, "
        f"{split_expression('id', 0.15, 0.25)} AS split "
        f"FROM {table}"
    )
    result = pa.Table.from_batches(list(bq_warehouse.iter_batches(Query(sql)))).sort_by("id")
    ids = result["id"].to_numpy()
    np.testing.assert_array_equal(result["id_bucket"].to_numpy(), buckets(ids))
    names = np.array(result["name"].to_pylist(), dtype=object)
    np.testing.assert_array_equal(result["name_bucket"].to_numpy(), buckets(names))
    np.testing.assert_array_equal(result["split"].to_numpy(), assign_splits(ids, 0.15, 0.25))


def _split_ids(warehouse, key: str = "id") -> dict[str, set]:
    data = load_splits(
        warehouse,
        "t",
        label="label",
        features=[FeatureSpec("x")],
        key=key,
        eval_fraction=0.1,
        test_fraction=0.2,
        extra_columns=[key],
    )
    return {s: set(getattr(data, s).extras[key].tolist()) for s in ("train", "eval", "test")}, data


def test_same_rows_in_each_split_on_both_backends_and_when_the_table_grows(
    bq_warehouse: BigQueryWarehouse, local_warehouse: LocalWarehouse
) -> None:
    first = _keys_table(800)
    shuffled = first.take(np.random.default_rng(3).permutation(800))
    bq_warehouse.write_table("t", first)
    local_warehouse.write_table("t", shuffled)
    bq_splits, bq_data = _split_ids(bq_warehouse)
    local_splits, local_data = _split_ids(local_warehouse)
    assert bq_splits == local_splits
    assert bq_data.fingerprint["content_sha256"] == local_data.fingerprint["content_sha256"]
    assert bq_data.fingerprint["source"] != local_data.fingerprint["source"]
    for split in ("train", "eval", "test"):
        np.testing.assert_array_equal(
            getattr(bq_data, split).features["x"], getattr(local_data, split).features["x"]
        )
    # grow both tables: every old row keeps its split
    more = _keys_table(700, offset=800)
    bq_warehouse.write_table("t", more, replace=False)
    local_warehouse.write_table("t", more, replace=False)
    bq_grown, _ = _split_ids(bq_warehouse)
    local_grown, _ = _split_ids(local_warehouse)
    assert bq_grown == local_grown
    for split in ("train", "eval", "test"):
        assert bq_grown[split] & set(range(800)) == bq_splits[split]
    # string keys agree too
    bq_strings, _ = _split_ids(bq_warehouse, key="name")
    local_strings, _ = _split_ids(local_warehouse, key="name")
    assert bq_strings == local_strings
