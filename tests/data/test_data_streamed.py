"""Streamed splits (``[data] stream = true``): the same rows, statistics and normalisation
constants as the in-memory load, from one pass that never holds the table."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pyarrow as pa
import pytest

from mlkit.data import LocalWarehouse, Warehouse, load_splits
from mlkit.data.ingest import pixels_column
from mlkit.data.stream_summaries import RunningMoments
from mlkit.data.streamed import scan_splits
from mlkit.data.validation import LabelValuesError
from mlkit.errors import DataError


def _table(rows: int, width: int, form: str = "bytes", seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(rows, width))
    return pa.table(
        {
            "id": pa.array(np.arange(rows, dtype=np.int64)),
            "label": pa.array(rng.integers(0, 3, size=rows)),
            "size": pa.array(rng.normal(50.0, 7.0, size=rows)),
            "pixels": pixels_column(pixels, form),
        }
    )


def _both(warehouse: Warehouse, table: str = "t", **kwargs):
    args = dict(label="label", features=None, key="id", eval_fraction=0.15, test_fraction=0.2)
    args.update(kwargs)
    loaded = load_splits(warehouse, table, **args)
    streamed = scan_splits(warehouse, table, batch_rows=97, **args)
    return loaded, streamed


def test_streamed_splits_hold_the_loaded_rows(warehouse: Warehouse) -> None:
    warehouse.write_table("t", _table(700, 6, form="string"))
    loaded, streamed = _both(warehouse)
    assert streamed.feature_specs == loaded.feature_specs
    assert streamed.label_values == loaded.label_values == [0, 1, 2]
    for split in ("train", "eval", "test"):
        want = getattr(loaded, split)
        got = getattr(streamed, split)
        assert len(got) == len(want) > 0
        batches = list(got.batches())
        keys_of = {}
        for features, labels in batches:
            assert len(features["pixels"]) <= 97
            for values, size, label in zip(
                features["pixels"], features["size"], labels, strict=True
            ):
                keys_of[(tuple(values.tolist()), float(size))] = int(label)
        expected = {
            (tuple(values.tolist()), float(size)): int(label)
            for values, size, label in zip(
                want.features["pixels"], want.features["size"], want.labels, strict=True
            )
        }
        assert keys_of == expected
        # Small splits fit the sample whole: the baseline sees exactly the split's rows.
        assert len(got.sample) == len(want)
        assert sorted(got.sample.labels.tolist()) == sorted(want.labels.tolist())
    assert streamed.fingerprint["split_rows"] == loaded.fingerprint["split_rows"]
    same = {"rows", "schema", "features", "storage_forms", "split_method", "key", "label"}
    assert {k: streamed.fingerprint[k] for k in same} == {k: loaded.fingerprint[k] for k in same}


def test_statistics_and_normalisation_equal_the_in_memory_ones(
    local_warehouse: LocalWarehouse,
) -> None:
    local_warehouse.write_table("t", _table(2500, 5))
    loaded, streamed = _both(local_warehouse)
    for name in ("pixels", "size"):
        values = loaded.train.features[name].astype(np.float64)
        np.testing.assert_allclose(streamed.train.mean[name], values.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(streamed.train.std[name], values.std(axis=0), rtol=1e-10)
        # What the search reads from training arrays: shape, per-value mean and std.
        rows = streamed.train.features[name]
        assert rows.shape[1:] == loaded.train.features[name].shape[1:]
        np.testing.assert_allclose(rows.mean(axis=0), values.mean(axis=0), rtol=1e-9)
        np.testing.assert_allclose(rows.std(axis=0), values.std(axis=0), rtol=1e-9)
    want, got = loaded.stats, streamed.stats
    assert got["rows"] == want["rows"] == 2500
    assert got["label"] == want["label"]
    for name, summary in want["features"].items():
        for field in ("count", "missing", "min", "max", "values_per_row"):
            assert got["features"][name].get(field) == summary.get(field), (name, field)
        for field in ("mean", "std"):
            assert got["features"][name][field] == pytest.approx(summary[field], rel=1e-5)
        # Under SAMPLE_ROWS per split the histograms are of every row, as the loader's are.
        assert got["features"][name]["histogram"] == summary["histogram"]


def test_the_content_hash_ignores_row_order_and_storage_form(
    local_warehouse: LocalWarehouse,
) -> None:
    table = _table(400, 4)
    local_warehouse.write_table("a", table)
    local_warehouse.write_table("b", table.take(np.random.default_rng(1).permutation(400)))
    strings = table.set_column(
        3,
        "pixels",
        pixels_column(np.random.default_rng(0).integers(0, 256, size=(400, 4)), "string"),
    )
    local_warehouse.write_table("c", strings)
    changed = table.set_column(2, "size", pa.array(np.r_[99.0, table["size"].to_numpy()[1:]]))
    local_warehouse.write_table("d", changed)
    args = dict(label="label", features=None, key="id", eval_fraction=0.1, test_fraction=0.2)
    digests = {
        n: scan_splits(local_warehouse, n, **args).fingerprint["content_sha256"] for n in "abcd"
    }
    assert digests["a"] == digests["b"] == digests["c"]
    assert digests["d"] != digests["a"]
    other = scan_splits(local_warehouse, "a", **{**args, "test_fraction": 0.3})
    assert other.fingerprint["content_sha256"] != digests["a"]


def test_the_pass_never_holds_the_table(local_warehouse: LocalWarehouse) -> None:
    """numpy allocations are traced: the load holds the decoded table (at least), the streaming
    pass and a pass over the training split hold a small part of it."""
    rows, width = 30_000, 256
    for start in range(0, rows, 10_000):
        part = _table(10_000, width, seed=start).set_column(
            0, "id", pa.array(np.arange(start, start + 10_000, dtype=np.int64))
        )
        local_warehouse.write_table("big", part, replace=start == 0)
    decoded = rows * (width + 1) * 4
    args = dict(label="label", features=None, key="id", eval_fraction=0.1, test_fraction=0.2)

    def peak(fn) -> int:
        tracemalloc.start()
        try:
            fn()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    loaded_peak = peak(lambda: load_splits(local_warehouse, "big", **args))
    holder = {}
    scan_peak = peak(
        lambda: holder.setdefault(
            "data", scan_splits(local_warehouse, "big", sample_rows=500, batch_rows=1024, **args)
        )
    )
    train = holder["data"].train
    seen = []
    stream_peak = peak(lambda: seen.extend(len(y) for _, y in train.batches()))
    assert loaded_peak >= decoded
    assert scan_peak < decoded / 3, (scan_peak, decoded)
    assert stream_peak < decoded / 6, (stream_peak, decoded)
    assert sum(seen) == len(train) == holder["data"].fingerprint["split_rows"]["train"]
    assert max(seen) <= 1024


def test_streamed_validation_errors_are_one_line(local_warehouse: LocalWarehouse) -> None:
    table = _table(200, 3)
    bad = table.set_column(1, "label", pa.array(np.arange(200) % 3 + 1))
    local_warehouse.write_table("bad", bad)
    args = dict(label="label", features=None, key="id", eval_fraction=0.1, test_fraction=0.2)
    with pytest.raises(LabelValuesError) as info:
        scan_splits(local_warehouse, "bad", **args)
    assert str(info.value) == (
        "label column 'label' in table 'bad' has values 1, 2, 3; classification labels must be "
        "integers 0..K-1 with K >= 2"
    )
    local_warehouse.write_table("tiny", table.slice(0, 3))
    with pytest.raises(DataError, match=r"^split '(eval|test|train)' of table 'tiny' is empty"):
        scan_splits(local_warehouse, "tiny", **args)


def test_regression_targets_stream_with_their_scaling(local_warehouse: LocalWarehouse) -> None:
    table = _table(600, 2)
    target = pa.array(np.random.default_rng(3).normal(10.0, 4.0, size=600))
    local_warehouse.write_table("r", table.set_column(1, "label", target))
    loaded, streamed = _both(local_warehouse, "r", regression=True)
    labels = loaded.train.labels.astype(np.float64)
    np.testing.assert_allclose(streamed.train.labels.mean(), labels.mean(), rtol=1e-9)
    np.testing.assert_allclose(streamed.train.labels.std(), labels.std(), rtol=1e-9)
    got = np.concatenate([y for _, y in streamed.test.batches()])
    np.testing.assert_allclose(np.sort(got), np.sort(loaded.test.labels), rtol=1e-6)


def test_training_cycles_through_the_split_across_restarts(
    local_warehouse: LocalWarehouse,
) -> None:
    """AdaNet restarts its input every iteration: each restart continues where the last stopped,
    and the split is gone through whole, in order, before it starts again."""
    local_warehouse.write_table("t", _table(500, 2))
    args = dict(label="label", features=None, key="id", eval_fraction=0.1, test_fraction=0.2)
    train = scan_splits(local_warehouse, "t", batch_rows=64, **args).train
    everything = np.concatenate([f["size"] for f, _ in train.batches()])
    assert len(everything) == len(train)
    seen = []
    for take in (3, 2, 4, 5):  # batches per "iteration"
        stream = train.cycle()
        for _ in range(take):
            seen.append(next(stream)[0]["size"])
        stream.close()
    seen = np.concatenate(seen)
    assert len(seen) > len(everything)  # went round once and on
    # the split whole, in order, then again from its start (as often as the batches reach)
    rounds = -(-len(seen) // len(everything))
    np.testing.assert_array_equal(seen, np.tile(everything, rounds)[: len(seen)])


def test_running_moments_of_no_rows_are_a_data_error() -> None:
    moments = RunningMoments()
    moments.update(np.zeros((0, 3)))
    with pytest.raises(DataError, match=r"^no rows were summarised"):
        moments.mean  # noqa: B018 - the property raises
    with pytest.raises(DataError, match=r"^no rows were summarised"):
        moments.std  # noqa: B018
    moments.update(np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]))
    moments.update(np.array([[2.0, 2.0, 2.0]]))
    np.testing.assert_allclose(moments.mean, [2.0, 2.0, 2.0])
    np.testing.assert_allclose(moments.std, np.std([[1, 2, 3], [3, 2, 1], [2, 2, 2]], axis=0))
