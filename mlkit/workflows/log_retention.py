"""``mlkit data prune-log``: the prediction log's retention, recorded in the registry."""

from __future__ import annotations

import time

from mlkit.config import Settings
from mlkit.data.source import table_target
from mlkit.errors import UsageError
from mlkit.monitoring.log import LOG_TABLE
from mlkit.monitoring.retention import Pruned, prune_log
from mlkit.registry import open_store
from mlkit.workflows.monitor import PRUNED_EVENT, parse_since


def prune(settings: Settings, older_than: str, log: str | None = None) -> Pruned:
    """Delete from ``log`` (a local table or ``bq://project.dataset.table``; default the local
    ``prediction_log``) and its labels what was recorded before ``older_than`` (``30d``, ``12h``
    or an ISO time), then record a ``prediction_log_pruned`` event (which ``mlkit monitor``
    shows)."""
    now = time.time()
    before = parse_since(older_than, now=now, option="--older-than")
    if before is None:
        raise UsageError("--older-than is empty: expected a span such as 30d, or an ISO time")
    if before > now:
        raise UsageError(
            f"--older-than {older_than!r} is in the future: it would delete every answer; "
            "expected a span such as 30d, or a past ISO time"
        )
    warehouse, table = table_target(log or LOG_TABLE, local_path=settings.warehouse_path)
    pruned = prune_log(warehouse, table or LOG_TABLE, before)
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        store.record_event(
            PRUNED_EVENT,
            payload={
                "where": pruned.where,
                "table": pruned.table,
                "before": pruned.before,
                "deleted": pruned.deleted,
                "labels_deleted": pruned.labels_deleted,
            },
        )
    return pruned


__all__ = ["prune"]
