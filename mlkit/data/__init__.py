"""The data service: warehouses, bundled datasets, deterministic splits, arrays and fingerprints.

Everything here speaks Arrow and numpy; TensorFlow is never imported.
"""

from __future__ import annotations

from pathlib import Path

from mlkit.data.bundled import LoadSummary, bundled_names, bundled_table, load_bundled
from mlkit.data.loader import Arrays, FeatureSpec, SplitData, load_splits
from mlkit.data.local import LocalWarehouse
from mlkit.data.split import assign_splits
from mlkit.data.warehouse import TableInfo, Warehouse


def open_warehouse(path: Path | str) -> Warehouse:
    """The warehouse at ``path`` (a local DuckDB file; BigQuery comes later behind the same API)."""
    return LocalWarehouse(Path(path))


__all__ = [
    "Arrays",
    "FeatureSpec",
    "LoadSummary",
    "LocalWarehouse",
    "SplitData",
    "TableInfo",
    "Warehouse",
    "assign_splits",
    "bundled_names",
    "bundled_table",
    "load_bundled",
    "load_splits",
    "open_warehouse",
]
