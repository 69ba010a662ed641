"""Read models: what ``mlkit runs list``, ``mlkit runs show`` and ``mlkit models show`` display,
assembled from the registry (and the run directories) so that a web page can show the same.

Each function returns a dataclass of registry entities and plain values; nothing here prints.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlkit.config import Settings
from mlkit.registry import Deployment, ModelVersion, RegistryStore, Run

CHECKPOINT_FILE = "checkpoint"  # TensorFlow's index of a model directory's checkpoints


def run_directory(run: Run, settings: Settings) -> Path:
    """Where a run trains and keeps its checkpoints (as ``mlkit train`` and ``--resume`` use it)."""
    return Path(run.run_dir) if run.run_dir else settings.runs_dir / str(run.id)


def is_resumable(run: Run, settings: Settings) -> bool:
    """A failed run (stopped, crashed, or dead: its process gone) with a checkpoint to resume
    from (``mlkit train --resume RUN``). A finished run or one still training is not."""
    return run.status == "failed" and (run_directory(run, settings) / CHECKPOINT_FILE).is_file()


@dataclass(frozen=True)
class RunSummary:
    """A row of ``mlkit runs list``."""

    run: Run
    resumable: bool


def list_runs(
    store: RegistryStore,
    settings: Settings,
    *,
    experiment: str | None = None,
    limit: int = 50,
    where: str | None = None,
    sort: str | None = None,
) -> list[RunSummary]:
    runs = store.list_runs(experiment, limit, where=where, sort=sort)
    return [RunSummary(run, is_resumable(run, settings)) for run in runs]


@dataclass(frozen=True)
class RunView:
    """A run with what it produced: ``mlkit runs show``."""

    run: Run
    resumable: bool
    parameters: dict[str, Any]
    """The stored experiment without the option groups this run leaves unused."""
    metrics_by_step: dict[str, list[tuple[int, float]]]
    versions: list[ModelVersion]
    deployments: list[Deployment]
    directory: str


def run_view(store: RegistryStore, settings: Settings, run_id: int) -> RunView:
    run = store.get_run(run_id)
    history: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for point in store.metric_history(run_id):
        history[point.key].append((point.step, point.value))
    versions = store.versions_of_run(run_id)
    produced = {(v.model, v.version) for v in versions}
    deployments = (
        [d for d in store.list_deployments(active_only=False) if (d.model, d.version) in produced]
        if produced
        else []
    )
    return RunView(
        run=run,
        resumable=is_resumable(run, settings),
        parameters=relevant_params(run.params),
        metrics_by_step=dict(history),
        versions=versions,
        deployments=deployments,
        directory=str(run_directory(run, settings)),
    )


def relevant_params(params: dict[str, Any] | None) -> dict[str, Any]:
    """A run's stored experiment without the option groups its own settings leave unused.

    The stored experiment holds every key with its default; ``[search.pool]`` only applies to
    ``method = "auto_ensemble"``, the streaming keys only to ``stream = true``, and an empty
    ``[vertex]`` section says nothing.
    """
    params = dict(params or {})
    search = params.get("search")
    if isinstance(search, dict) and search.get("method", "adanet") != "auto_ensemble":
        params["search"] = {k: v for k, v in search.items() if k != "pool"}
    data = params.get("data")
    if isinstance(data, dict) and not data.get("stream", False):
        params["data"] = {
            k: v for k, v in data.items() if k not in ("stream", "sample_rows", "shuffle_buffer")
        }
    vertex = params.get("vertex")  # a local run, or a Vertex AI job sized by the environment
    if isinstance(vertex, dict) and all(v is None for v in vertex.values()):
        del params["vertex"]
    return params


def learning_curves(run: Run, plot_dir: Path) -> Path | None:
    """The run's learning-curve plot: the one training drew, or drawn again from the stored
    report into ``plot_dir`` when that file is gone; None when the run has no curves."""
    stored = run.report.get("plot")
    if stored and Path(stored).is_file():
        return Path(stored)
    if not run.report.get("curves") and not run.report.get("iterations"):
        return None
    from mlkit.search.reports import plot_learning_curves  # matplotlib only, no TensorFlow

    target = plot_dir / f"run-{run.id}-learning_curves.png"
    path = plot_learning_curves(run.report, target, title=f"run {run.id} ({run.experiment})")
    return Path(path) if path else None


@dataclass(frozen=True)
class VersionView:
    """A version and its lineage: ``mlkit models show``. The fields of
    ``mlkit.registry.Lineage`` (version → run → deployments, newest first) and where it serves."""

    version: ModelVersion
    run: Run | None
    deployments: tuple[Deployment, ...]
    serving_on: list[str] = field(default_factory=list)


def version_view(store: RegistryStore, ref: str) -> VersionView:
    """The version named by ``ref`` (``NAME``, ``NAME:VERSION`` or ``NAME@ALIAS``)."""
    mv = store.resolve(ref)
    lineage = store.lineage(mv.model, mv.version)
    return VersionView(
        version=lineage.version,
        run=lineage.run,
        deployments=lineage.deployments,
        serving_on=sorted({d.endpoint for d in lineage.deployments if d.active}),
    )
