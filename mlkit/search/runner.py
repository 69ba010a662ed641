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
from typing import Any, NamedTuple

import numpy as np

from mlkit.data.columns import ColumnPlan
from mlkit.data.training import TrainingSplit
from mlkit.errors import SearchError
from mlkit.experiment import SearchSpec
from mlkit.quantities import canonical_metrics
from mlkit.search.compat import apply

apply()
import tensorflow as tf  # noqa: E402

from mlkit.search.curves_process import CurvesInBackground  # noqa: E402
from mlkit.search.estimators import build_estimator, run_config_for  # noqa: E402
from mlkit.search.export import export_for_serving  # noqa: E402
from mlkit.search.growing import grow_in_next_training  # noqa: E402
from mlkit.search.held_out import (  # noqa: E402
    architecture_members,
    in_memory,
    saved_model_metrics,
    write_test_events,
)
from mlkit.search.hooks import Interrupts, Progress, SearchHook  # noqa: E402
from mlkit.search.inputs import input_fn  # noqa: E402
from mlkit.search.op_traces import one_trace_per_op_build  # noqa: E402
from mlkit.search.phases import share_evaluation_graph  # noqa: E402
from mlkit.search.reports import iteration_reports, search_report  # noqa: E402
from mlkit.search.stages import StageCallback  # noqa: E402

PLOT_FILE = "learning_curves.png"


@dataclass
class SearchResult:
    metrics: dict[str, float]  # on the test split
    export_dir: Path
    architecture: dict[str, Any]
    report: dict[str, Any] = field(default_factory=dict)  # iterations, candidates, curves
    seconds: float = 0.0
    # "max_seconds" when the wall-clock budget ended training, "max_steps" when the step cap
    # ended it before iterations x steps_per_iteration
    stopped_by: str | None = None
    train_seconds: float = 0.0  # training alone (all iterations, this run directory's total)
    global_step: int = 0
    estimator: Any = None


SMALL_TABLE_ROWS = 10_000  # training rows up to which a table's default search adds trees
SMALL_TABLE_POOL = ["dnn", "linear", "boosted_trees"]


def tabular_defaults(
    spec: SearchSpec, columns: ColumnPlan | None, rows: int, *, one_process: bool = True
) -> SearchSpec:
    """A small table's search (at most ``SMALL_TABLE_ROWS`` training rows) where the experiment
    leaves the method, the generators and the pool unset: the AutoEnsemble pool of a DNN, a
    linear model and boosted trees (categories one-hot or embedded for the first two, category
    ids split on by the trees), the eval split choosing, so the model can be as simple as a
    classical one when that generalises best. Anything else (a streamed source or a cluster's
    search, whose tasks must all build the same graph: ``one_process`` False): the spec as it is."""
    if columns is None or not one_process or rows > SMALL_TABLE_ROWS:
        return spec
    if spec.model_fields_set & {"method", "generator", "pool"}:
        return spec
    pool = spec.pool.model_copy(update={"estimators": list(SMALL_TABLE_POOL)})
    return spec.model_copy(update={"method": "auto_ensemble", "pool": pool})


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
    on_stage: StageCallback | None = None,
    columns: ColumnPlan | None = None,
    save_graphs: bool = True,
) -> SearchResult:
    """Train, choose, evaluate on the held-out test split and export.

    ``model_dir`` must be new or empty, unless ``resume`` continues the search saved in it.
    ``storage_forms`` (feature → 'scalar' | 'array' | 'bytes' | 'string', as the warehouse stores
    it) decides what the export's ``serving_default`` takes; see ``mlkit.search.export``.
    ``on_stage(key, message)`` is told as each stage starts (``mlkit.search.stages``): building an
    iteration's graph, training, AdaNet's bookkeeping between iterations, the test evaluation,
    the export.
    ``columns``: a tabular source's preprocessing (``mlkit.data.columns``): categorical features
    are one-hot or embedded, and ``serving_default`` takes the raw row
    (``mlkit.search.preprocess``).
    ``distributed``: this is the chief of a ``TF_CONFIG`` cluster; it trains through
    ``tf.estimator.train_and_evaluate`` with the workers and parameter servers.
    ``save_graphs``: write the graph copies (``graph.pbtxt``, ``.meta`` files, the event files'
    graphs) when ``config`` is not given (``mlkit.search.estimators.run_config_for``).
    """
    started = time.perf_counter()
    one_process = in_memory(train) and not distributed
    spec = tabular_defaults(spec, columns, len(train), one_process=one_process)
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
        config=config or run_config_for(spec, model_dir, save_graphs=save_graphs),
        train_labels=train.labels,
        categorical=columns.categorical() if columns is not None else None,
    )
    stage: StageCallback = on_stage or (lambda _key, _message: None)
    share_evaluation_graph(estimator)
    grows_in_training = grow_in_next_training(estimator)
    iteration = _announce_phases(estimator, stage, model_dir, grows_in_training)
    curves: CurvesInBackground | None = None
    with one_trace_per_op_build():  # graph building: ~7 % less (mlkit.search.op_traces)
        try:
            stage("train_graph", f"iteration {iteration + 1}: building the training graph")
            hook = _train(estimator, spec, train, eval, model_dir, on_progress, distributed, stage)
            trained_seconds = hook.seconds
            # AdaNet picks the final ensemble by evaluating every candidate on the eval split,
            # for evaluate and again for the export: once here (remembered per checkpoint),
            # writing its architecture as AdaNet does between iterations.
            checkpoint = tf.train.latest_checkpoint(str(model_dir))
            best = _choose_final_ensemble(estimator, checkpoint)
            iteration = int(estimator._checkpoint_iteration_number(checkpoint))
            _report_final_iteration(estimator, model_dir, iteration, best)
            # all the curves and the plot read is on disk: drawn on the other core meanwhile
            curves = CurvesInBackground(model_dir, model_dir / PLOT_FILE)
            final = _Final(checkpoint, iteration, best)
            export_dir, test_metrics, members = _export_and_test(
                estimator, spec, train, test, model_dir, storage_forms, columns, final, stage
            )
        except BaseException as exc:
            if curves is not None:  # the search failed: its plot is not wanted
                curves.stop()
            if isinstance(exc, tf.errors.OpError):
                first = exc.message.splitlines()[0]
                raise SearchError(f"training failed in TensorFlow: {first}") from exc
            raise
    stage("curves", "the run report and its learning curves")
    report = search_report(model_dir, members, curves.result())
    return SearchResult(
        metrics=_clean(test_metrics),
        export_dir=export_dir,
        architecture={
            "subnetworks": members,
            "iterations": iteration + 1,
            "ensemble": report["final"],
        },
        report=report,
        seconds=time.perf_counter() - started,
        stopped_by=hook.stopped_by or _step_cap(spec),
        train_seconds=trained_seconds,
        global_step=int(test_metrics.get("global_step", 0)),
        estimator=estimator,
    )


class _Final(NamedTuple):
    """The search's last checkpoint, its iteration and the ensemble chosen there."""

    checkpoint: str
    iteration: int
    best: Any


def _export_and_test(
    estimator: Any,
    spec: SearchSpec,
    train: TrainingSplit,
    test: TrainingSplit,
    model_dir: Path,
    storage_forms: dict[str, str | None] | None,
    columns: ColumnPlan | None,
    final: _Final,
    stage: StageCallback,
) -> tuple[Path, dict[str, Any], list[str]]:
    """Export the final ensemble (``final``: ``_choose_final_ensemble``) and measure it on the test
    split: the exported SavedModel itself for an in-memory split (a tabular model's through its
    ``features`` signature), else the Estimator's evaluation over the split's batches (a
    streamed split). The export's directory, the test metrics, the ensemble's members."""
    iteration = final.iteration
    if in_memory(test):
        stage("export", "exporting the SavedModel")
        export_dir = export_for_serving(
            estimator, model_dir / "export", train.features, storage_forms, columns=columns
        )
        stage("test_evaluation", "evaluating the exported model on the test split")
        test_metrics: dict[str, Any] = {
            **saved_model_metrics(export_dir, test, spec.task),
            "iteration": iteration,
            "global_step": estimator._checkpoint_global_step(final.checkpoint),
            f"best_ensemble_index_{iteration}": final.best,
        }
        write_test_events(model_dir / "eval_test", test_metrics, int(test_metrics["global_step"]))
        return export_dir, test_metrics, architecture_members(model_dir, iteration)
    stage("test_evaluation", "evaluating the final ensemble on the test split")
    test_metrics = estimator.evaluate(_eval_fn(spec, test), name="test")
    members = _ensemble_members(test_metrics)
    stage("export", "exporting the SavedModel")
    export_dir = export_for_serving(
        estimator, model_dir / "export", train.features, storage_forms, columns=columns
    )
    return export_dir, test_metrics, members


def _choose_final_ensemble(estimator: Any, checkpoint: str) -> Any:
    """The best ensemble of the checkpoint's iteration, chosen once: AdaNet's
    ``_compute_best_ensemble_index`` evaluates every candidate, and ``evaluate`` and
    ``export_saved_model`` each call it; its answer is remembered on this instance (the
    checkpoint does not change after training). Its architecture is written too
    (``architecture-N.json``: the final ensemble's members)."""
    compute = estimator._compute_best_ensemble_index
    known: dict[str, Any] = {}
    if estimator._evaluator is not None:
        known[checkpoint] = estimator._execute_candidate_evaluation_phase(
            estimator._evaluator.input_fn,
            export_best_architecture=True,
            checkpoint_path=checkpoint,
            hooks=None,
        )

    def best_ensemble_index(checkpoint_path: str, hooks: Any) -> Any:
        if checkpoint_path not in known:
            known[checkpoint_path] = compute(checkpoint_path, hooks)
        return known[checkpoint_path]

    estimator._compute_best_ensemble_index = best_ensemble_index
    return best_ensemble_index(checkpoint, None)


def _announce_phases(
    estimator: Any, stage: StageCallback, model_dir: Path, grows_in_training: bool
) -> int:
    """Tell ``stage`` when AdaNet's bookkeeping phases between iterations start (evaluating the
    candidates, their report, growing the ensemble unless the next training graph does it:
    ``grows_in_training``, mlkit.search.growing) and when the next training graph is built;
    return the iteration training starts in. (AdaNet 0.9.0 is frozen: its private phase methods
    are stable; they are wrapped on this instance only.)"""
    state = {"iteration": 0}
    checkpoint = tf.train.latest_checkpoint(str(model_dir))
    if checkpoint is not None:
        state["iteration"] = estimator._checkpoint_iteration_number(checkpoint)
    phases = {
        "_execute_candidate_evaluation_phase": (
            "evaluate_candidates",
            "iteration {n}: evaluating the candidates on the eval split",
        ),
        "_execute_report_materialization_phase": (
            "report",
            "iteration {n}: the candidates' report",
        ),
    }
    if not grows_in_training:
        phases["_execute_graph_growing_phase"] = ("grow", "iteration {n}: growing the ensemble")

    def announced(name: str, key: str, message: str) -> Any:
        original = getattr(estimator, name)

        def phase(*args: Any, **kwargs: Any) -> Any:
            stage(key, message.format(n=state["iteration"] + 1))
            return original(*args, **kwargs)

        return phase

    for name, (key, message) in phases.items():
        setattr(estimator, name, announced(name, key, message))
    bookkeeping = estimator._execute_bookkeeping_phase

    def bookkeeping_phase(train_input_fn: Any, iteration_number: int, *args: Any, **kw: Any) -> Any:
        state["iteration"] = int(iteration_number)
        result = bookkeeping(train_input_fn, iteration_number, *args, **kw)
        state["iteration"] = int(iteration_number) + 1
        stage("train_graph", f"iteration {state['iteration'] + 1}: building the training graph")
        return result

    estimator._execute_bookkeeping_phase = bookkeeping_phase
    return int(state["iteration"])


def _step_cap(spec: SearchSpec) -> str | None:
    """ "max_steps" when ``max_steps`` ended the search before its iterations' steps."""
    planned = spec.iterations * spec.steps_per_iteration
    return "max_steps" if spec.max_steps and spec.max_steps < planned else None


def _train(
    estimator: Any,
    spec: SearchSpec,
    train: TrainingSplit,
    eval: TrainingSplit,
    model_dir: Path,
    on_progress: Progress | None,
    distributed: bool,
    stage: StageCallback,
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
            on_session=lambda n: stage("train", f"iteration {n + 1}: training"),
        )
        if distributed:
            from mlkit.search.cluster_task import train_and_evaluate

            train_and_evaluate(estimator, train_fn, total, [hook], _eval_fn(spec, eval))
        else:
            estimator.train(train_fn, max_steps=total, hooks=[hook])
        interrupts.check()
    return hook


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


def _report_final_iteration(estimator, model_dir: Path, iteration: int, best: Any) -> None:
    """Materialise the last iteration's candidate reports too.

    AdaNet writes an iteration's reports when it prepares the next one, so the last iteration has
    none; this runs the same materialisation phase (AdaNet 0.9.0 is frozen: its private method is
    stable) on the last checkpoint, unless choosing the final ensemble wrote it already
    (mlkit.search.phases). A failure leaves the report without that iteration.
    """
    if getattr(estimator, "_report_materializer", None) is None:
        return
    if any(r.get("iteration_number") == iteration for r in iteration_reports(model_dir)):
        return
    if best is None:
        return
    try:
        estimator._execute_report_materialization_phase(
            int(best), tf.train.latest_checkpoint(str(model_dir)), hooks=[]
        )
    except Exception:  # noqa: BLE001 - the report is a bonus; the search succeeded
        return
