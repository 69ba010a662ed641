"""mlkit serve: the local endpoint."""

from __future__ import annotations

import typer

from mlkit.cli.output import console
from mlkit.config import DEFAULT_ENDPOINT_PORT, load_settings


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback by default)."),
    port: int = typer.Option(DEFAULT_ENDPOINT_PORT, "--port", min=0, max=65535, help="Port."),
) -> None:
    """Serve the deployed versions over HTTP until interrupted; deployments apply live."""
    from mlkit.workflows.serve import serve as run_serve

    def on_ready(address) -> None:
        console.print(
            f"Local endpoint listening on http://{address[0]}:{address[1]} "
            "(POST /v1/models/NAME:predict); Ctrl-C stops it."
        )

    run_serve(load_settings(), host=host, port=port, on_ready=on_ready)
