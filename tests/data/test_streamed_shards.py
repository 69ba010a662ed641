"""The shards a training cluster's tasks stream: disjoint, together the whole training split,
on both warehouses (a hash range of the key, the same in every process)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from mlkit.data import FeatureSpec, Warehouse
from mlkit.data.streamed import scan_splits
from mlkit.errors import DataError


def _ids(split) -> list[int]:
    return [int(v) for features, _ in split.batches() for v in features["x"].reshape(-1)]


def test_shards_are_disjoint_and_cover_the_training_split(warehouse: Warehouse) -> None:
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
    shares = []
    for index in range(3):  # as a chief and two workers each would, in their own process
        data = scan_splits(warehouse, "t", **options)
        data.train.shard(index, 3)
        shares.append(_ids(data.train))
        assert _ids(data.train) == shares[-1]  # every pass the same rows
    together = [i for share in shares for i in share]
    assert sorted(together) == sorted(train)  # every training row once, none twice
    assert all(len(share) > whole.train.rows // 5 for share in shares)  # roughly a third each
    with pytest.raises(DataError, match="shard 3 of 3"):
        whole.train.shard(3, 3)
