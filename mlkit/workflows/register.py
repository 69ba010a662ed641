"""``mlkit models register NAME PATH --experiment FILE``: a SavedModel trained outside mlkit as the
next version of a model, comparable and deployable like any other.

The SavedModel is loaded and its signature checked (a ``serving_default`` or ``predict`` taking
the features, as mlkit's endpoint calls it) before anything is written; the experiment file gives
what a verdict needs (the data, its test split, the promotion policy), recorded as a run of that
experiment tagged ``source = external`` (no training). The registry copies and hashes the
directory as for a trained version. Its metrics are measured when it is compared or deployed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlkit import __version__
from mlkit.config import Settings
from mlkit.errors import ServingError, UsageError
from mlkit.experiment import load_experiment
from mlkit.registry import ModelVersion, open_store


def _checked_signature(path: Path) -> dict[str, Any]:
    """What serving needs to call the SavedModel at ``path``; UsageError when it cannot."""
    from mlkit.savedmodel import SavedModelRunner  # imports TensorFlow

    try:
        runner = SavedModelRunner(path)
    except ServingError as exc:
        raise UsageError(f"PATH: {exc.message}") from exc
    outputs = set(runner.output_names)
    classification = bool(outputs & {"probabilities", "class_ids", "logits"})
    return {
        "inputs": {name: [d for d in shape] for name, shape in runner.input_spec.items()},
        "storage_forms": dict(runner.storage_forms),
        "task": "classification" if classification else "regression",
        "signature_name": runner.signature_name,
        "outputs": sorted(outputs),
    }


def register_saved_model(
    settings: Settings,
    name: str,
    path: Path,
    *,
    experiment_path: Path,
    description: str = "",
) -> ModelVersion:
    """Check the SavedModel at ``path``, record ``experiment_path`` as its run, register it."""
    path = Path(path)
    if not (path / "saved_model.pb").is_file():
        raise UsageError(f"PATH: {path} is not a SavedModel directory (no saved_model.pb)")
    experiment, spec_text = load_experiment(experiment_path)
    signature = _checked_signature(path)
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        run = store.create_run(
            experiment.experiment.name,
            spec_text=spec_text,
            params=experiment.model_dump(mode="json"),
            experiment_path=str(experiment_path),
            code_version=f"mlkit {__version__} (registered, trained elsewhere)",
            tags={"source": "external", "path": str(path.resolve())},
        )
        run = store.finish_run(run.id, status="finished", metrics={})
        return store.register_version(
            name,
            path,
            run_id=run.id,
            signature=signature,
            description=description or f"registered from {path.resolve()}",
            tags={"source": "external"},
        )
