"""The data service: warehouses, bundled datasets, deterministic splits, arrays and fingerprints.

Everything here speaks Arrow and numpy; TensorFlow is never imported.
"""

from __future__ import annotations

from pathlib import Path

from mlkit.data.bigquery import BigQueryConfig, BigQueryWarehouse
from mlkit.data.bundled import LoadSummary, bundled_names, bundled_table, load_bundled
from mlkit.data.evaluation import EvaluationData
from mlkit.data.ingest import load_dataset
from mlkit.data.loader import Arrays, FeatureSpec, SplitData, load_splits
from mlkit.data.local import LocalWarehouse
from mlkit.data.split import assign_splits
from mlkit.data.training import TrainingData, TrainingSplit
from mlkit.data.warehouse import Query, TableInfo, Warehouse


def open_warehouse(path: Path | str) -> Warehouse:
    """The local warehouse at ``path`` (a DuckDB file); BigQuery is :class:`BigQueryWarehouse`."""
    return LocalWarehouse(Path(path))


__all__ = [
    "Arrays",
    "BigQueryConfig",
    "BigQueryWarehouse",
    "EvaluationData",
    "Query",
    "load_dataset",
    "FeatureSpec",
    "LoadSummary",
    "LocalWarehouse",
    "SplitData",
    "TableInfo",
    "TrainingData",
    "TrainingSplit",
    "Warehouse",
    "assign_splits",
    "bundled_names",
    "bundled_table",
    "load_bundled",
    "load_splits",
    "open_warehouse",
]
