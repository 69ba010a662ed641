"""The final ensemble's test metrics, measured on its exported SavedModel.

AdaNet's ``evaluate`` rebuilds the whole iteration's graph (every candidate) to score one
ensemble: seconds of graph building for milliseconds of arithmetic on a small test split. When the
test split is in memory, mlkit instead runs the SavedModel it has just exported (the very model
the registry will hold) over the test rows and computes the same quantities as the Estimator's
heads, under mlkit's names (``mlkit.quantities``):

- classification: ``accuracy``; ``loss``, the mean per-example cross-entropy; for two classes
  also ``auc`` (exact, where the Estimator's is a 200-threshold approximation), ``precision`` and
  ``recall`` of class 1 at probability 0.5;
- regression: ``loss``, the mean squared error.

A tabular model's SavedModel takes raw rows (text, NULLs) on ``serving_default``; its
``features`` signature takes the features as the loader gives them (the test split's), so it is
the one run here. A streamed test split (rows not in memory) keeps the Estimator's evaluation.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mlkit.data.training import TrainingSplit
from mlkit.savedmodel import COLUMNS_FILE, FEATURES_SIGNATURE, SavedModelRunner


def in_memory(test: TrainingSplit) -> bool:
    """Whether every test row is in memory (not a streamed split's sample)."""
    return len(test.reference_rows()) == len(test)


def saved_model_metrics(export_dir: Path, test: TrainingSplit, task: str) -> dict[str, float]:
    """The test metrics of the SavedModel at ``export_dir`` on every row of ``test``."""
    rows = test.reference_rows()  # every row (in_memory)
    if (Path(export_dir) / COLUMNS_FILE).exists():  # a tabular model: its features signature
        outputs = _features_outputs(export_dir, dict(rows.features))
    else:
        outputs = SavedModelRunner(export_dir).predict_arrays(dict(rows.features))
    labels = np.asarray(rows.labels)
    if task == "regression":
        predicted = np.asarray(outputs["predictions"], dtype=np.float64).reshape(len(labels))
        return {"loss": float(np.mean((predicted - labels.astype(np.float64)) ** 2))}
    probabilities = np.asarray(outputs["probabilities"], dtype=np.float64)
    truth = labels.astype(np.int64).reshape(-1)
    chosen = np.argmax(probabilities, axis=1)
    picked = np.clip(probabilities[np.arange(len(truth)), truth], 1e-7, 1.0)
    metrics = {
        "accuracy": float(np.mean(chosen == truth)),
        "loss": float(np.mean(-np.log(picked))),
    }
    if probabilities.shape[1] == 2 and len(set(truth.tolist())) == 2:
        from sklearn.metrics import precision_score, recall_score, roc_auc_score

        positive = probabilities[:, 1]
        metrics["auc"] = float(roc_auc_score(truth, positive))
        metrics["precision"] = float(precision_score(truth, positive > 0.5, zero_division=0))
        metrics["recall"] = float(recall_score(truth, positive > 0.5, zero_division=0))
    return metrics


def _features_outputs(
    export_dir: Path, features: dict[str, np.ndarray], batch_size: int = 4096
) -> dict[str, np.ndarray]:
    """The outputs of the SavedModel's ``features`` signature over ``features``, in batches."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(export_dir))  # kept: its variables live as long as it
    signature = loaded.signatures[FEATURES_SIGNATURE]
    specs = signature.structured_input_signature[1]
    n = len(next(iter(features.values())))
    chunks: dict[str, list[np.ndarray]] = {}
    for start in range(0, n, batch_size):
        batch = {
            name: tf.constant(np.asarray(features[name][start : start + batch_size]), spec.dtype)
            for name, spec in specs.items()
        }
        for key, tensor in signature(**batch).items():
            chunks.setdefault(key, []).append(tensor.numpy())
    return {key: np.concatenate(parts, axis=0) for key, parts in chunks.items()}


def architecture_members(model_dir: Path, iteration: int) -> list[str]:
    """The final ensemble's subnetworks, from ``architecture-ITERATION.json`` (AdaNet writes it
    when it chooses an iteration's best ensemble with ``export_best_architecture``)."""
    path = Path(model_dir) / f"architecture-{iteration}.json"
    try:
        subnetworks = json.loads(path.read_text()).get("subnetworks", [])
        return [str(s["builder_name"]) for s in subnetworks]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def write_test_events(log_dir: Path, metrics: dict[str, object], step: int) -> None:
    """The test metrics as TensorBoard scalars in ``log_dir`` (``eval_test``, where the
    Estimator's own test evaluation writes them), so TensorBoard shows the test split either way."""
    import time

    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    values = [
        Summary.Value(tag=name, simple_value=float(value))
        for name, value in metrics.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    ]
    writer = EventFileWriter(str(log_dir))
    try:
        writer.add_event(Event(wall_time=time.time(), step=step, summary=Summary(value=values)))
    finally:
        writer.close()
