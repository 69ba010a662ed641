"""A model's outputs on evaluation rows → the experiment's metrics, overall and per slice.

Classification: ``accuracy``, ``loss`` (log loss), ``auc`` (binary only) and a recall for each
class: ``recall_NAME`` for a model with class names (``recall_yes``; characters other than letters,
digits, ``_``, ``.`` and ``-`` become ``_``), ``recall_K`` for integer class ids (and where two
names would read the same); regression: ``rmse`` and ``mae``. Which way is better for each metric
is in ``LOWER_IS_BETTER``; ``latency_ms`` (per batch) and ``size_mb`` are measured elsewhere but
follow the same rules so that policies can name them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlkit.errors import ServingError

TASKS = ("classification", "regression")
LOWER_IS_BETTER = {"loss", "rmse", "mae", "latency_ms", "size_mb"}
METRIC_PATTERN = re.compile(
    r"^(accuracy|loss|auc|rmse|mae|latency_ms|size_mb|recall_[A-Za-z0-9_.\-]+)$"
)
_RECALL_ID = re.compile(r"^recall_(\d+)$")
DEFAULT_METRIC = {"classification": "accuracy", "regression": "rmse"}
_EPS = 1e-12


def lower_is_better(metric: str) -> bool:
    return metric in LOWER_IS_BETTER


def improvement(metric: str, candidate: float, baseline: float) -> float:
    """How much better the candidate is (positive: better), whichever way the metric points."""
    return baseline - candidate if lower_is_better(metric) else candidate - baseline


@dataclass
class Predictions:
    """One model's answers for the evaluation rows, in the rows' order."""

    task: str
    probabilities: np.ndarray | None = None  # (n, K) for classification
    values: np.ndarray | None = None  # (n,) for regression
    names: tuple[str, ...] | None = None  # class names of a model with text labels, by id

    def __len__(self) -> int:
        array = self.probabilities if self.task == "classification" else self.values
        return 0 if array is None else len(array)

    @property
    def classes(self) -> np.ndarray:
        assert self.probabilities is not None, "a regression has no classes"
        return self.probabilities.argmax(axis=1)


def infer_task(outputs: dict[str, Any], declared: str | None = None) -> str:
    """The task a version was built for: its registered signature says, else its outputs."""
    if declared in TASKS:
        return declared
    if "probabilities" in outputs:
        return "classification"
    if "predictions" in outputs:
        return "regression"
    raise ServingError(
        f"cannot tell the model's task from its outputs ({', '.join(sorted(outputs))}); "
        "expected 'probabilities' (classification) or 'predictions' (regression)"
    )


def class_keys(names: Sequence[str] | None, k: int) -> list[str]:
    """How metrics name each of ``k`` classes: the class names made metric-safe, or the ids
    (no names, too few, or two names that would read the same)."""
    ids = [str(i) for i in range(k)]
    if names is None or len(names) < k:
        return ids
    safe = [re.sub(r"[^A-Za-z0-9_.\-]", "_", str(n)) or "_" for n in names[:k]]
    return safe if len(set(safe)) == len(safe) else ids


def named_metric(metric: str, names: Sequence[str] | None) -> str:
    """``recall_K`` of a policy written with class ids, as a model with class names calls it
    (``recall_1`` → ``recall_yes``); any other metric as it is."""
    found = _RECALL_ID.match(metric)
    if found is None or not names:
        return metric
    k = int(found.group(1))
    keys = class_keys(names, len(names))
    return f"recall_{keys[k]}" if k < len(keys) else metric


def predictions_from_outputs(
    outputs: dict[str, Any], task: str, names: Sequence[str] | None = None
) -> Predictions:
    if task == "regression":
        if "predictions" not in outputs:
            raise ServingError("a regression model must output 'predictions'")
        values = np.asarray(outputs["predictions"], dtype=np.float64)
        return Predictions(task, values=values.reshape(len(values), -1)[:, 0])
    if "probabilities" not in outputs:
        raise ServingError("a classification model must output 'probabilities'")
    probabilities = np.asarray(outputs["probabilities"], dtype=np.float64)
    probabilities = probabilities.reshape(len(probabilities), -1)
    if probabilities.shape[1] == 1:  # a binary head may give P(class 1) alone
        probabilities = np.hstack([1.0 - probabilities, probabilities])
    return Predictions(
        task, probabilities=probabilities, names=None if names is None else tuple(names)
    )


def example_losses(pred: Predictions, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Per-example quantities whose means are the metrics (what the paired statistics resample)."""
    if pred.task == "regression":
        assert pred.values is not None
        errors: np.ndarray = pred.values - labels.astype(np.float64)
        return {"error": errors, "abs_error": np.abs(errors), "sq_error": errors**2}
    assert pred.probabilities is not None
    truth = labels.astype(np.int64)
    k = pred.probabilities.shape[1]
    inside = (truth >= 0) & (truth < k)
    picked = np.zeros(len(truth))
    picked[inside] = pred.probabilities[np.flatnonzero(inside), truth[inside]]
    return {
        "correct": (pred.classes == truth).astype(np.float64),
        "log_loss": -np.log(np.clip(np.nan_to_num(picked, nan=0.0), _EPS, 1.0)),
    }


def binary_auc(scores: np.ndarray, truth: np.ndarray) -> float | None:
    """Area under the ROC curve from ranks (ties count half); None without both classes."""
    from scipy.stats import rankdata

    positives = truth == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(scores)
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def quality_metrics(pred: Predictions, labels: np.ndarray) -> dict[str, float]:
    """The task's metrics on these rows (a slice passes its own rows)."""
    if len(labels) == 0:
        return {}
    per = example_losses(pred, labels)
    if pred.task == "regression":
        return {
            "rmse": float(np.sqrt(np.mean(per["sq_error"]))),
            "mae": float(np.mean(per["abs_error"])),
        }
    truth = labels.astype(np.int64)
    metrics = {
        "accuracy": float(np.mean(per["correct"])),
        "loss": float(np.mean(per["log_loss"])),
    }
    assert pred.probabilities is not None
    if pred.probabilities.shape[1] == 2:
        auc = binary_auc(pred.probabilities[:, 1], truth)
        if auc is not None:
            metrics["auc"] = auc
    classes = pred.classes
    keys = class_keys(pred.names, pred.probabilities.shape[1])
    for k in np.unique(truth).tolist():
        mask = truth == k
        key = keys[k] if 0 <= k < len(keys) else str(k)
        metrics[f"recall_{key}"] = float(np.mean(classes[mask] == k))
    return metrics


def confusion(pred: Predictions, labels: np.ndarray) -> dict[str, Any]:
    """``{"classes": [name or id, ...], "matrix": [[rows of true class i predicted j]]}``."""
    assert pred.probabilities is not None
    k = pred.probabilities.shape[1]
    truth = labels.astype(np.int64)
    inside = (truth >= 0) & (truth < k)
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (truth[inside], pred.classes[inside]), 1)
    names = list(pred.names[:k]) if pred.names and len(pred.names) >= k else None
    return {"classes": names or [str(i) for i in range(k)], "matrix": matrix.tolist()}


def slice_metrics(
    pred: Predictions, labels: np.ndarray, slices: np.ndarray | None
) -> dict[str, dict[str, float]]:
    """``{slice value: {"rows": n, metric: value, ...}}`` for each value of the slice column."""
    if slices is None:
        return {}
    out: dict[str, dict[str, float]] = {}
    for value in sorted(set(slices.tolist())):
        index = np.flatnonzero(slices == value)
        sub = _subset(pred, index)
        out[str(value)] = {"rows": int(index.size), **quality_metrics(sub, labels[index])}
    return out


def _subset(pred: Predictions, index: np.ndarray) -> Predictions:
    if pred.task == "regression":
        assert pred.values is not None
        return Predictions(pred.task, values=pred.values[index])
    assert pred.probabilities is not None
    return Predictions(pred.task, probabilities=pred.probabilities[index], names=pred.names)
