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
    signature_name: str  # the signature the rows ran through (`features` on an mlkit export)
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
    """Predict every row, batch by batch. Latency is measured afterwards by ``time_batches``.

    ``features`` are decoded float arrays (the loader's): ``runner.predict_arrays`` runs them
    through the export's ``features`` signature when it has one."""
    n = len(next(iter(features.values())))
    starts = list(range(0, n, batch_size))
    chunks: dict[str, list[np.ndarray]] = {}
    for i, start in enumerate(starts):
        batch = {k: v[start : start + batch_size] for k, v in features.items()}
        for key, value in runner.predict_arrays(batch, batch_size=batch_size).items():
            chunks.setdefault(key, []).append(value)
        if on_progress is not None:
            on_progress(i + 1, len(starts))
    outputs = {k: np.concatenate(v, axis=0) for k, v in chunks.items()}
    task = infer_task(outputs, declared_task)
    return VersionRun(
        version=version,
        task=task,
        predictions=predictions_from_outputs(outputs, task, getattr(runner, "classes", None)),
        latency={},
        signature_name=getattr(runner, "features_signature", None) or runner.signature_name,
        size_bytes=size_bytes,
        runner=runner,
    )


def time_batches(
    runs: list[VersionRun], features: dict[str, np.ndarray], *, batch_size: int, rounds: int = 20
) -> None:
    """Fill each run's ``latency``: milliseconds per batch of ``batch_size`` rows.

    The versions take turns on the same batches (the order alternating each round) after two
    warm-up calls each, so neither gains from running second on a warmed-up machine.
    """
    n = len(next(iter(features.values())))
    starts = list(range(0, n, batch_size))
    batches = [{k: v[s : s + batch_size] for k, v in features.items()} for s in starts]
    for run in runs:
        for _ in range(2):
            run.runner.predict_arrays(batches[0], batch_size=batch_size)
    times: list[list[float]] = [[] for _ in runs]
    for r in range(rounds):
        batch = batches[r % len(batches)]
        order = range(len(runs)) if r % 2 == 0 else reversed(range(len(runs)))
        for i in order:
            began = time.perf_counter()
            runs[i].runner.predict_arrays(batch, batch_size=batch_size)
            times[i].append((time.perf_counter() - began) * 1000.0)
    for run, ms in zip(runs, times, strict=True):
        run.latency = {
            "batch_size": batch_size,
            "batches_timed": len(ms),
            "median_ms": float(np.median(ms)),
            "p95_ms": float(np.percentile(ms, 95)),
        }
