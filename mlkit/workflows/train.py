"""experiment → data → reference models → search → registry; and resuming a stopped run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlkit import __version__
from mlkit.compat import tomllib
from mlkit.config import Settings
from mlkit.data.experiment_data import experiment_data
from mlkit.data.stream_constants import clear_constants, text_sha256, write_constants
from mlkit.data.streamed import StreamedData
from mlkit.data.training import TrainingData
from mlkit.errors import DataError, MlkitError, SearchError
from mlkit.experiment import Experiment, SearchSpec, load_experiment, parse_experiment
from mlkit.quantities import canonical_metrics
from mlkit.registry import ModelVersion, Run, open_store
from mlkit.registry.environment import capture as capture_environment
from mlkit.registry.liveness import this_host
from mlkit.search.run_files import prune
from mlkit.search.stages import StageClock
from mlkit.workflows.heartbeat import Heartbeat

if TYPE_CHECKING:
    from mlkit.search.runner import SearchResult

Progress = Callable[[Any], None]  # receives mlkit.search.hooks.SearchProgress
Stage = Callable[[str], None]  # told each stage's message as it starts

PID_FILE = "train.pid"
FINGERPRINT_FILE = "data_fingerprint.json"


@dataclass
class TrainOutcome:
    run: Run
    version: ModelVersion
    metrics: dict[str, float]
    rows: dict[str, int]
    architecture: dict[str, Any]
    seconds: float
    reference_models: dict[str, Any] = field(default_factory=dict)  # scikit-learn, same split
    beats_reference_models: bool | None = None
    plot: str | None = None
    stopped_by: str | None = None
    resumed: bool = False
    resumed_from_step: int | None = None  # the checkpoint's global step a resumed run began at
    stages: dict[str, float] = field(default_factory=dict)  # seconds by stage (search.stages)


@dataclass(frozen=True)
class Budget:
    """Command-line overrides of the experiment's budget (None: keep the file's value)."""

    iterations: int | None = None
    steps: int | None = None
    max_steps: int | None = None
    max_seconds: float | None = None

    def apply(self, experiment: Experiment) -> Experiment:
        return experiment.with_budget(
            iterations=self.iterations,
            steps=self.steps,
            max_steps=self.max_steps,
            max_seconds=self.max_seconds,
        )


def train(
    experiment_path: Path,
    settings: Settings,
    *,
    iterations: int | None = None,
    steps: int | None = None,
    max_steps: int | None = None,
    max_seconds: float | None = None,
    on_stage: Stage | None = None,
    on_progress: Progress | None = None,
    cluster: Any = None,
    model_dir: Path | None = None,
) -> TrainOutcome:
    """Run one experiment end to end and register the winning ensemble as a new model version.

    ``cluster`` (a :class:`mlkit.search.cluster.ClusterTask`): this process is the chief of a
    ``TF_CONFIG`` cluster, training in ``model_dir``, the directory all its tasks share; the run
    records the cluster in its environment. Workers and ps run
    ``mlkit.workflows.launch.cluster_task``.
    """
    stage = StageClock(on_stage)
    experiment, spec_text = load_experiment(experiment_path)
    experiment = Budget(iterations, steps, max_steps, max_seconds).apply(experiment)
    stage("data", f"reading {experiment.data.source} from the warehouse")
    if cluster and model_dir is not None:
        clear_constants(model_dir)  # an earlier run's: workers wait for this run's
    data = experiment_data(experiment.data, settings, task=experiment.search.task)
    if cluster and isinstance(data, StreamedData):
        if model_dir is not None:  # the workers build their splits from these: no scan
            write_constants(model_dir, data, experiment_sha256=text_sha256(spec_text))
        data.train.shard(*cluster.share())  # the chief trains on its share of the rows
    stage("data", _columns_line(data))

    store = open_store(settings.registry_url, settings.artifacts_dir)
    run = store.create_run(
        experiment.experiment.name,
        spec_text=spec_text,
        params=experiment.model_dump(mode="json"),
        experiment_path=str(experiment_path),
        code_version=f"mlkit {__version__}",
        environment={
            **capture_environment(),
            **({"cluster": cluster.describe()} if cluster else {}),
        },
        pid=os.getpid(),
        hostname=this_host(),
    )
    run_dir = model_dir or settings.runs_dir / str(run.id)
    if data.stats:
        store.record_run_data_stats(run.id, data.stats)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / FINGERPRINT_FILE).write_text(json.dumps(data.fingerprint, sort_keys=True))
    return _search_and_register(
        store,
        run,
        experiment,
        data,
        run_dir,
        stage,
        on_progress,
        distributed=cluster is not None,
        keep=settings.keep_after_run,
    )


def resume(
    run_id: int,
    settings: Settings,
    *,
    iterations: int | None = None,
    steps: int | None = None,
    max_steps: int | None = None,
    max_seconds: float | None = None,
    on_stage: Stage | None = None,
    on_progress: Progress | None = None,
) -> TrainOutcome:
    """Continue a stopped (Ctrl-C, failed) or killed run from its last checkpoint.

    The experiment is the one stored with the run (not the file as it is now); the data must
    still be the same (its fingerprint is compared); the budget may be raised from the command
    line.
    """
    stage = StageClock(on_stage)
    store = open_store(settings.registry_url, settings.artifacts_dir)
    run = store.get_run(run_id)
    if run.status == "finished":
        raise SearchError(
            f"run {run_id} has finished; there is nothing to resume",
            hint="start a new run with `mlkit train EXPERIMENT`",
        )
    run_dir = settings.runs_dir / str(run.id)
    if not (run_dir / "checkpoint").is_file():
        raise SearchError(
            f"run {run_id} has no checkpoint in {run_dir} to resume from",
            hint="start a new run with `mlkit train EXPERIMENT`",
        )
    _refuse_if_alive(run_dir, run_id)
    # The experiment as that run ran it: the file's text with its command-line budget applied.
    stored = run.params or tomllib.loads(run.spec_text)
    experiment = parse_experiment(stored, origin=f"run {run_id}'s experiment")
    experiment = Budget(iterations, steps, max_steps, max_seconds).apply(experiment)
    stage("data", f"reading {experiment.data.source} from the warehouse")
    data = experiment_data(experiment.data, settings, task=experiment.search.task)
    _check_same_data(run_dir, data.fingerprint, run_id)
    run = store.reopen_run(run_id, pid=os.getpid(), hostname=this_host())
    step = checkpoint_step(run_dir)
    stage("data", f"run {run_id}: resuming from the checkpoint at step {step:,}")
    outcome = _search_and_register(
        store,
        run,
        experiment,
        data,
        run_dir,
        stage,
        on_progress,
        resumed=True,
        from_step=step,
        keep=settings.keep_after_run,
    )
    return outcome


def _search_and_register(
    store,
    run,
    experiment,
    data: TrainingData,
    run_dir: Path,
    stage: StageClock,
    on_progress,
    resumed: bool = False,
    from_step: int | None = None,
    distributed: bool = False,
    keep: str = "resume",
) -> TrainOutcome:
    """Reference models, the search, its report and the registered version; the run fails on
    any error and keeps only checkpoints and TensorBoard events in ``run_dir`` either way."""
    from mlkit.search.reference_models import beats_reference_models

    (run_dir / PID_FILE).write_text(str(os.getpid()))
    s = experiment.search
    heartbeat = Heartbeat(store, run.id).start()
    try:
        # The reference models fit in another process (mlkit.search.reference_models), watched
        # by a thread, while the search builds its graphs: their seconds overlap, on another
        # core. A daemon thread: Ctrl-C or a failed search must not wait for the fit to end
        # (the process is killed).
        kept = dict(store.get_run(run.id).reference_models) if resumed else {}
        fitters: list[subprocess.Popen[bytes]] = []
        failed = threading.Event()

        def started(process: subprocess.Popen[bytes]) -> None:
            fitters.append(process)
            if failed.is_set():  # the search failed before the process started
                process.kill()

        fitting = _in_background(lambda: _reference_models(kept, s, data, stage, started))
        result = _search(
            run.id, s, data, run_dir, stage, on_progress, resumed, distributed, keep == "all"
        )
        reference = fitting.result()
        if reference and not kept:
            store.record_run_report(run.id, reference_models=reference)
        metrics = _final_metrics(result, s)
        verdict = beats_reference_models(s.task, metrics, reference)
        report = _record_report(store, run.id, result, run_dir, s, verdict, resumed, from_step)
        stage("register", "registering the exported SavedModel")
        version = _register(store, run.id, experiment, data, result, metrics)
        store.log_metrics(run.id, metrics, step=result_step(s))
        run = store.finish_run(
            run.id, status="finished", metrics=metrics, data_fingerprint=data.fingerprint
        )
        stage("trim", f"keeping what a finished run needs in {run_dir} ({keep})")
        prune(run_dir, keep)
    except BaseException as exc:
        failed.set()
        for process in list(fitters):
            process.kill()
        store.finish_run(
            run.id, status="failed", error=_failure(exc), data_fingerprint=data.fingerprint
        )
        raise
    finally:
        heartbeat.stop()
        # The registry holds the SavedModel now; keep checkpoints and TensorBoard events only.
        shutil.rmtree(run_dir / "export", ignore_errors=True)
        (run_dir / PID_FILE).unlink(missing_ok=True)
        data.close()
    return TrainOutcome(
        run=run, version=version, metrics=metrics, rows=data.rows(),
        architecture=result.architecture, seconds=result.seconds,
        reference_models=reference, beats_reference_models=verdict, plot=report["plot"],
        stopped_by=result.stopped_by,
        resumed=resumed, resumed_from_step=from_step, stages=stage.finish(),
    )  # fmt: skip


def _in_background(work: Callable[[], dict[str, Any]]) -> Future[dict[str, Any]]:
    """``work()`` on a daemon thread (one the interpreter does not wait for at exit)."""
    done: Future[dict[str, Any]] = Future()

    def run() -> None:
        try:
            done.set_result(work())
        except BaseException as exc:  # handed to whoever asks for the result
            done.set_exception(exc)

    threading.Thread(target=run, name="reference-models", daemon=True).start()
    return done


def _reference_models(
    kept: dict[str, Any],
    s: SearchSpec,
    data: TrainingData,
    stage: StageClock,
    on_start: Callable[[subprocess.Popen[bytes]], None],
) -> dict[str, Any]:
    """The scikit-learn reference models on the same split: fitted once, ``kept`` by a resumed
    run. Runs in a background thread, touching neither the store nor the console; the fit
    itself in a new process, given to ``on_start``."""
    if not s.reference_models or kept:
        return kept
    from mlkit.search.reference_models import fit_in_new_process

    started = time.perf_counter()
    base_train, base_test = data.train.reference_rows(), data.test.reference_rows()
    reference = fit_in_new_process(
        s.task,
        base_train.features,
        base_train.labels,
        base_test.features,
        base_test.labels,
        seed=s.seed,
        on_start=on_start,
    )
    note = data.sample_note()
    if note is not None:
        reference["sample"] = note
    stage.add("reference_models (beside the search)", time.perf_counter() - started)
    return reference


def _search(
    run_id: int,
    s: SearchSpec,
    data: TrainingData,
    run_dir: Path,
    stage: StageClock,
    on_progress: Progress | None,
    resumed: bool,
    distributed: bool,
    save_graphs: bool,
) -> SearchResult:
    """The AdaNet search in ``run_dir`` (from its checkpoint when ``resumed``); the graph
    copies written only when the run directory keeps them (``save_graphs``)."""
    stage("imports", "loading TensorFlow and AdaNet")
    from mlkit.search.runner import run_search  # imports TensorFlow

    what = "AdaNet search (resumed)," if resumed else "AdaNet search,"
    stage(
        "train_graph",
        f"run {run_id}: {what} {_count(s.iterations, 'iteration')} of "
        f"{_count(s.steps_per_iteration, 'step')}"
        + (f", at most {s.max_seconds:g} s" if s.max_seconds else ""),
    )
    return run_search(
        s,
        data.train,
        data.eval,
        data.test,
        n_classes=data.n_classes,
        model_dir=run_dir,
        on_progress=on_progress,
        resume=resumed,
        storage_forms=data.storage_forms(),
        distributed=distributed,
        on_stage=stage,
        columns=data.columns,
        save_graphs=save_graphs,
    )


def _final_metrics(result: SearchResult, s: SearchSpec) -> dict[str, float]:
    """The test metrics a version records, with the training time (and RMSE for regression)."""
    kept = ("accuracy", "loss", "auc", "precision", "recall")  # loss: see mlkit.quantities
    metrics = {
        **{k: v for k, v in canonical_metrics(result.metrics).items() if k in kept},
        "train_seconds": round(result.seconds, 2),
    }
    if s.task == "regression" and "loss" in metrics:
        metrics["rmse"] = float(metrics["loss"] ** 0.5)
    return metrics


def _record_report(
    store: Any,
    run_id: int,
    result: SearchResult,
    run_dir: Path,
    s: SearchSpec,
    verdict: bool | None,
    resumed: bool,
    from_step: int | None,
) -> dict[str, Any]:
    """The run's report (iterations, how it stopped, the plot) and its per-iteration metrics."""
    from mlkit.search.runner import PLOT_FILE

    report = {
        **result.report,
        "stopped_by": result.stopped_by,
        "resumed": resumed,
        "resumed_from_step": from_step,
        "beats_reference_models": verdict,
        "plot": str(run_dir / PLOT_FILE) if (run_dir / PLOT_FILE).is_file() else None,
    }
    store.record_run_report(run_id, report=report)
    _log_iteration_metrics(store, run_id, report, s.steps_per_iteration)
    return report


def _register(
    store: Any,
    run_id: int,
    experiment: Experiment,
    data: TrainingData,
    result: SearchResult,
    metrics: dict[str, float],
) -> ModelVersion:
    """The exported SavedModel as the next version, with what serving needs to call it."""
    s = experiment.search
    return store.register_version(
        experiment.experiment.model_name,
        result.export_dir,
        run_id=run_id,
        metrics=metrics,
        signature={
            "inputs": (
                {c.name: list(c.shape) for c in data.columns.columns}
                if data.columns is not None
                else {f.name: list(f.shape) for f in data.feature_specs}
            ),
            **({"kinds": data.columns.kinds()} if data.columns is not None else {}),
            **({"classes": data.classes} if data.classes else {}),
            # What serving_default takes per feature: floats, or the STRING / BYTES as stored.
            "storage_forms": data.storage_forms(),
            "task": s.task,
            "n_classes": data.n_classes,
            "architecture": result.architecture,
            "signature_name": "serving_default",
        },
        description=experiment.experiment.description,
    )


def _columns_line(data: TrainingData) -> str:
    """``columns: plan categorical (2 values), age numeric (NULLs imputed), ...``: the kind
    each column was read as (stored with the run in its data fingerprint's ``kinds``)."""
    kinds = data.fingerprint.get("kinds") or {f.name: "numeric" for f in data.feature_specs}
    notes: dict[str, str] = {}
    if data.columns is not None:
        for column in data.columns.columns:
            if column.kind == "categorical":
                notes[column.name] = f" ({len(column.vocabulary)} values)"
            elif column.indicator:
                notes[column.name] = " (NULLs imputed)"
    text = ", ".join(f"{name} {kind}{notes.get(name, '')}" for name, kind in kinds.items())
    classes = f"; classes {', '.join(data.classes)}" if data.classes else ""
    return f"columns: {text}{classes}"


def _failure(exc: BaseException) -> str:
    """What a failed run records as its error."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, MlkitError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


def checkpoint_step(run_dir: Path) -> int:
    """The global step of the run directory's latest checkpoint (0 when there is none)."""
    try:
        text = (run_dir / "checkpoint").read_text()
    except OSError:
        return 0
    match = re.search(r'^model_checkpoint_path:\s*"[^"]*?-(\d+)"', text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def _refuse_if_alive(run_dir: Path, run_id: int) -> None:
    """A run whose training process is still alive must not be resumed by a second one."""
    try:
        pid = int((run_dir / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return
    if pid == os.getpid():
        return
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return
    except PermissionError:
        pass
    raise SearchError(
        f"run {run_id} is still training in process {pid}",
        hint="stop it first (Ctrl-C), then resume",
    )


def _check_same_data(run_dir: Path, fingerprint: dict[str, Any], run_id: int) -> None:
    path = run_dir / FINGERPRINT_FILE
    if not path.is_file():
        return
    before = json.loads(path.read_text())
    if before.get("content_sha256") != fingerprint.get("content_sha256"):
        raise DataError(
            f"the data of run {run_id} ({before.get('table')}) changed since it started; "
            "its checkpoints cannot be resumed on other data",
            hint="start a new run with `mlkit train EXPERIMENT`",
        )


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def result_step(search) -> int:
    """The global step the final metrics belong to: every iteration's steps."""
    return int(search.iterations * search.steps_per_iteration)


def _log_iteration_metrics(store: Any, run_id: int, report: dict, steps_per_iteration: int) -> None:
    """Metrics by step: each iteration's best candidate on the eval split, ``eval_*`` at the step
    the iteration ended (the final test metrics are logged at the last step)."""
    from mlkit.search.reports import better, headline_metric

    for iteration in report.get("iterations") or []:
        best: dict[str, float] | None = None
        for candidate in iteration.get("candidates") or []:
            metrics = candidate.get("metrics") or {}
            name = headline_metric(metrics)
            if name is None:
                continue
            if best is None or (name in best and better(name, metrics[name], best[name])):
                best = metrics
        if best:
            step = (int(iteration["iteration"]) + 1) * steps_per_iteration
            store.log_metrics(run_id, {f"eval_{k}": float(v) for k, v in best.items()}, step=step)
