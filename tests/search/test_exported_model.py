"""The exported SavedModel takes raw feature values: scaling lives inside the model."""

from __future__ import annotations

import numpy as np
import pytest

from mlkit.experiment import SearchSpec
from tests.search.test_compat import blobs

pytestmark = pytest.mark.slow


def test_saved_model_predicts_like_the_evaluation_on_raw_inputs(tmp_path):
    from mlkit.promotion.compare import evaluate_saved_model
    from mlkit.savedmodel import SavedModelRunner
    from mlkit.search.runner import run_search

    test = blobs(200, 5)
    spec = SearchSpec(iterations=1, steps_per_iteration=80, layer_size=16, batch_size=32)
    result = run_search(
        spec, blobs(600, 3), blobs(100, 4), test, n_classes=3, model_dir=tmp_path / "run"
    )
    runner = SavedModelRunner(result.export_dir)
    assert runner.input_spec == {"x": (4,)}
    outputs = runner.predict_arrays(test.features)
    assert outputs["probabilities"].shape == (200, 3)
    np.testing.assert_allclose(outputs["probabilities"].sum(axis=1), 1.0, rtol=1e-5)
    metrics = evaluate_saved_model(result.export_dir, test.features, test.labels, "classification")
    assert metrics["accuracy"] == pytest.approx(result.metrics["accuracy"], abs=1e-6)
    assert metrics["loss"] == pytest.approx(result.metrics["loss"], rel=1e-3)
