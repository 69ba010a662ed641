"""Run one version's SavedModel over the evaluation rows: its predictions and its latency per batch.

Imports TensorFlow (through ``mlkit.savedmodel``); only commands that evaluate load this module.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlkit.promotion.metrics import Predictions, infer_task, predictions_from_outputs

Progress = Callable[[int, int], None]


@dataclass
class VersionRun:
    """What running a version on the rows gave: predictions, timings, and the loaded model."""

    version: int
    task: str
    predictions: Predictions
    latency: dict[str, Any]
    signature_name: str
    size_bytes: int
    runner: Any = field(repr=False)


def load_runner(path: Path) -> Any:
    from mlkit.savedmodel import SavedModelRunner

    return SavedModelRunner(path)


def run_version(
    runner: Any,
    version: int,
    features: dict[str, np.ndarray],
    *,
    declared_task: str | None,
    batch_size: int,
    size_bytes: int,
    on_progress: Progress | None = None,
) -> VersionRun:
    """Predict every row batch by batch, timing each batch (after one untimed warm-up call)."""
    n = len(next(iter(features.values())))
    starts = list(range(0, n, batch_size))
    runner.predict_arrays({k: v[:batch_size] for k, v in features.items()}, batch_size=batch_size)
    chunks: dict[str, list[np.ndarray]] = {}
    seconds: list[float] = []
    for i, start in enumerate(starts):
        batch = {k: v[start : start + batch_size] for k, v in features.items()}
        began = time.perf_counter()
        out = runner.predict_arrays(batch, batch_size=batch_size)
        seconds.append(time.perf_counter() - began)
        for key, value in out.items():
            chunks.setdefault(key, []).append(value)
        if on_progress is not None:
            on_progress(i + 1, len(starts))
    outputs = {k: np.concatenate(v, axis=0) for k, v in chunks.items()}
    task = infer_task(outputs, declared_task)
    ms = np.array(seconds) * 1000.0
    latency = {
        "batch_size": batch_size,
        "batches": len(seconds),
        "median_ms": float(np.median(ms)),
        "p95_ms": float(np.percentile(ms, 95)),
    }
    return VersionRun(
        version=version,
        task=task,
        predictions=predictions_from_outputs(outputs, task),
        latency=latency,
        signature_name=runner.signature_name,
        size_bytes=size_bytes,
        runner=runner,
    )
