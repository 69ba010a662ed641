"""`mlkit train` with `[data] stream = true`: the AdaNet search trains on a source streamed from
the warehouse, registers a version, and its splits hold the rows the in-memory load gives."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mlkit.compat import tomllib
from mlkit.config import load_settings
from mlkit.data.experiment_data import load_experiment_data
from mlkit.experiment import parse_experiment
from mlkit.registry import open_store

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_streamed_train_registers_a_version_on_the_same_splits(mlkit_home, cli):
    assert cli("data", "load", "digits").code == 0
    spec = REPO / "experiments" / "digits-stream.toml"
    result = cli("train", spec, "--iterations", "2", "--steps", "30", "--json")
    assert result.code == 0, result.err
    outcome = json.loads(result.out)
    assert outcome["run"]["status"] == "finished"
    assert outcome["version"]["version"] == 1 and outcome["version"]["model"] == "digits"
    assert outcome["metrics"]["accuracy"] > 0.3  # 60 steps: far better than chance (0.1)

    # The same rows per split as the in-memory path (the fingerprint counts them as it streams).
    raw = tomllib.loads(spec.read_text())
    raw["data"] = {
        k: v for k, v in raw["data"].items() if k not in ("shuffle_buffer", "sample_rows")
    }
    raw["data"]["stream"] = False
    settings = load_settings()
    loaded = load_experiment_data(parse_experiment(raw).data, settings)
    assert outcome["rows"] == {s: len(getattr(loaded, s)) for s in ("train", "eval", "test")}

    store = open_store(settings.registry_url, settings.artifacts_dir)
    run = store.get_run(outcome["run"]["id"])
    fingerprint = run.data_fingerprint
    assert fingerprint["streamed"] is True
    assert fingerprint["split_rows"] == loaded.fingerprint["split_rows"]
    assert fingerprint["rows"] == 1797
    stats = store.run_data_stats(run.id)
    assert stats["label"]["distribution"] == loaded.stats["label"]["distribution"]
    assert stats["features"]["pixels"]["mean"] == pytest.approx(
        loaded.stats["features"]["pixels"]["mean"], rel=1e-5
    )
    # The reference models fitted on a bounded sample, and the run report says so.
    sample = run.reference_models["sample"]
    assert sample["train_rows"] == min(5000, len(loaded.train)) == sample["of_train_rows"]
    assert run.reference_models["models"]["logistic_regression"]["accuracy"] > 0.8
    shown = cli("runs", "show", str(run.id))
    assert shown.code == 0 and "sample" in shown.out, shown.out

    # The registered SavedModel serves raw pixels and agrees with the test metric's ballpark.
    import tensorflow as tf

    version = store.get_version("digits", 1)
    model = tf.saved_model.load(str(store.artifact_path(version)))
    serve = model.signatures["serving_default"]
    got = serve(pixels=tf.constant(loaded.test.features["pixels"]))
    predicted = np.asarray(next(v for k, v in got.items() if k == "class_ids")).reshape(-1)
    accuracy = float(np.mean(predicted == loaded.test.labels))
    assert accuracy == pytest.approx(outcome["metrics"]["accuracy"], abs=1e-6)


def test_stream_options_need_stream(mlkit_home, cli, tmp_path):
    spec = tmp_path / "x.toml"
    spec.write_text(
        '[experiment]\nname = "x"\n[data]\nsource = "digits"\nlabel = "label"\n'
        "shuffle_buffer = 100\n"
    )
    result = cli("train", spec)
    assert result.code == 2
    assert (
        "data.shuffle_buffer: only applies with stream = true (set it, or remove this key) "
        "(got 100)" in result.err
    )
    # A run's stored experiment (every key, defaults included) parses again, as --resume does it.
    plain = parse_experiment(
        {"experiment": {"name": "x"}, "data": {"source": "digits", "label": "label"}}
    )
    assert parse_experiment(plain.model_dump(mode="json")).data.stream is False
