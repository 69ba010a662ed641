"""mlkit serve: the local endpoint."""

from __future__ import annotations

import typer

from mlkit.cli.output import console
from mlkit.config import DEFAULT_ENDPOINT_PORT, load_settings


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback by default)."),
    port: int = typer.Option(DEFAULT_ENDPOINT_PORT, "--port", min=0, max=65535, help="Port."),
    endpoint: str = typer.Option(
        "local", "--endpoint", help="Serve the deployments the registry records for this endpoint."
    ),
    token: str = typer.Option(
        None,
        "--token",
        envvar="MLKIT_ENDPOINT_TOKEN",
        help="Require 'Authorization: Bearer TOKEN' (default: MLKIT_ENDPOINT_TOKEN; none: open).",
        show_default=False,
    ),
    idle_unload: float = typer.Option(
        300.0, "--idle-unload", min=0, help="Unload a version unused this many seconds (0: never)."
    ),
    max_batch: int = typer.Option(
        256, "--max-batch", min=1, help="Most rows the server batches into one model call."
    ),
    batch_wait_ms: float = typer.Option(
        2.0, "--batch-wait-ms", min=0, max=1000, help="How long a batch waits for more requests."
    ),
    max_instances: int = typer.Option(
        10_000, "--max-instances", min=1, help="Most instances one request may carry."
    ),
    max_body_mb: float = typer.Option(
        8.0, "--max-body-mb", min=0.001, help="Largest request body accepted, in MiB."
    ),
) -> None:
    """Serve the deployed versions over HTTP until interrupted; deployments apply live."""
    from mlkit.workflows.serve import exposed_without_token
    from mlkit.workflows.serve import serve as run_serve

    if exposed_without_token(host, token):
        console.print(
            f"[yellow]Warning:[/] serving on {host} without a token: anyone who can reach it can "
            "call it (set --token or MLKIT_ENDPOINT_TOKEN)."
        )

    def on_ready(address: tuple[str, int]) -> None:
        console.print(
            f"Local endpoint listening on http://{address[0]}:{address[1]} "
            "(POST /v1/models/NAME:predict, /v1/endpoints/NAME:predict); Ctrl-C stops it."
        )

    run_serve(
        load_settings(),
        host=host,
        port=port,
        on_ready=on_ready,
        endpoint=endpoint,
        token=token or None,
        idle_unload_s=idle_unload,
        max_batch_rows=max_batch,
        batch_wait_ms=batch_wait_ms,
        max_instances=max_instances,
        max_body_bytes=int(max_body_mb * 1024 * 1024),
    )
