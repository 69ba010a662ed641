"""Binary and multi-class heads, the AutoEnsemble pool of canned estimators, several ensemblers
and strategies in one search (boosted trees in the pool: test_boosted_trees.py)."""

from __future__ import annotations

import numpy as np
import pytest

from mlkit.data import Arrays
from mlkit.errors import SpecError
from mlkit.experiment import SearchSpec

pytestmark = pytest.mark.slow


def binary(n: int, seed: int) -> Arrays:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=n)
    x = rng.normal(0, 1, size=(n, 5)).astype(np.float32) + labels[:, None] * 1.5
    return Arrays(features={"x": x * 100 + 7}, labels=labels)


def test_auto_ensemble_pool_with_a_binary_head(tmp_path):
    from mlkit.search.runner import run_search

    spec = SearchSpec(
        method="auto_ensemble",
        iterations=1,
        steps_per_iteration=60,
        batch_size=32,
        learning_rate=0.01,
    )
    result = run_search(
        spec,
        binary(400, 0),
        binary(100, 1),
        binary(100, 2),
        n_classes=2,
        model_dir=tmp_path / "run",
    )
    assert "auc" in result.metrics  # the binary head's metrics
    assert result.metrics["accuracy"] > 0.8
    (iteration,) = result.report["iterations"]
    names = {c["name"] for c in iteration["candidates"]}
    assert names == {"dnn", "linear"}
    assert sum(c["joined_ensemble"] for c in iteration["candidates"]) >= 1
    assert result.architecture["subnetworks"][0] in names


def test_mean_and_complexity_ensemblers_with_all_and_solo_strategies(tmp_path):
    from mlkit.search.runner import run_search
    from tests.search.test_compat import blobs

    spec = SearchSpec(
        generator=["linear", "dnn"],
        layer_size=8,
        max_width=16,
        ensembler=["complexity_regularized", "mean"],
        strategy=["all", "solo"],
        complexity_lambda=0.01,
        complexity_beta=0.001,
        iterations=2,
        steps_per_iteration=40,
        batch_size=32,
    )
    result = run_search(
        spec, blobs(300, 0), blobs(100, 1), blobs(100, 2), n_classes=3, model_dir=tmp_path / "r"
    )
    assert result.metrics["accuracy"] > 0.8
    ensembles = set(result.report["curves"])
    assert any(name.endswith("_all_complexity_regularized") for name in ensembles)
    assert any(name.endswith("_solo_mean") for name in ensembles)
    # iteration 0 proposes linear and DNNs of (depth, width) (1, 8), (2, 8), (1, 16)
    first = {c["name"] for c in result.report["iterations"][0]["candidates"]}
    assert first == {"linear", "dnn_1x8", "dnn_2x8", "dnn_1x16"}
    # iteration 1's graph was grown by its own training session (mlkit.search.growing): no
    # checkpoint of a growing phase, and the previous ensemble's subnetworks keep what they
    # learnt in iteration 0 (restored, not initialised again: their step counters say 40)
    import tensorflow as tf

    assert not list((tmp_path / "r").glob("increment.ckpt*"))
    final = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(tmp_path / "r")))
    steps = [
        int(final.get_tensor(name))
        for name in final.get_variable_to_shape_map()
        if name.startswith("adanet/iteration_0/subnetwork_") and name.endswith("/step")
    ]
    assert steps and set(steps) == {40}
    assert int(final.get_tensor("current_iteration")) == 1


def test_cnn_without_an_image_shape_is_a_spec_error(tmp_path):
    from mlkit.search.runner import run_search

    spec = SearchSpec(generator="cnn")
    with pytest.raises(SpecError, match="search.image_shape: required by the cnn generator"):
        run_search(
            spec,
            binary(50, 0),
            binary(20, 1),
            binary(20, 2),
            n_classes=2,
            model_dir=tmp_path / "run",
        )
