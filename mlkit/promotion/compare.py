"""One SavedModel's metrics on evaluation arrays (a shortcut over ``evaluate`` and ``metrics``).

The champion/challenger comparison itself is ``mlkit.workflows.promote.compare``: it evaluates both
versions on the same rows and hands them to ``mlkit.promotion.verdict.judge``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mlkit.promotion.metrics import predictions_from_outputs, quality_metrics


def metrics_from_outputs(
    outputs: dict[str, Any], labels: np.ndarray, task: str, classes: list[str] | None = None
) -> dict[str, float]:
    """The task's quality metrics from a signature's outputs (``classes``: the class names,
    which the per-class metrics then use)."""
    return quality_metrics(predictions_from_outputs(outputs, task, classes), np.asarray(labels))


def evaluate_saved_model(
    path: Path, features: dict[str, np.ndarray], labels: np.ndarray, task: str
) -> dict[str, float]:
    """Load the SavedModel and compute the task's metrics on these rows (imports TensorFlow)."""
    from mlkit.savedmodel import SavedModelRunner

    runner = SavedModelRunner(path)
    outputs = runner.predict_arrays(features)
    return metrics_from_outputs(outputs, labels, task, runner.classes)
