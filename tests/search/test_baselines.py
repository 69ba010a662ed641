"""scikit-learn baselines on the same split, and the comparison with the search's test metric."""

from __future__ import annotations

import numpy as np

from mlkit.search.baselines import beats_baseline, fit_baselines
from tests.search.test_compat import blobs


def test_classification_baselines_score_the_test_split():
    train, test = blobs(300, 0), blobs(100, 1)
    result = fit_baselines(
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


def test_regression_baselines_use_rmse_lower_is_better():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + 100
    result = fit_baselines("regression", {"x": x[:150]}, y[:150], {"x": x[150:]}, y[150:])
    assert result["metric"] == "rmse"
    assert result["value"] == min(m["rmse"] for m in result["models"].values())
    assert result["models"]["ridge"]["rmse"] < 0.5


def test_equal_accuracy_counts_as_reaching_the_baseline_despite_float32():
    baseline = {"value": 139 / 145}
    assert beats_baseline("classification", {"accuracy": float(np.float32(139 / 145))}, baseline)
    assert not beats_baseline(
        "classification", {"accuracy": float(np.float32(138 / 145))}, baseline
    )
    assert beats_baseline("regression", {"average_loss": 4.0}, {"value": 2.0})  # rmse 2 == 2
    assert not beats_baseline("regression", {"average_loss": 4.41}, {"value": 2.0})
    assert beats_baseline("classification", {"accuracy": 1.0}, {}) is None
