"""Retention of the prediction log: what was answered before a cut-off is deleted from the log
table and its labels table (``mlkit data prune-log``, docs/monitoring.md "Retention").

The local warehouse deletes and checkpoints: the file does not shrink, but DuckDB reuses the
freed blocks for later appends, so a log pruned on a schedule stops growing. BigQuery runs one
DML ``DELETE`` per table. A server writing to the log at the same time is not stopped: a local
prune takes the file between two of its flushes (each waits up to 5 s for the other).
"""

from __future__ import annotations

from dataclasses import dataclass

from mlkit.data.warehouse import Warehouse
from mlkit.errors import DataError, TableNotFound

TIME_COLUMN = "at"  # when an answer (or a truth) was recorded, epoch seconds
LOG_COLUMNS = ("request_id", TIME_COLUMN, "model", "version", "instance", "prediction")


@dataclass(frozen=True)
class Pruned:
    """What one prune deleted: rows answered before ``before`` (epoch seconds)."""

    where: str  # the warehouse, in one line
    table: str
    before: float
    deleted: int
    labels_table: str | None  # None: the log has no labels table
    labels_deleted: int


def prune_log(
    warehouse: Warehouse, table: str, before: float, *, labels_table: str | None = None
) -> Pruned:
    """Delete what ``table`` (a prediction log) and its labels table (``labels_table``, default
    the log's name + ``_labels``, when it exists) recorded before ``before``. A table that is not
    a prediction log is refused before anything is deleted."""
    try:
        columns = set(warehouse.schema(table).names)
    except TableNotFound as error:
        raise TableNotFound(
            error.message,
            hint="`mlkit serve` creates the log with its first answer; --log names another table",
        ) from None
    missing = [c for c in LOG_COLUMNS if c not in columns]
    if missing:
        raise DataError(
            f"table '{table}' is not a prediction log: it has no column "
            + ", ".join(f"'{c}'" for c in missing),
            hint="give the table `mlkit serve --log` writes (default prediction_log)",
        )
    labels = labels_table or f"{table}_labels"
    has_labels = warehouse.has_table(labels)
    deleted = warehouse.delete_before(table, TIME_COLUMN, before)
    labels_deleted = warehouse.delete_before(labels, TIME_COLUMN, before) if has_labels else 0
    return Pruned(
        where=warehouse.describe(),
        table=table,
        before=before,
        deleted=deleted,
        labels_table=labels if has_labels else None,
        labels_deleted=labels_deleted,
    )


__all__ = ["LOG_COLUMNS", "TIME_COLUMN", "Pruned", "prune_log"]
