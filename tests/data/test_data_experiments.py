"""The data experiments in experiments/ parse, and the BigQuery one loads from the emulator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlkit.config import load_settings
from mlkit.data import BigQueryConfig, BigQueryWarehouse, load_dataset
from mlkit.data.experiment_data import experiment_source, load_experiment_data
from mlkit.errors import SpecError
from mlkit.experiment import load_experiment, parse_experiment

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


def test_mnist_string_experiment_parses() -> None:
    experiment, _ = load_experiment(EXPERIMENTS / "mnist-string.toml")
    assert experiment.data.source == "mnist_string"
    assert experiment.data.features[0].shape == (784,)


def test_digits_bigquery_experiment_loads_from_the_emulator(mlkit_home, bq_env) -> None:
    experiment, _ = load_experiment(EXPERIMENTS / "digits-bigquery.toml")
    warehouse = BigQueryWarehouse(BigQueryConfig(dataset="mlkit_demo"))
    load_dataset("digits", warehouse, "digits", pixels_form="string")
    data = load_experiment_data(experiment.data, load_settings())
    assert data.n_classes == 6 and data.label_values == list(range(6))
    assert data.train.features["pixels"].shape[1:] == (8, 8)
    ids = np.concatenate([p.extras["id"] for p in (data.train, data.eval, data.test)])
    assert len(ids) == data.fingerprint["rows"] == 1083
    assert data.fingerprint["params"] == {"classes": 6}
    assert data.fingerprint["source"] == "BigQuery test.mlkit_demo at " + bq_env.endpoint


def test_data_section_errors() -> None:
    base = {"experiment": {"name": "x"}, "data": {"source": "t", "label": "label"}}
    with pytest.raises(SpecError, match=r"data.backend: must be 'local' or 'bigquery'"):
        parse_experiment({**base, "data": {**base["data"], "backend": "oracle"}})
    with pytest.raises(SpecError, match=r"data.params"):
        parse_experiment({**base, "data": {**base["data"], "params": {"a": {"b": 1}}}})
    spec = parse_experiment({**base, "data": {**base["data"], "params": {"a": 1}}}).data
    from mlkit.errors import DataError

    with pytest.raises(DataError, match=r"^params apply to a SQL source, not to a table$"):
        experiment_source(spec, load_settings("/tmp"))
