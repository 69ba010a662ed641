"""Where ``mlkit train`` runs: here, as one task of a ``TF_CONFIG`` cluster, or as a Vertex AI job.

:func:`launch_training` is the one function the ``train`` command calls. It checks the
combination of options, then either trains here (:func:`mlkit.workflows.train.train` or
``resume``), takes this process's role in a cluster (the chief trains like a local run; a worker
or parameter server runs :func:`mlkit.workflows.launch.cluster_task.train_task`), or submits a
CustomJob (:mod:`mlkit.workflows.launch.vertex_job`). The local cluster launcher,
``python -m mlkit.workflows.launch.local_cluster``, starts such tasks as processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from mlkit.config import Settings
from mlkit.errors import UsageError
from mlkit.search.cluster import shared_model_dir, task_from_env
from mlkit.workflows.launch.results import JobSubmitted, TaskResult
from mlkit.workflows.train import Budget, Progress, Stage, TrainOutcome, resume, train

__all__ = ["BACKENDS", "JobSubmitted", "TaskResult", "TrainRequest", "launch_training"]

BACKENDS = ("local", "vertex")


@dataclass(frozen=True)
class TrainRequest:
    """What ``mlkit train`` was asked: an experiment file or a run to resume, and where."""

    experiment: Path | None = None
    resume: int | None = None
    budget: Budget = Budget()
    backend: str = "local"
    workers: int | None = None  # Vertex AI replicas besides the chief
    ps: int | None = None  # Vertex AI parameter servers
    model_dir: Path | None = None  # the directory a TF_CONFIG cluster's tasks share


def launch_training(
    request: TrainRequest,
    settings: Settings,
    *,
    on_stage: Stage | None = None,
    on_progress: Progress | None = None,
) -> TrainOutcome | TaskResult | JobSubmitted:
    """Train as ``request`` says; return the registered outcome, a cluster task's share, or the
    submitted job."""
    _check(request)
    if request.backend == "vertex":
        return _submit_to_vertex(request)
    task = task_from_env()
    if task is None:
        if request.model_dir is not None:
            raise UsageError(
                "--model-dir is for the tasks of a TF_CONFIG cluster, and TF_CONFIG names none",
                hint="a single-process run trains in MLKIT_RUNS/RUN; leave --model-dir out",
            )
        return _train_here(request, settings, on_stage=on_stage, on_progress=on_progress)
    if request.resume is not None:
        raise UsageError(
            "--resume continues a single-process run; TF_CONFIG names a cluster",
            hint="unset TF_CONFIG to resume here, or start the cluster's experiment again",
        )
    assert request.experiment is not None  # _check: an experiment file or --resume
    shared = shared_model_dir(request.model_dir)
    if task.is_chief:
        return train(
            request.experiment,
            settings,
            on_stage=on_stage,
            on_progress=on_progress,
            cluster=task,
            model_dir=shared,
            **_budget(request),
        )
    from mlkit.workflows.launch.cluster_task import train_task

    return train_task(
        request.experiment, settings, task, shared, budget=request.budget, on_stage=on_stage
    )


def _check(request: TrainRequest) -> None:
    if request.backend not in BACKENDS:
        raise UsageError(
            f"--backend: unknown backend {request.backend!r}; expected 'local' or 'vertex'"
        )
    if (request.experiment is None) == (request.resume is None):
        raise UsageError(
            "give either an experiment file or --resume RUN",
            hint="mlkit train experiments/digits.toml  |  mlkit train --resume 3",
        )
    if request.backend == "vertex":
        if request.resume is not None:
            raise UsageError("--resume works with --backend local only")
    elif request.workers is not None or request.ps is not None:
        raise UsageError(
            "--workers/--ps size a Vertex AI job (--backend vertex)",
            hint="to try a cluster here: "
            "python -m mlkit.workflows.launch.local_cluster EXPERIMENT --workers 1",
        )


class _BudgetArgs(TypedDict):
    iterations: int | None
    steps: int | None
    max_steps: int | None
    max_seconds: float | None


def _budget(request: TrainRequest) -> _BudgetArgs:
    b = request.budget
    return _BudgetArgs(
        iterations=b.iterations, steps=b.steps, max_steps=b.max_steps, max_seconds=b.max_seconds
    )


def _train_here(
    request: TrainRequest,
    settings: Settings,
    *,
    on_stage: Stage | None,
    on_progress: Progress | None,
) -> TrainOutcome:
    if request.resume is not None:
        return resume(
            request.resume,
            settings,
            on_stage=on_stage,
            on_progress=on_progress,
            **_budget(request),
        )
    assert request.experiment is not None
    return train(
        request.experiment,
        settings,
        on_stage=on_stage,
        on_progress=on_progress,
        **_budget(request),
    )


def _submit_to_vertex(request: TrainRequest) -> JobSubmitted:
    from mlkit.workflows.launch.vertex_job import VertexSettings, submit_training_job

    assert request.experiment is not None
    from mlkit.experiment import load_experiment

    spec = load_experiment(request.experiment)[0].vertex  # checked again when submitted
    settings = VertexSettings.from_env(spec=spec).with_cluster(
        workers=request.workers, ps=request.ps
    )
    return submit_training_job(request.experiment, settings, dict(_budget(request)))
