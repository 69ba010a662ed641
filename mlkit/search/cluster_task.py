"""Training in a cluster: ``tf.estimator.train_and_evaluate`` with a RunConfig read from
``TF_CONFIG``.

The chief's share runs inside :func:`mlkit.search.runner.run_search` (it goes on to evaluate,
export and report); a worker's or parameter server's share is :func:`run_task`: the same
estimator on the same split, but nothing is evaluated, exported or registered. Parameter servers
serve until they are stopped; workers return when the search has run all its steps, or at their
next step once the chief has stopped training (its budget, Ctrl-C, a failure): the chief leaves
a mark in the shared model directory then.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlkit.errors import SearchError
from mlkit.experiment import SearchSpec
from mlkit.search.cluster import CHIEF_DONE_FILE, ClusterTask, chief_done, mark_chief_done
from mlkit.search.compat import apply

apply()
import time  # noqa: E402

import tensorflow as tf  # noqa: E402

from mlkit.search.estimators import build_estimator  # noqa: E402
from mlkit.search.inputs import input_fn  # noqa: E402


def train_and_evaluate(estimator, train_fn, max_steps: int, hooks: list, eval_fn) -> None:
    """One task's share of a distributed search (the role comes from the estimator's config)."""
    train_spec = tf.estimator.TrainSpec(train_fn, max_steps=max_steps, hooks=hooks)
    # Evaluation belongs to an evaluator task, which mlkit does not use: the chief evaluates on
    # the test split itself afterwards, and AdaNet evaluates candidates on the eval split.
    eval_spec = tf.estimator.EvalSpec(eval_fn, steps=None, start_delay_secs=0, throttle_secs=1)
    model_dir = Path(estimator.model_dir)
    if not estimator.config.is_chief:
        tf.estimator.train_and_evaluate(estimator, train_spec, eval_spec)
        return
    # A mark left by an earlier chief in this directory goes before any variable is initialised,
    # so that no worker (they check after a step) can see it.
    (model_dir / CHIEF_DONE_FILE).unlink(missing_ok=True)
    outcome = "failed"
    try:
        tf.estimator.train_and_evaluate(estimator, train_spec, eval_spec)
        outcome = "trained"
    finally:
        mark_chief_done(model_dir, outcome=outcome)


def run_task(
    spec: SearchSpec,
    train,
    eval,
    *,
    n_classes: int,
    model_dir: Path,
    task: ClusterTask,
    categorical: dict[str, int] | None = None,
) -> dict[str, Any]:
    """A worker or parameter server: train (or serve) until the search ends. Returns what this
    process did: its role and the training steps it ran itself. ``categorical``: a tabular
    source's category-id features (the chief's graph has them: so must this one)."""
    from mlkit.search.runner import _eval_fn

    estimator = build_estimator(
        spec,
        train.features,
        n_classes,
        model_dir,
        _eval_fn(spec, eval),
        train_labels=train.labels,
        categorical=categorical,
    )
    if estimator.config.task_type != task.task_type:  # RunConfig read a different TF_CONFIG
        raise SearchError(
            f"TF_CONFIG: the estimator took the role {estimator.config.task_type!r}, "
            f"not {task.task_type!r}"
        )
    train_fn = input_fn(
        train,
        task=spec.task,
        batch_size=spec.batch_size,
        training=True,
        seed=spec.seed + 1 + task.index,  # each worker its own order of batches
    )
    hook = WorkerHook(model_dir)
    stopped_by = None
    try:
        train_and_evaluate(estimator, train_fn, spec.total_steps, [hook], _eval_fn(spec, eval))
    except ChiefStopped:
        stopped_by = "chief"
    return {
        "task": task.task_type,
        "index": task.index,
        "steps_run_here": hook.steps,
        "stopped_by": stopped_by,
        "model_dir": str(model_dir),
    }


def serve_variables(task: ClusterTask) -> None:
    """A parameter server: hold the variables the chief and workers place on it, until stopped.

    What ``train_and_evaluate`` does for a ps (start the standard server of ``TF_CONFIG`` and
    join it), without an estimator: a ps runs no input function, so it reads no rows and needs
    no statistics of them."""
    config = tf.estimator.RunConfig()
    if config.task_type != task.task_type:
        raise SearchError(
            f"TF_CONFIG: the cluster took the role {config.task_type!r}, not {task.task_type!r}"
        )
    server = tf.distribute.Server(
        config.cluster_spec,
        job_name=config.task_type,
        task_index=config.task_id,
        config=config.session_config,
        start=True,
        protocol=config.protocol,
    )
    server.join()


class ChiefStopped(Exception):
    """The chief has stopped training: this worker ends too."""


class WorkerHook(tf.compat.v1.train.SessionRunHook):
    """Counts the training steps this process ran, and ends training once the chief's is over.

    AdaNet calls ``begin`` once per iteration on the same hook. Raising (rather than requesting a
    stop) also leaves AdaNet's loop, which would otherwise wait for the chief's next iteration.
    """

    CHECK_EVERY_S = 1.0

    def __init__(self, model_dir: Path) -> None:
        self.steps = 0
        self._model_dir = Path(model_dir)
        self._checked = 0.0

    def after_run(self, run_context, run_values) -> None:
        self.steps += 1
        now = time.monotonic()
        if now - self._checked >= self.CHECK_EVERY_S:
            self._checked = now
            if chief_done(self._model_dir):
                raise ChiefStopped
