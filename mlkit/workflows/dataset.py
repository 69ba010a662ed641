"""An experiment's ``[data]`` section → the data layer's train/eval/test arrays."""

from __future__ import annotations

from mlkit.config import Settings
from mlkit.data import FeatureSpec, SplitData, load_splits, open_warehouse
from mlkit.experiment import DataSpec


def load_experiment_data(
    spec: DataSpec, settings: Settings, task: str = "classification"
) -> SplitData:
    """Read the source table and split it deterministically, exactly as every run of it does."""
    features = None
    if spec.features is not None:
        features = [FeatureSpec(name=f.name, shape=tuple(f.shape)) for f in spec.features]
    return load_splits(
        open_warehouse(settings.warehouse_path),
        spec.source,
        label=spec.label,
        features=features,
        key=spec.key,
        eval_fraction=spec.split.eval,
        test_fraction=spec.split.test,
        regression=task == "regression",
    )
