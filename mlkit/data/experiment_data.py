"""An experiment's ``[data]`` section → a warehouse and a relation → the rows each command reads.

The one place that turns ``source`` (a local table, ``bq://project.dataset.table``, a SQL query
with ``params``), ``backend`` and the BigQuery settings (``project``, ``dataset``,
``credentials``, ``endpoint``, ``storage_endpoint``) plus the local warehouse's path into where
to read. Training (:func:`experiment_data`), promotion (:func:`experiment_evaluation_data`), and
the statistics and drift of a run's source all read through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlkit.config import Settings
from mlkit.data.bigquery import BigQueryConfig
from mlkit.data.evaluation import EvaluationData, load_evaluation_data
from mlkit.data.loader import FeatureSpec, SplitData, load_splits
from mlkit.data.source import BQ_SCHEME, ResolvedSource, resolve_source
from mlkit.data.stats_sql import statistics
from mlkit.data.streamed import StreamedData, scan_splits
from mlkit.data.tabular import TabularOptions
from mlkit.data.training import TrainingData
from mlkit.data.warehouse import Relation, Warehouse, check_table_name
from mlkit.experiment import DataSpec


def bigquery_config(spec: DataSpec) -> BigQueryConfig:
    """Where BigQuery is for this experiment (unset fields fall back to the environment)."""
    return BigQueryConfig(
        project=spec.project,
        dataset=spec.dataset,
        credentials=spec.credentials,
        endpoint=spec.endpoint,
        storage_endpoint=spec.storage_endpoint,
    )


def experiment_source(spec: DataSpec, settings: Settings) -> ResolvedSource:
    """The warehouse and relation the experiment's ``source`` names."""
    return resolve_source(
        spec.source,
        local_path=settings.warehouse_path,
        params=spec.params,
        backend=spec.backend,
        bigquery=bigquery_config(spec),
    )


@dataclass(frozen=True)
class SplitRequest:
    """Where an experiment's splits come from and how they are cut: what the in-memory load
    (:func:`load_splits`) and the streaming pass (:func:`scan_splits`) both take."""

    warehouse: Warehouse
    relation: Relation
    arguments: dict[str, Any]


def split_request(spec: DataSpec, settings: Settings, task: str = "classification") -> SplitRequest:
    features = None
    if isinstance(spec.features, list):
        features = [
            FeatureSpec(name=f.name, shape=tuple(f.shape), kind=f.kind) for f in spec.features
        ]
    source = experiment_source(spec, settings)
    return SplitRequest(
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
            "exclude": tuple(spec.exclude),
            "tabular": TabularOptions(spec.max_categories, spec.min_count),
        },
    )


def load_experiment_data(
    spec: DataSpec, settings: Settings, task: str = "classification"
) -> SplitData:
    """Read the source into memory and split it deterministically, as every run of it does."""
    request = split_request(spec, settings, task)
    return load_splits(request.warehouse, request.relation, **request.arguments)


def stream_experiment_data(
    spec: DataSpec, settings: Settings, task: str = "classification"
) -> StreamedData:
    """The source's splits, streamed: the same rows in each split as the in-memory load (one
    pass for validation, statistics, normalisation constants, samples and the fingerprint)."""
    request = split_request(spec, settings, task)
    return scan_splits(
        request.warehouse,
        request.relation,
        **request.arguments,
        sample_rows=spec.sample_rows,
        shuffle_buffer=spec.shuffle_buffer,
    )


def shared_stream_data(spec: DataSpec, settings: Settings, found: dict[str, Any]) -> StreamedData:
    """A cluster task's streamed splits from the chief's constants
    (:mod:`mlkit.data.stream_constants`): no row is read until training streams its shard."""
    from mlkit.data.stream_constants import streamed_from_constants

    source = experiment_source(spec, settings)
    return streamed_from_constants(
        source.warehouse, source.relation, found, shuffle_buffer=spec.shuffle_buffer
    )


def experiment_data(
    spec: DataSpec, settings: Settings, task: str = "classification"
) -> TrainingData:
    """The experiment's training data: loaded into memory, or streamed from the warehouse when
    it says ``stream = true`` (a source bigger than memory). Its statistics (what the run
    stores, and drift later compares with) are computed inside the warehouse where it runs SQL,
    by the path ``mlkit data stats`` and drift take (:func:`mlkit.data.stats_sql.statistics`):
    exact histograms over every row, and no second pass of the rows through this process."""
    data: StreamedData | SplitData
    if spec.stream:
        data = stream_experiment_data(spec, settings, task)
    else:
        data = load_experiment_data(spec, settings, task)
    request = split_request(spec, settings, task)
    if request.warehouse.sql_dialect() is not None:
        data.stats = statistics(
            request.warehouse,
            request.relation,
            label=spec.label,
            features=[f.name for f in data.feature_specs],
        )
    return data


def evaluation_source(spec: DataSpec, settings: Settings, data: str | None) -> ResolvedSource:
    """Where a version of the experiment is evaluated: its own source, or ``data`` (a local table
    name or ``bq://project.dataset.table``, on the BigQuery the experiment names)."""
    if data is None:
        return experiment_source(spec, settings)
    if not data.strip().startswith(BQ_SCHEME):
        check_table_name(data)
    return resolve_source(data, local_path=settings.warehouse_path, bigquery=bigquery_config(spec))


def experiment_evaluation_data(
    spec: DataSpec,
    settings: Settings,
    *,
    features: Mapping[str, tuple[int, ...]],
    slice_column: str | None = None,
    regression: bool = False,
    data: str | None = None,
    raw_columns: Mapping[str, str] | None = None,
    classes: list[str] | None = None,
) -> EvaluationData:
    """The rows a version trained on this experiment is scored on: the test split of its source
    (cut as its run cut it), or every row of ``data``. ``features``: the model's inputs."""
    source = evaluation_source(spec, settings, data)
    return load_evaluation_data(
        source.warehouse,
        source.relation,
        features=features,
        label=spec.label,
        key=spec.key,
        slice_column=slice_column,
        split=None if data is not None else (spec.split.eval, spec.split.test),
        regression=regression,
        text=source.text,
        raw_columns=raw_columns,
        classes=classes,
    )


__all__ = [
    "SplitRequest",
    "bigquery_config",
    "evaluation_source",
    "experiment_data",
    "experiment_evaluation_data",
    "experiment_source",
    "load_experiment_data",
    "shared_stream_data",
    "split_request",
    "stream_experiment_data",
]
