"""The shards a training cluster's tasks stream: disjoint, together the whole training split,
on both warehouses (a hash range of the key, the same in every process), and chosen inside the
warehouse: a task is sent its share of the rows, not the table."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from mlkit.data import FeatureSpec, Warehouse
from mlkit.data.split import assign_splits, shard_of
from mlkit.data.streamed import scan_splits
from mlkit.errors import DataError


def _ids(split) -> list[int]:
    return [int(v) for features, _ in split.batches() for v in features["x"].reshape(-1)]


def test_shards_are_disjoint_and_cover_the_training_split(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = 3000
    ids = np.arange(n)
    warehouse.write_table(
        "t",
        pa.table({"id": ids, "x": ids.astype(np.float64), "label": ids % 2}),
    )
    options = dict(
        label="label",
        features=[FeatureSpec("x")],
        key="id",
        eval_fraction=0.1,
        test_fraction=0.2,
        batch_rows=512,
    )
    whole = scan_splits(warehouse, "t", **options)
    train = _ids(whole.train)
    assert len(train) == whole.train.rows
    expected_train = ids[assign_splits(ids, 0.1, 0.2) == 0]
    assert sorted(train) == expected_train.tolist()  # the split pushed down is the split

    sent: list[int] = []  # rows the warehouse sends for a filtered read (a training pass)
    read = type(warehouse).iter_batches

    def counting(self, relation, columns=None, batch_rows=4096, *, where=None):
        for batch in read(self, relation, columns, batch_rows, where=where):
            if where is not None:
                sent[-1] += batch.num_rows
            yield batch

    monkeypatch.setattr(type(warehouse), "iter_batches", counting)
    shares = []
    for index in range(3):  # as a chief and two workers each would, in their own process
        data = scan_splits(warehouse, "t", **options)
        data.train.shard(index, 3)
        sent.append(0)
        shares.append(_ids(data.train))
        # the warehouse sent this task's share of the training rows, not the table
        mine = expected_train[shard_of(expected_train, 3) == index]
        assert sent[-1] == len(shares[-1]) == len(mine)
        assert sorted(shares[-1]) == mine.tolist()  # the same shard as shard_of
        assert _ids(data.train) == shares[-1]  # every pass the same rows
    together = [i for share in shares for i in share]
    assert sorted(together) == sorted(train)  # every training row once, none twice
    assert all(len(share) > whole.train.rows // 5 for share in shares)  # roughly a third each
    with pytest.raises(DataError, match="shard 3 of 3"):
        whole.train.shard(3, 3)


@pytest.mark.parametrize("keys", [np.arange(-50, 2000), np.array([f"k{i}" for i in range(2000)])])
def test_rows_predicate_matches_the_split_in_duckdb(keys: np.ndarray, tmp_path) -> None:
    """The SQL condition gives, key for key, :func:`assign_splits` and :func:`shard_of`
    (negative integer keys and strings included)."""
    from mlkit.data.local import LocalWarehouse

    local = LocalWarehouse(tmp_path / "w.duckdb")
    local.write_table("k", pa.table({"key": keys}))
    codes, shards = assign_splits(keys, 0.25, 0.25), shard_of(keys, 4)
    for split in range(3):
        for shard in range(4):
            from mlkit.data.split import rows_predicate

            dialect = local.sql_dialect()
            condition = rows_predicate(dialect.fingerprint('"key"'), split, 0.25, 0.25, shard, 4)
            got = [
                v
                for b in local.iter_batches("k", ["key"], where=condition)
                for v in b.column("key").to_pylist()
            ]
            assert sorted(got) == sorted(keys[(codes == split) & (shards == shard)].tolist())
