"""A training cluster reads a streamed source once: the chief scans it and shares its constants
(``stream_constants.json`` in the model directory); each task then streams only its shard of the
training split. Rows received from the warehouse are counted per task."""

from __future__ import annotations

import numpy as np
import pytest

from mlkit.data import Warehouse
from mlkit.data.stream import ROWS_READ, rows_read
from mlkit.data.stream_constants import (
    streamed_from_constants,
    text_sha256,
    wait_constants,
    write_constants,
)
from mlkit.data.streamed import scan_splits
from mlkit.errors import DataError
from mlkit.search.cluster import ClusterTask
from tests.data.test_data_tabular import churn

ARGS = dict(label="churned", features=None, key="id", eval_fraction=0.1, test_fraction=0.2)
CLUSTER = {"chief": 1, "worker": 2, "ps": 1}


def _rows(batches) -> np.ndarray:
    """Each row as one float vector (label, then features by name), sorted: a multiset."""
    rows = [
        np.column_stack([labels, *(f[n] for n in sorted(f))]).astype(np.float64)
        for f, labels in batches
    ]
    out = np.concatenate(rows) if rows else np.zeros((0, 0))
    return out[np.lexsort(out.T)] if len(out) else out


def test_tasks_read_each_training_row_once_and_only_the_chief_scans(
    warehouse: Warehouse, tmp_path
) -> None:
    warehouse.write_table("churn", churn(300))
    sha = text_sha256("[experiment]\nname = 'churn'\n")
    ROWS_READ.rows = 0
    chief = scan_splits(warehouse, "churn", batch_rows=64, **ARGS)
    scanned = rows_read()
    assert scanned == sum(chief.rows().values()) == 300  # the one full scan, by the chief
    write_constants(tmp_path, chief, experiment_sha256=sha)
    whole = _rows(chief.train.batches())  # what one pass over the training split holds

    tasks = [ClusterTask("chief", 0, CLUSTER)] + [ClusterTask("worker", i, CLUSTER) for i in (0, 1)]
    per_task, parts = {}, []
    for task in tasks:
        before = rows_read()
        if task.is_chief:
            data = chief
        else:
            found = wait_constants(tmp_path, experiment_sha256=sha, timeout_s=5)
            data = streamed_from_constants(warehouse, "churn", found, batch_rows=64)
            assert rows_read() == before  # a worker reads no row to start
            assert data.columns == chief.columns and data.classes == chief.classes
            assert data.rows() == chief.rows() and data.n_classes == chief.n_classes
            for name, mean in chief.train.mean.items():
                np.testing.assert_array_equal(data.train.mean[name], mean)
                np.testing.assert_array_equal(data.train.std[name], chief.train.std[name])
        data.train.shard(*task.share())
        start = rows_read()
        parts.append(_rows(data.train.batches()))  # one pass over its shard
        per_task[task.name] = rows_read() - start
    # Together one pass over the training split: every row once, none twice.
    assert sum(per_task.values()) == chief.train.rows
    assert all(n > 0 for n in per_task.values()), per_task
    together = np.concatenate(parts)
    np.testing.assert_array_equal(together[np.lexsort(together.T)], whole)


def test_a_worker_waits_for_this_experiments_constants(local_warehouse, tmp_path) -> None:
    local_warehouse.write_table("churn", churn())
    data = scan_splits(local_warehouse, "churn", **ARGS)
    write_constants(tmp_path, data, experiment_sha256=text_sha256("old"))
    with pytest.raises(DataError, match="the chief wrote no statistics of the streamed source"):
        wait_constants(tmp_path, experiment_sha256=text_sha256("new"), timeout_s=0.2, poll_s=0.05)
