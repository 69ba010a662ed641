"""A run's data statistics in and out of the registry. (An experiment's ``[data]`` section is
read by :mod:`mlkit.data.experiment_data`.)"""

from __future__ import annotations

from typing import Any


def record_data_stats(store: Any, run_id: int, stats: dict[str, Any]) -> None:
    """Store a run's data statistics in ``runs.data_stats`` (one transaction)."""
    from sqlalchemy import update

    from mlkit.registry.schema import RunRow

    with store.engine.begin() as conn:
        conn.execute(update(RunRow).where(RunRow.id == run_id).values(data_stats=stats))


def run_data_stats(store: Any, run_id: int) -> dict[str, Any] | None:
    """A run's data statistics, or None when it has none (or does not exist)."""
    from sqlalchemy import select

    from mlkit.registry.schema import RunRow

    with store.engine.connect() as conn:
        return conn.execute(select(RunRow.data_stats).where(RunRow.id == run_id)).scalar()
