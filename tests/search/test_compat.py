"""AdaNet 0.9.0 on TensorFlow 2.15: the shim's two fixes, and a real search that needs both."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from mlkit.data import Arrays
from mlkit.experiment import SearchSpec
from mlkit.search.compat import apply


def test_graph_view_alias_points_at_the_moved_module():
    apply()
    from tensorflow.python.checkpoint import graph_view
    from tensorflow.python.training.tracking import graph_view as old  # the import AdaNet does

    assert old is graph_view
    assert sys.modules["tensorflow.python.training.tracking.graph_view"] is graph_view


def test_report_accessor_gets_float_without_touching_numpy():
    apply()
    from adanet.core import report_accessor

    assert report_accessor.np.float is float
    assert report_accessor.np.integer is np.integer
    assert not hasattr(np, "float"), "the real numpy must stay as numpy 1.24+ made it"


def blobs(n: int, seed: int) -> Arrays:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=n)
    centres = np.array([[0, 0, 0, 0], [3, 3, 0, 0], [0, 3, 3, 3]], dtype=np.float32)
    x = centres[labels] + rng.normal(0, 0.7, size=(n, 4)).astype(np.float32)
    return Arrays(features={"x": x * 10 + 5}, labels=labels)


@pytest.mark.slow
def test_two_iteration_search_with_reports_trains_exports_and_evaluates(tmp_path):
    from mlkit.search.runner import run_search

    spec = SearchSpec(iterations=2, steps_per_iteration=60, layer_size=16, batch_size=32)
    steps = []
    result = run_search(
        spec,
        blobs(600, 0),
        blobs(150, 1),
        blobs(150, 2),
        n_classes=3,
        model_dir=tmp_path / "run",
        on_progress=steps.append,
    )
    assert result.metrics["accuracy"] > 0.9
    assert (result.export_dir / "saved_model.pb").is_file()
    # Iteration 1 restored iteration 0's checkpoint (graph_view) and reports were materialised
    # (np.float): both crash without the shim.
    assert result.architecture["iterations"] == 2
    assert result.architecture["subnetworks"]
    iterations = result.report["iterations"]
    assert iterations and iterations[0]["iteration"] == 0
    names = [c["name"] for c in iterations[0]["candidates"]]
    assert names == ["dnn_1x16", "dnn_2x16"]
    assert (steps[-1].global_step, steps[-1].total_steps) == (120, 120)
    assert (steps[-1].iteration, steps[-1].step) == (1, 60)
    assert steps[-1].best_metric[0] == "accuracy"  # from iteration 0's candidates
    assert (tmp_path / "run" / "eval_test").is_dir(), "TensorBoard events for the test split"
