"""experiment → data → search → registry."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlkit import __version__
from mlkit.config import Settings
from mlkit.errors import MlkitError
from mlkit.experiment import load_experiment
from mlkit.registry import ModelVersion, Run, open_store
from mlkit.registry.environment import capture as capture_environment
from mlkit.workflows.dataset import load_experiment_data, record_data_stats

Progress = Callable[[int, int], None]
Stage = Callable[[str], None]


@dataclass
class TrainOutcome:
    run: Run
    version: ModelVersion
    metrics: dict[str, float]
    rows: dict[str, int]
    architecture: dict[str, Any]
    seconds: float


def train(
    experiment_path: Path,
    settings: Settings,
    *,
    iterations: int | None = None,
    steps: int | None = None,
    on_stage: Stage | None = None,
    on_progress: Progress | None = None,
) -> TrainOutcome:
    """Run one experiment end to end and register the winning ensemble as a new model version."""
    stage = on_stage or (lambda _msg: None)
    experiment, spec_text = load_experiment(experiment_path)
    experiment = experiment.with_budget(iterations=iterations, steps=steps)

    stage(f"reading {experiment.data.source} from the warehouse")
    data = load_experiment_data(experiment.data, settings)

    store = open_store(settings.registry_url, settings.artifacts_dir)
    run = store.create_run(
        experiment.experiment.name,
        spec_text=spec_text,
        params=experiment.model_dump(mode="json"),
        experiment_path=str(experiment_path),
        code_version=f"mlkit {__version__}",
        environment=capture_environment(),
    )
    run_dir = settings.runs_dir / str(run.id)
    if data.stats:
        record_data_stats(store, run.id, data.stats)
    try:
        from mlkit.search.runner import run_search  # imports TensorFlow

        s = experiment.search
        stage(
            f"run {run.id}: AdaNet search, {_count(s.iterations, 'iteration')} of "
            f"{_count(s.steps_per_iteration, 'step')}"
        )
        result = run_search(
            experiment.search,
            data.train,
            data.eval,
            data.test,
            n_classes=data.n_classes,
            model_dir=run_dir,
            on_progress=on_progress,
        )
        metrics = {
            **{
                k: v for k, v in result.metrics.items() if k in ("accuracy", "loss", "average_loss")
            },
            "train_seconds": round(result.seconds, 2),
        }
        stage("registering the exported SavedModel")
        version = store.register_version(
            experiment.experiment.model_name,
            result.export_dir,
            run_id=run.id,
            metrics=metrics,
            signature={
                "inputs": {f.name: list(f.shape) for f in data.feature_specs},
                "task": experiment.search.task,
                "n_classes": data.n_classes,
                "architecture": result.architecture,
            },
            description=experiment.experiment.description,
        )
        store.log_metrics(run.id, metrics, step=result_step(experiment.search))
        run = store.finish_run(
            run.id, status="finished", metrics=metrics, data_fingerprint=data.fingerprint
        )
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            message = "interrupted"
        elif isinstance(exc, MlkitError):
            message = exc.message
        else:
            message = f"{type(exc).__name__}: {exc}"
        store.finish_run(run.id, status="failed", error=message, data_fingerprint=data.fingerprint)
        raise
    finally:
        # The registry holds the SavedModel now; keep checkpoints and TensorBoard events only.
        shutil.rmtree(run_dir / "export", ignore_errors=True)
    return TrainOutcome(
        run=run,
        version=version,
        metrics=metrics,
        rows={
            "train": len(data.train.labels),
            "eval": len(data.eval.labels),
            "test": len(data.test.labels),
        },
        architecture=result.architecture,
        seconds=result.seconds,
    )


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def result_step(search) -> int:
    """The global step the final metrics belong to: every iteration's steps."""
    return int(search.iterations * search.steps_per_iteration)
