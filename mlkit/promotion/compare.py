"""Metrics of a SavedModel on evaluation arrays, and the decision between two versions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

LOWER_IS_BETTER = {"loss", "rmse", "mae"}


def evaluate_saved_model(
    path: Path, features: dict[str, np.ndarray], labels: np.ndarray, task: str
) -> dict[str, float]:
    """Load the SavedModel and compute the task's metrics on these rows (imports TensorFlow)."""
    from mlkit.savedmodel import SavedModelRunner

    outputs = SavedModelRunner(path).predict_arrays(features)
    return metrics_from_outputs(outputs, labels, task)


def metrics_from_outputs(
    outputs: dict[str, Any], labels: np.ndarray, task: str
) -> dict[str, float]:
    if task == "regression":
        predicted = np.asarray(outputs["predictions"], dtype=np.float64).reshape(-1)
        errors = predicted - labels.astype(np.float64).reshape(-1)
        return {
            "rmse": float(np.sqrt(np.mean(errors**2))),
            "mae": float(np.mean(np.abs(errors))),
            "loss": float(np.mean(errors**2)),
        }
    probabilities = np.asarray(outputs["probabilities"], dtype=np.float64)
    truth = labels.astype(np.int64).reshape(-1)
    if probabilities.shape[1] == 1:  # a binary head may give P(class 1) alone
        probabilities = np.hstack([1.0 - probabilities, probabilities])
    picked = probabilities[np.arange(len(truth)), truth]
    return {
        "accuracy": float(np.mean(probabilities.argmax(axis=1) == truth)),
        "loss": float(-np.mean(np.log(np.clip(picked, 1e-12, 1.0)))),
    }


@dataclass(frozen=True)
class Decision:
    passed: bool
    reason: str
    metric: str
    candidate_value: float
    baseline_value: float | None

    @property
    def delta(self) -> float | None:
        if self.baseline_value is None:
            return None
        return self.candidate_value - self.baseline_value


def decide(
    metric: str,
    candidate: dict[str, float],
    baseline: dict[str, float] | None,
    *,
    min_improvement: float = 0.0,
    baseline_version: int | None = None,
) -> Decision:
    """The candidate wins when it beats the baseline by more than ``min_improvement``.

    A tie does not win: the deployed version stays, so equal models do not churn the endpoint.
    """
    value = candidate[metric]
    if baseline is None:
        return Decision(True, "nothing is deployed yet", metric, value, None)
    base = baseline[metric]
    lower = metric in LOWER_IS_BETTER
    gain = (base - value) if lower else (value - base)
    against = f"version {baseline_version}" if baseline_version is not None else "the baseline"
    if gain > min_improvement:
        return Decision(
            True, f"{metric} {value:.4f} beats {base:.4f} of {against}", metric, value, base
        )
    if gain == 0:
        why = f"{metric} {value:.4f} equals {base:.4f} of {against}; a candidate must beat it"
    elif gain < 0:
        why = f"{metric} {value:.4f} is worse than {base:.4f} of {against}"
    else:
        why = (
            f"{metric} {value:.4f} improves on {base:.4f} of {against} by {gain:.4f}, "
            f"not more than the required {min_improvement:g}"
        )
    return Decision(False, why, metric, value, base)
