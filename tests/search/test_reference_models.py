"""scikit-learn reference models on the same split, and how the search's test metric compares."""

from __future__ import annotations

import numpy as np
import pytest

from mlkit.search.reference_models import (
    beats_reference_models,
    fit_in_new_process,
    fit_reference_models,
)
from tests.search.test_compat import blobs


def test_classification_reference_models_score_the_test_split():
    train, test = blobs(300, 0), blobs(100, 1)
    result = fit_reference_models(
        "classification", train.features, train.labels, test.features, test.labels
    )
    assert result["metric"] == "accuracy"
    assert set(result["models"]) == {
        "logistic_regression",
        "svc_rbf",
        "svc_rbf_unscaled",
        "random_forest",
    }
    assert result["value"] == max(m["accuracy"] for m in result["models"].values())
    assert result["models"][result["best"]]["accuracy"] == result["value"] > 0.9


def test_regression_reference_models_use_rmse_lower_is_better():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + 100
    result = fit_reference_models("regression", {"x": x[:150]}, y[:150], {"x": x[150:]}, y[150:])
    assert result["metric"] == "rmse"
    assert result["value"] == min(m["rmse"] for m in result["models"].values())
    assert result["models"]["ridge"]["rmse"] < 0.5


def test_equal_accuracy_counts_as_reaching_the_reference_despite_float32():
    reference = {"value": 139 / 145}
    assert beats_reference_models(
        "classification", {"accuracy": float(np.float32(139 / 145))}, reference
    )
    assert not beats_reference_models(
        "classification", {"accuracy": float(np.float32(138 / 145))}, reference
    )
    assert beats_reference_models("regression", {"loss": 4.0}, {"value": 2.0})  # rmse 2 == 2
    assert not beats_reference_models("regression", {"loss": 4.41}, {"value": 2.0})
    assert beats_reference_models("classification", {"accuracy": 1.0}, {}) is None


def _without_seconds(result):
    return {**result, "models": {n: {**m, "seconds": 0} for n, m in result["models"].items()}}


def test_the_fit_in_a_new_process_gives_the_same_answer_and_says_why_it_failed():
    train, test = blobs(120, 0), blobs(40, 1)
    args = ("classification", train.features, train.labels, test.features, test.labels)
    started = []
    result = fit_in_new_process(*args, seed=3, on_start=started.append)
    assert _without_seconds(result) == _without_seconds(fit_reference_models(*args, seed=3))
    assert len(started) == 1 and started[0].returncode == 0
    with pytest.raises(RuntimeError, match="the reference models failed"):
        fit_in_new_process("classification", train.features, train.labels[:5], {}, test.labels)
