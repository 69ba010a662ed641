import numpy as np
import pytest

from mlkit.promotion import decide
from mlkit.promotion.compare import metrics_from_outputs


def test_classification_metrics_from_probabilities():
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    labels = np.array([0, 1, 1, 1])
    metrics = metrics_from_outputs({"probabilities": probabilities}, labels, "classification")
    assert metrics["accuracy"] == pytest.approx(0.75)
    expected_loss = -np.mean(np.log([0.9, 0.8, 0.4, 0.7]))
    assert metrics["loss"] == pytest.approx(expected_loss)


def test_regression_metrics():
    outputs = {"predictions": np.array([[1.0], [2.0], [4.0]])}
    metrics = metrics_from_outputs(outputs, np.array([1.0, 3.0, 4.0]), "regression")
    assert metrics["mae"] == pytest.approx(1 / 3)
    assert metrics["rmse"] == pytest.approx(np.sqrt(1 / 3))


def test_first_version_passes_without_baseline():
    decision = decide("accuracy", {"accuracy": 0.9}, None)
    assert decision.passed and decision.baseline_value is None


@pytest.mark.parametrize(
    ("candidate", "baseline", "passed", "words"),
    [
        (0.97, 0.95, True, "beats 0.9500 of version 1"),
        (0.95, 0.95, False, "equals 0.9500 of version 1; a candidate must beat it"),
        (0.90, 0.95, False, "is worse than 0.9500 of version 1"),
    ],
)
def test_accuracy_must_beat_the_deployed_version(candidate, baseline, passed, words):
    decision = decide(
        "accuracy", {"accuracy": candidate}, {"accuracy": baseline}, baseline_version=1
    )
    assert decision.passed is passed
    assert words in decision.reason
    assert decision.delta == pytest.approx(candidate - baseline)


def test_lower_is_better_for_loss():
    assert decide("loss", {"loss": 0.1}, {"loss": 0.2}).passed
    assert not decide("loss", {"loss": 0.3}, {"loss": 0.2}).passed


def test_min_improvement_is_required():
    decision = decide(
        "accuracy",
        {"accuracy": 0.951},
        {"accuracy": 0.95},
        min_improvement=0.01,
        baseline_version=2,
    )
    assert not decision.passed
    assert "not more than the required 0.01" in decision.reason
