"""``mlkit predict NAME --table bq://... --output bq://... --target vertex``: a Vertex AI
BatchPredictionJob, BigQuery in and BigQuery out (the rows never pass through this process).

The registry version is uploaded to Vertex AI's model registry first when it is not there yet
(version alias ``v<N>``, as deployments upload it), then one job runs it over the source table
and writes the predictions into the destination (``bq://project.dataset`` or
``bq://project.dataset.table``), and the call waits for the job. What it costs: Vertex AI bills
the job's machine hours (one ``n1-standard-2`` replica by default) besides BigQuery's read and
write; see docs/serving.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from mlkit.config import Settings
from mlkit.errors import UsageError
from mlkit.registry import open_store

if TYPE_CHECKING:
    from mlkit.workflows.batch_predict import BatchOutcome, BatchRequest

_BQ = "bq://"


def vertex_batch_predict(
    request: BatchRequest,
    settings: Settings,
    on_progress: Callable[[int, int], None] | None = None,
) -> BatchOutcome:
    from mlkit.serving.vertex import VertexClient, vertex_settings
    from mlkit.workflows.batch_predict import BatchOutcome

    if not (request.source.startswith(_BQ) and request.output.startswith(_BQ)):
        raise UsageError(
            "--target vertex reads and writes BigQuery: give --table bq://project.dataset.table "
            "and --output bq://project.dataset[.table]"
        )
    if request.key or request.params or request.replace:
        raise UsageError("--key, --param and --replace are for --target local")
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        mv = store.resolve(request.model)
        client = VertexClient(vertex_settings())
        found = client.uploaded_version(mv.model, mv.version)
        if found is None:
            found = client.upload(
                mv.model,
                mv.version,
                store.artifact_path(mv, verify=True),
                parent_model=client.find_model(mv.model),
                description=mv.description,
            )
    started = time.perf_counter()
    if on_progress:
        on_progress(0, 1)
    result = client.batch_predict(
        found[0],
        found[1],
        source=request.source,
        destination=request.output,
        display_name=f"mlkit-{mv.model}-v{mv.version}",
    )
    if on_progress:
        on_progress(1, 1)
    table = result["output_table"] or result["output_dataset"]
    return BatchOutcome(
        model=mv.model,
        version=mv.version,
        source=request.source,
        output=table if table.startswith(_BQ) else f"{_BQ}{table}",
        rows=result["successful"] + result["failed"] + result["incomplete"],
        written=result["successful"],
        skipped=0,
        failed=result["failed"] + result["incomplete"],
        seconds=time.perf_counter() - started,
        job=result["job"],
    )
