"""Runs an AdaNet search on training arrays and exports the winning ensemble as a SavedModel."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from mlkit.errors import SearchError
from mlkit.experiment import SearchSpec
from mlkit.search.compat import apply

adanet = apply()
import tensorflow as tf  # noqa: E402

from mlkit.search.generators import DNNGenerator, optimizer_fn  # noqa: E402
from mlkit.search.inputs import feature_columns, input_fn, serving_input_receiver_fn  # noqa: E402

Progress = Callable[[int, int], None]


class Split(Protocol):
    features: dict[str, np.ndarray]
    labels: np.ndarray


@dataclass
class SearchResult:
    metrics: dict[str, float]  # on the test split
    export_dir: Path
    architecture: dict[str, Any]
    iterations: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


def run_search(
    spec: SearchSpec,
    train: Split,
    eval: Split,
    test: Split,
    *,
    n_classes: int,
    model_dir: Path,
    on_progress: Progress | None = None,
) -> SearchResult:
    """Train, choose, evaluate on the held-out test split and export. ``model_dir`` must be new."""
    started = time.perf_counter()
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    shapes = {name: tuple(v.shape[1:]) for name, v in train.features.items()}
    estimator = _estimator(spec, train, eval, n_classes, model_dir)
    total = spec.iterations * spec.steps_per_iteration
    train_fn = input_fn(
        train.features,
        _labels(spec, train),
        batch_size=spec.batch_size,
        training=True,
        seed=spec.seed,
    )
    try:
        with _Interrupts() as interrupts:
            hook = _ProgressHook(total, on_progress, should_stop=lambda: interrupts.requested)
            estimator.train(train_fn, max_steps=total, hooks=[hook])
            interrupts.check()
            if on_progress:  # the hook sees the step before the last update lands
                on_progress(total, total)
        # One evaluation, on the held-out test split: it also names the final ensemble. (Each
        # evaluate rebuilds AdaNet's graph, seconds apiece; the eval split's metrics per candidate
        # are in the iteration reports already.)
        test_metrics = estimator.evaluate(_eval_fn(spec, test), name="test")
        exported = estimator.export_saved_model(
            str(model_dir / "export"), serving_input_receiver_fn(shapes)
        )
    except tf.errors.OpError as exc:
        raise SearchError(f"training failed in TensorFlow: {exc.message.splitlines()[0]}") from exc
    export_dir = Path(exported.decode() if isinstance(exported, bytes) else exported)
    return SearchResult(
        metrics=_clean(test_metrics),
        export_dir=export_dir,
        architecture={
            "subnetworks": _ensemble_members(test_metrics),
            "iterations": int(test_metrics.get("iteration", 0)) + 1,
        },
        iterations=_iteration_reports(model_dir),
        seconds=time.perf_counter() - started,
    )


def _estimator(spec: SearchSpec, train: Split, eval: Split, n_classes: int, model_dir: Path):
    columns = feature_columns(train.features)
    generator = DNNGenerator(
        columns,
        optimizer_fn(spec.optimizer, spec.learning_rate),
        width=spec.layer_size,
        max_depth=spec.max_depth,
        dropout=spec.dropout,
        seed=spec.seed,
    )
    evaluation = _eval_fn(spec, eval)
    return adanet.Estimator(
        head=_head(spec, n_classes),
        subnetwork_generator=generator,
        max_iteration_steps=spec.steps_per_iteration,
        max_iterations=spec.iterations,
        evaluator=adanet.Evaluator(input_fn=evaluation),
        report_materializer=adanet.ReportMaterializer(input_fn=evaluation),
        ensemblers=[
            adanet.ensemble.ComplexityRegularizedEnsembler(
                adanet_lambda=spec.complexity_lambda, adanet_beta=spec.complexity_beta
            )
        ],
        ensemble_strategies=[adanet.ensemble.GrowStrategy()],
        config=tf.estimator.RunConfig(
            model_dir=str(model_dir),
            tf_random_seed=spec.seed,
            save_checkpoints_steps=spec.steps_per_iteration,
            save_summary_steps=max(1, spec.steps_per_iteration // 10),
            log_step_count_steps=None,
        ),
    )


def _head(spec: SearchSpec, n_classes: int):
    if spec.task == "regression":
        return tf.estimator.RegressionHead()
    if n_classes == 2:
        return tf.estimator.BinaryClassHead()
    return tf.estimator.MultiClassHead(n_classes)


def _labels(spec: SearchSpec, split: Split) -> np.ndarray:
    if spec.task == "regression":
        return split.labels.astype(np.float32).reshape(-1, 1)
    return split.labels.astype(np.int64).reshape(-1, 1)


def _eval_fn(spec: SearchSpec, split: Split):
    return input_fn(
        split.features, _labels(spec, split), batch_size=max(spec.batch_size, 256), training=False
    )


def _clean(metrics: dict[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in metrics.items()
        if k != "global_step" and np.ndim(v) == 0 and np.issubdtype(np.asarray(v).dtype, np.number)
    }


def _ensemble_members(metrics: dict[str, Any]) -> list[str]:
    """The final ensemble's subnetworks, from the text summary AdaNet adds to evaluation results."""
    for key, value in metrics.items():
        if key.startswith("architecture/") and isinstance(value, bytes):
            summary = tf.compat.v1.Summary.FromString(value)
            text = summary.value[0].tensor.string_val[0].decode()
            return [part.strip() for part in text.strip("| ").split("|") if part.strip()]
    return []


def _iteration_reports(model_dir: Path) -> list[dict[str, Any]]:
    path = model_dir / "report" / "iteration_reports.json"
    if not path.is_file():
        return []
    return json.loads(path.read_text())


class _ProgressHook(tf.compat.v1.train.SessionRunHook):
    """Reports the global step (which counts across AdaNet iterations) and stops on request."""

    def __init__(
        self, total: int, callback: Progress | None, should_stop: Callable[[], bool]
    ) -> None:
        self._total = total
        self._callback = callback
        self._should_stop = should_stop

    def begin(self):
        self._step = tf.compat.v1.train.get_global_step()

    def before_run(self, run_context):
        return tf.compat.v1.train.SessionRunArgs(self._step) if self._callback else None

    def after_run(self, run_context, run_values):
        if self._callback:
            self._callback(int(run_values.results), self._total)
        if self._should_stop():
            run_context.request_stop()  # AdaNet then checkpoints and returns from train()


class _Interrupts:
    """Ctrl-C during training: the first stops cleanly after the current step, the second at once.

    A KeyboardInterrupt raised at an arbitrary point inside TensorFlow can surface as an unrelated
    error from its clean-up code; stopping between steps always ends as an interruption.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def __enter__(self) -> _Interrupts:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def check(self) -> None:
        if self.requested:
            raise KeyboardInterrupt
