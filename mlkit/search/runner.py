"""Runs an AdaNet search on training arrays and exports the winning ensemble as a SavedModel.

A run directory holds everything needed to resume: checkpoints (every iteration and every few
hundred steps), AdaNet's reports and architecture files, TensorBoard event files, and the
wall-clock seconds used so far (``budget.json``). ``run_search(..., resume=True)`` continues from
the last checkpoint of the same directory.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlkit.data.training import TrainingSplit
from mlkit.errors import SearchError
from mlkit.experiment import SearchSpec
from mlkit.quantities import canonical_metrics
from mlkit.search.compat import apply

apply()
import tensorflow as tf  # noqa: E402

from mlkit.search.estimators import build_estimator  # noqa: E402
from mlkit.search.export import export_for_serving  # noqa: E402
from mlkit.search.hooks import Interrupts, Progress, SearchHook  # noqa: E402
from mlkit.search.inputs import input_fn  # noqa: E402
from mlkit.search.reports import (  # noqa: E402
    iteration_reports,
    learning_curves,
    plot_learning_curves,
    search_report,
)

PLOT_FILE = "learning_curves.png"


@dataclass
class SearchResult:
    metrics: dict[str, float]  # on the test split
    export_dir: Path
    architecture: dict[str, Any]
    report: dict[str, Any] = field(default_factory=dict)  # iterations, candidates, curves
    seconds: float = 0.0
    stopped_by: str | None = None  # "max_seconds" when the wall-clock budget ended training
    train_seconds: float = 0.0  # training alone (all iterations, this run directory's total)
    global_step: int = 0
    estimator: Any = None


def run_search(
    spec: SearchSpec,
    train: TrainingSplit,
    eval: TrainingSplit,
    test: TrainingSplit,
    *,
    n_classes: int,
    model_dir: Path,
    on_progress: Progress | None = None,
    resume: bool = False,
    config: tf.estimator.RunConfig | None = None,
    storage_forms: dict[str, str | None] | None = None,
    distributed: bool = False,
) -> SearchResult:
    """Train, choose, evaluate on the held-out test split and export.

    ``model_dir`` must be new or empty, unless ``resume`` continues the search saved in it.
    ``storage_forms`` (feature → 'scalar' | 'array' | 'bytes' | 'string', as the warehouse stores
    it) decides what the export's ``serving_default`` takes; see ``mlkit.search.export``.
    ``distributed``: this is the chief of a ``TF_CONFIG`` cluster; it trains through
    ``tf.estimator.train_and_evaluate`` with the workers and parameter servers.
    """
    started = time.perf_counter()
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    has_checkpoint = tf.train.latest_checkpoint(str(model_dir)) is not None
    if has_checkpoint and not resume:
        raise SearchError(f"{model_dir} already holds a search's checkpoints; resume it instead")
    estimator = build_estimator(
        spec,
        train.features,
        n_classes,
        model_dir,
        _eval_fn(spec, eval),
        config=config,
        train_labels=train.labels,
    )
    try:
        hook = _train(estimator, spec, train, eval, model_dir, on_progress, distributed)
        trained_seconds = hook.seconds
        # One evaluation, on the held-out test split: it also names the final ensemble. (Each
        # evaluate rebuilds AdaNet's graph, seconds apiece; the eval split's metrics per candidate
        # are in the iteration reports already.)
        test_metrics = estimator.evaluate(_eval_fn(spec, test), name="test")
        export_dir = export_for_serving(
            estimator, model_dir / "export", train.features, storage_forms
        )
    except tf.errors.OpError as exc:
        raise SearchError(f"training failed in TensorFlow: {exc.message.splitlines()[0]}") from exc
    stopped_by = hook.stopped_by
    return _result(
        estimator, model_dir, test_metrics, export_dir, stopped_by, started, trained_seconds
    )


def _train(
    estimator: Any,
    spec: SearchSpec,
    train: TrainingSplit,
    eval: TrainingSplit,
    model_dir: Path,
    on_progress: Progress | None,
    distributed: bool,
) -> SearchHook:
    """Train to the budget (here, or as a cluster's chief); the hook knows how it stopped."""
    total = spec.total_steps
    train_fn = input_fn(
        train, task=spec.task, batch_size=spec.batch_size, training=True, seed=spec.seed
    )
    with Interrupts() as interrupts:
        hook = SearchHook(
            model_dir=model_dir,
            iterations=spec.iterations,
            steps_per_iteration=spec.steps_per_iteration,
            total_steps=total,
            max_seconds=spec.max_seconds,
            callback=on_progress,
            should_stop=lambda: interrupts.requested,
        )
        if distributed:
            from mlkit.search.cluster_task import train_and_evaluate

            train_and_evaluate(estimator, train_fn, total, [hook], _eval_fn(spec, eval))
        else:
            estimator.train(train_fn, max_steps=total, hooks=[hook])
        interrupts.check()
    return hook


def _result(
    estimator: Any,
    model_dir: Path,
    test_metrics: dict[str, Any],
    export_dir: Path,
    stopped_by: str | None,
    started: float,
    trained_seconds: float,
) -> SearchResult:
    """The final ensemble's report, learning curves and plot, as a SearchResult."""
    members = _ensemble_members(test_metrics)
    _report_final_iteration(estimator, model_dir, test_metrics)
    report = search_report(model_dir, members, learning_curves(model_dir))
    plot_learning_curves(report, model_dir / PLOT_FILE)
    return SearchResult(
        metrics=_clean(test_metrics),
        export_dir=export_dir,
        architecture={
            "subnetworks": members,
            "iterations": int(test_metrics.get("iteration", 0)) + 1,
            "ensemble": report.get("final"),
        },
        report=report,
        seconds=time.perf_counter() - started,
        stopped_by=stopped_by,
        train_seconds=trained_seconds,
        global_step=int(test_metrics.get("global_step", 0)),
        estimator=estimator,
    )


def _eval_fn(spec: SearchSpec, split: TrainingSplit):
    return input_fn(split, task=spec.task, batch_size=max(spec.batch_size, 256), training=False)


def _clean(metrics: dict[str, Any]) -> dict[str, float]:
    """The numeric metrics, with one ``loss`` (the mean per-example loss: mlkit.quantities)."""
    return canonical_metrics(
        {
            k: float(v)
            for k, v in metrics.items()
            if k != "global_step"
            and np.ndim(v) == 0
            and np.issubdtype(np.asarray(v).dtype, np.number)
        }
    )


def _ensemble_members(metrics: dict[str, Any]) -> list[str]:
    """The final ensemble's subnetworks, from the text summary AdaNet adds to evaluation results."""
    for key, value in metrics.items():
        if key.startswith("architecture/") and isinstance(value, bytes):
            summary = tf.compat.v1.Summary.FromString(value)
            text = summary.value[0].tensor.string_val[0].decode()
            return [part.strip() for part in text.strip("| ").split("|") if part.strip()]
    return []


def _report_final_iteration(estimator, model_dir: Path, test_metrics: dict[str, Any]) -> None:
    """Materialise the last iteration's candidate reports too.

    AdaNet writes an iteration's reports when it prepares the next one, so the last iteration has
    none; this runs the same materialisation phase (AdaNet 0.9.0 is frozen: its private method is
    stable) on the last checkpoint. A failure leaves the report without that iteration.
    """
    iteration = int(test_metrics.get("iteration", 0))
    if getattr(estimator, "_report_materializer", None) is None:
        return
    if any(r.get("iteration_number") == iteration for r in iteration_reports(model_dir)):
        return
    best = test_metrics.get(f"best_ensemble_index_{iteration}")
    if best is None:
        return
    try:
        estimator._execute_report_materialization_phase(
            int(best), tf.train.latest_checkpoint(str(model_dir)), hooks=[]
        )
    except Exception:  # noqa: BLE001 - the report is a bonus; the search succeeded
        return
