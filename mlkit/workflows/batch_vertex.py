"""``mlkit predict NAME --table bq://... --output bq://... --target vertex``: a Vertex AI batch
prediction job (BigQuery in and out)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from mlkit.config import Settings
from mlkit.errors import UsageError

if TYPE_CHECKING:
    from mlkit.workflows.batch_predict import BatchOutcome, BatchRequest


def vertex_batch_predict(
    request: BatchRequest,
    settings: Settings,
    on_progress: Callable[[int, int], None] | None = None,
) -> BatchOutcome:
    raise UsageError("--target vertex with --table is not available yet; use --target local")
