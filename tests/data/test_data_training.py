"""Training data is one type: the in-memory load and the streamed pass both implement
``TrainingData`` / ``TrainingSplit``, and the search's input function takes either."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from mlkit.data import LocalWarehouse, TrainingData, TrainingSplit, load_splits
from mlkit.data.streamed import scan_splits

ARGS = dict(label="label", features=None, key="id", eval_fraction=0.2, test_fraction=0.2)


def _sources(tmp_path):
    warehouse = LocalWarehouse(tmp_path / "w.duckdb")
    rng = np.random.default_rng(1)
    n = 500
    warehouse.write_table(
        "t",
        pa.table(
            {
                "id": pa.array(np.arange(n)),
                "label": pa.array(rng.integers(0, 3, n)),
                "x": pa.array(rng.normal(5.0, 2.0, n)),
            }
        ),
    )
    loaded = load_splits(warehouse, "t", **ARGS)
    streamed = scan_splits(warehouse, "t", sample_rows=40, **ARGS)
    return loaded, streamed


def test_both_kinds_are_training_data_with_the_same_rows(tmp_path):
    loaded, streamed = _sources(tmp_path)
    for data in (loaded, streamed):
        assert isinstance(data, TrainingData)
        assert all(isinstance(s, TrainingSplit) for s in (data.train, data.eval, data.test))
        assert data.storage_forms() == {"x": "scalar"}
    assert loaded.rows() == streamed.rows() and sum(loaded.rows().values()) == 500
    # a baseline fits on every row in memory, on a bounded sample when streamed
    assert loaded.train.reference_rows() is loaded.train and loaded.sample_note() is None
    assert len(streamed.train.reference_rows()) == 40 < len(streamed.train)
    note = streamed.sample_note()
    assert note is not None and note["train_rows"] == 40
    assert note["of_train_rows"] == len(loaded.train)
    # the rows the search reads normalisation constants from agree
    for data in (loaded, streamed):
        np.testing.assert_allclose(
            data.train.features["x"].mean(), loaded.train.features["x"].mean(), rtol=1e-6
        )
    streamed.close()


def test_the_search_input_function_takes_either_kind(tmp_path):
    from mlkit.search.inputs import input_fn

    loaded, streamed = _sources(tmp_path)
    seen = {}
    for name, data in (("loaded", loaded), ("streamed", streamed)):
        batches = list(input_fn(data.test, task="classification", batch_size=32, training=False)())
        labels = np.concatenate([y.numpy() for _, y in batches])
        assert labels.shape == (len(data.test), 1) and labels.dtype == np.int64
        seen[name] = sorted(labels[:, 0].tolist())
        first = next(iter(input_fn(data.train, task="regression", batch_size=8, training=True)()))
        assert first[1].shape == (8, 1) and first[1].dtype.name == "float32"
    assert seen["loaded"] == seen["streamed"] == sorted(loaded.test.labels.tolist())
    streamed.close()
