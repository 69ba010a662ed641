"""An experiment's ``[data]`` section → the data layer's train/eval/test arrays."""

from __future__ import annotations

from typing import Any

from mlkit.config import Settings
from mlkit.data import FeatureSpec, SplitData, load_splits
from mlkit.data.bigquery import BigQueryConfig
from mlkit.data.source import ResolvedSource, resolve_source
from mlkit.experiment import DataSpec


def bigquery_config(spec: DataSpec) -> BigQueryConfig:
    return BigQueryConfig(
        project=spec.project,
        dataset=spec.dataset,
        credentials=spec.credentials,
        endpoint=spec.endpoint,
        storage_endpoint=spec.storage_endpoint,
    )


def experiment_source(spec: DataSpec, settings: Settings) -> ResolvedSource:
    return resolve_source(
        spec.source,
        local_path=settings.warehouse_path,
        params=spec.params,
        backend=spec.backend,
        bigquery=bigquery_config(spec),
    )


def split_arguments(
    spec: DataSpec, settings: Settings, task: str = "classification"
) -> tuple[Any, Any, dict[str, Any]]:
    """``(warehouse, relation, keyword arguments)`` that split an experiment's source, as the
    in-memory load (:func:`load_splits`) and the streaming pass (``scan_splits``) both take them."""
    features = None
    if spec.features is not None:
        features = [FeatureSpec(name=f.name, shape=tuple(f.shape)) for f in spec.features]
    source = experiment_source(spec, settings)
    return (
        source.warehouse,
        source.relation,
        {
            "label": spec.label,
            "features": features,
            "key": spec.key,
            "eval_fraction": spec.split.eval,
            "test_fraction": spec.split.test,
            "extra_columns": tuple(spec.extra_columns),
            "regression": task == "regression",
        },
    )


def load_experiment_data(
    spec: DataSpec, settings: Settings, task: str = "classification"
) -> SplitData:
    """Read the source and split it deterministically, exactly as every run of it does."""
    warehouse, relation, arguments = split_arguments(spec, settings, task)
    return load_splits(warehouse, relation, **arguments)
