"""Metrics from a model's outputs, checked against scikit-learn and hand-worked values."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import log_loss, mean_absolute_error, recall_score, roc_auc_score

from mlkit.errors import ServingError
from mlkit.promotion.compare import metrics_from_outputs
from mlkit.promotion.metrics import (
    Predictions,
    improvement,
    infer_task,
    predictions_from_outputs,
    quality_metrics,
    slice_metrics,
)


def test_binary_metrics_match_scikit_learn():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 300)
    p1 = np.clip(labels * 0.3 + rng.random(300) * 0.7, 0.01, 0.99)
    p1[:20] = 0.5  # ties, which the AUC counts half
    probs = np.stack([1 - p1, p1], axis=1)
    m = quality_metrics(Predictions("classification", probabilities=probs), labels)
    assert m["accuracy"] == pytest.approx(np.mean(probs.argmax(1) == labels))
    assert m["loss"] == pytest.approx(log_loss(labels, probs))
    assert m["auc"] == pytest.approx(roc_auc_score(labels, p1))
    assert m["recall_1"] == pytest.approx(recall_score(labels, probs.argmax(1)))
    assert m["recall_0"] == pytest.approx(recall_score(1 - labels, 1 - probs.argmax(1)))


def test_multiclass_has_per_class_recall_and_no_auc():
    probs = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])
    labels = np.array([0, 1, 1, 2])
    m = metrics_from_outputs({"probabilities": probs}, labels, "classification")
    assert "auc" not in m
    assert (m["recall_0"], m["recall_1"], m["recall_2"]) == (1.0, 0.5, 1.0)
    assert m["accuracy"] == 0.75
    assert m["loss"] == pytest.approx(-np.mean(np.log([0.8, 0.8, 0.3, 0.8])))


def test_a_single_probability_column_is_p_of_class_one():
    pred = predictions_from_outputs({"probabilities": np.array([[0.9], [0.2]])}, "classification")
    np.testing.assert_allclose(pred.probabilities, [[0.1, 0.9], [0.8, 0.2]])


def test_regression_metrics():
    labels = np.array([1.0, 3.0, 4.0, 10.0])
    predicted = np.array([[1.0], [2.0], [4.0], [7.0]])
    m = metrics_from_outputs({"predictions": predicted}, labels, "regression")
    assert m == {
        "rmse": pytest.approx(np.sqrt(10 / 4)),
        "mae": pytest.approx(mean_absolute_error(labels, predicted[:, 0])),
    }


def test_slices_get_their_own_metrics():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    labels = np.array([0, 1, 1, 1])
    slices = np.array(["a", "a", "b", "b"], dtype=object)
    out = slice_metrics(Predictions("classification", probabilities=probs), labels, slices)
    assert out["a"]["rows"] == 2 and out["a"]["accuracy"] == 1.0
    assert out["b"]["rows"] == 2 and out["b"]["accuracy"] == 0.5


def test_improvement_knows_which_way_is_better():
    assert improvement("accuracy", 0.9, 0.8) == pytest.approx(0.1)
    assert improvement("rmse", 0.9, 0.8) == pytest.approx(-0.1)
    assert improvement("latency_ms", 5.0, 10.0) == pytest.approx(5.0)


def test_the_task_comes_from_the_signature_or_the_outputs():
    assert infer_task({"predictions": 1}, "classification") == "classification"
    assert infer_task({"probabilities": 1}) == "classification"
    assert infer_task({"predictions": 1}) == "regression"
    with pytest.raises(ServingError, match="cannot tell the model's task from its outputs"):
        infer_task({"logits": 1})


def test_class_names_name_recalls_slices_and_the_confusion():
    from mlkit.promotion.metrics import class_keys, confusion, named_metric

    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.4, 0.6]])
    labels = np.array([0, 1, 1, 1])
    pred = predictions_from_outputs({"probabilities": probs}, "classification", ["no", "yes"])
    m = quality_metrics(pred, labels)
    assert (m["recall_no"], m["recall_yes"]) == (1.0, pytest.approx(2 / 3))
    assert not any(k in m for k in ("recall_0", "recall_1"))
    by_region = slice_metrics(pred, labels, np.array(["eu", "eu", "us", "us"]))
    assert by_region["us"]["recall_yes"] == 0.5 and by_region["eu"]["recall_no"] == 1.0
    assert confusion(pred, labels) == {"classes": ["no", "yes"], "matrix": [[1, 0], [1, 2]]}
    assert class_keys(["a b", "c/d"], 2) == ["a_b", "c_d"]
    assert class_keys(["a b", "a/b"], 2) == ["0", "1"]  # would read the same: ids
    assert named_metric("recall_1", ("no", "yes")) == "recall_yes"
    assert named_metric("recall_7", ("no", "yes")) == "recall_7"
    assert named_metric("accuracy", ("no", "yes")) == "accuracy"
    ids = quality_metrics(
        predictions_from_outputs({"probabilities": probs}, "classification"), labels
    )
    assert "recall_1" in ids  # integer classes keep their ids
