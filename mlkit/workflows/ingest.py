"""``mlkit data load``: a dataset or file → the warehouse ``-t`` names (local, or BigQuery)."""

from __future__ import annotations

from dataclasses import dataclass

from mlkit.config import Settings
from mlkit.data import LoadSummary

__all__ = ["Loaded", "load_table"]


@dataclass(frozen=True)
class Loaded:
    summary: LoadSummary  # what was written: the table and its rows
    warehouse: str  # how messages name the warehouse written to


def load_table(
    settings: Settings,
    dataset: str,
    table: str | None,
    *,
    labels: str | None = None,
    pixels: str = "array",
) -> Loaded:
    """Write ``dataset`` as ``table`` (``bq://project.dataset.table``, a local name, or None: the
    dataset's own name in the local warehouse), replacing the table if it exists."""
    from mlkit.data.ingest import load_dataset
    from mlkit.data.source import table_target

    warehouse, name = table_target(table, local_path=settings.warehouse_path)
    summary = load_dataset(dataset, warehouse, name, labels=labels, pixels_form=pixels)
    return Loaded(summary, warehouse.describe())
