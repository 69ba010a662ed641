"""The exported SavedModel: `serving_default` on raw stored values, predictions equal to the
estimator's (classification with a CNN on the stored pixel list, and regression)."""

from __future__ import annotations

import numpy as np
import pytest

from mlkit.data import Arrays
from mlkit.experiment import SearchSpec

pytestmark = pytest.mark.slow


def digits_split(rows: slice) -> Arrays:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    pixels = bunch.data.astype(np.float32)[rows]  # 0..16 as stored, not scaled
    return Arrays(features={"pixels": pixels}, labels=bunch.target[rows])


def estimator_outputs(result, features, key):
    from mlkit.search.inputs import input_fn

    rows = Arrays(features, np.zeros(len(next(iter(features.values())))))
    predict_fn = input_fn(rows, task="classification", batch_size=64, training=False)

    def only_features():
        return predict_fn().map(lambda x, _y: x)

    return np.stack([p[key] for p in result.estimator.predict(only_features)])


def test_cnn_and_dnn_ensemble_serves_raw_pixels_like_the_estimator(tmp_path):
    import tensorflow as tf

    from mlkit.savedmodel import SavedModelRunner
    from mlkit.search.runner import run_search

    spec = SearchSpec(
        generator=["cnn", "dnn"],
        image_shape=(8, 8),
        image_scale=16.0,
        cnn_filters=4,
        cnn_max_blocks=1,
        layer_size=8,
        iterations=1,
        steps_per_iteration=30,
        batch_size=32,
    )
    test = digits_split(slice(1500, 1600))
    result = run_search(
        spec,
        digits_split(slice(0, 1200)),
        digits_split(slice(1200, 1500)),
        test,
        n_classes=10,
        model_dir=tmp_path / "run",
    )
    loaded = tf.saved_model.load(str(result.export_dir))
    # numbers as stored: serving_default takes floats, like `features` (the decoded arrays)
    assert set(loaded.signatures) == {"serving_default", "predict", "features"}
    serving = loaded.signatures["serving_default"]
    inputs = serving.structured_input_signature[1]
    assert list(inputs) == ["pixels"] and inputs["pixels"].shape.as_list() == [None, 64]
    served = serving(pixels=tf.constant(test.features["pixels"]))["probabilities"].numpy()
    expected = estimator_outputs(result, test.features, "probabilities")
    np.testing.assert_allclose(served, expected, rtol=1e-5, atol=1e-6)
    decoded = loaded.signatures["features"](pixels=tf.constant(test.features["pixels"]))
    np.testing.assert_allclose(decoded["probabilities"].numpy(), expected, rtol=1e-5, atol=1e-6)
    # The local endpoint's loader picks the same signature.
    runner = SavedModelRunner(result.export_dir)
    assert runner.signature_name == "serving_default"
    assert runner.input_spec == {"pixels": (64,)}


def test_regression_head_exports_predictions_equal_to_the_estimator(tmp_path):
    import tensorflow as tf

    from mlkit.search.runner import run_search

    rng = np.random.default_rng(0)

    def split(n):
        x = rng.normal(size=(n, 3)).astype(np.float32) * 10 + 50
        y = (x @ np.array([0.5, -1.0, 2.0]) + 3).astype(np.float32)
        return Arrays(features={"x": x}, labels=y)

    spec = SearchSpec(
        task="regression",
        generator=["linear", "dnn"],
        layer_size=8,
        iterations=1,
        steps_per_iteration=40,
        batch_size=32,
        learning_rate=0.05,
    )
    test = split(64)
    result = run_search(spec, split(400), split(100), test, n_classes=0, model_dir=tmp_path / "r")
    assert "loss" in result.metrics and "average_loss" not in result.metrics
    serving = tf.saved_model.load(str(result.export_dir)).signatures["serving_default"]
    served = serving(x=tf.constant(test.features["x"]))["predictions"].numpy()
    np.testing.assert_allclose(
        served, estimator_outputs(result, test.features, "predictions"), rtol=1e-5, atol=1e-4
    )
