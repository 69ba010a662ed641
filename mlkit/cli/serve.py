"""mlkit serve: the local endpoint."""

from __future__ import annotations

from typing import Annotated

import typer

from mlkit.cli.output import console, err_console
from mlkit.config import DEFAULT_ENDPOINT_PORT, load_settings

Host = Annotated[str, typer.Option("--host", help="Address to bind (loopback by default).")]
Port = Annotated[int, typer.Option("--port", min=0, max=65535, help="Port.")]
ServedEndpoint = Annotated[
    str,
    typer.Option(
        "--endpoint", help="Serve the deployments the registry records for this endpoint."
    ),
]
Token = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="MLKIT_ENDPOINT_TOKEN",
        help="Require 'Authorization: Bearer TOKEN' (default: MLKIT_ENDPOINT_TOKEN; none: open). "
        "Prefer the variable or --token-file: an argument shows in `ps`.",
        show_default=False,
    ),
]
TokenFile = Annotated[
    str | None,
    typer.Option(
        "--token-file",
        envvar="MLKIT_ENDPOINT_TOKEN_FILE",
        help="Read the token from the first line of this file (MLKIT_ENDPOINT_TOKEN_FILE).",
        show_default=False,
    ),
]
LogLevel = Annotated[
    str | None,
    typer.Option(
        "--log-level",
        help="Log JSON lines on stderr at this level: debug, info (with the access log), "
        "warning, error (default: quiet).",
        show_default=False,
    ),
]
# How the server batches and what it accepts.
IdleUnload = Annotated[
    float,
    typer.Option(
        "--idle-unload", min=0, help="Unload a version unused this many seconds (0: never)."
    ),
]
MaxBatch = Annotated[
    int,
    typer.Option("--max-batch", min=1, help="Most rows the server batches into one model call."),
]
BatchWait = Annotated[
    float,
    typer.Option(
        "--batch-wait-ms", min=0, max=1000, help="How long a batch waits for more requests."
    ),
]
MaxInstances = Annotated[
    int, typer.Option("--max-instances", min=1, help="Most instances one request may carry.")
]
MaxBodyMb = Annotated[
    float, typer.Option("--max-body-mb", min=0.001, help="Largest request body accepted, in MiB.")
]
MaxConnections = Annotated[
    int, typer.Option("--max-connections", min=1, help="Open connections (idle ones give way).")
]
MaxQueue = Annotated[
    int, typer.Option("--max-queue", min=1, help="Requests waiting for a model before 503s.")
]
BodyTimeout = Annotated[
    float, typer.Option("--body-timeout", min=0.01, help="Seconds a request body may take (408).")
]

# The prediction log (docs/monitoring.md).
Log = Annotated[
    str,
    typer.Option(
        "--log", help="Log each answer to this table (local, or bq://project.dataset.table)."
    ),
]
NoLog = Annotated[bool, typer.Option("--no-log", help="Do not log the answers.")]
LogSample = Annotated[
    float, typer.Option("--log-sample", min=0.0, max=1.0, help="Share of requests logged.")
]
LogFlush = Annotated[
    float,
    typer.Option(
        "--log-flush-s", min=0.01, help="Each answer is written to the log within these seconds."
    ),
]


def serve(
    host: Host = "127.0.0.1",
    port: Port = DEFAULT_ENDPOINT_PORT,
    endpoint: ServedEndpoint = "local",
    token: Token = None,
    token_file: TokenFile = None,
    idle_unload: IdleUnload = 300.0,
    max_batch: MaxBatch = 256,
    batch_wait_ms: BatchWait = 2.0,
    max_instances: MaxInstances = 10_000,
    max_body_mb: MaxBodyMb = 8.0,
    max_connections: MaxConnections = 512,
    max_queue: MaxQueue = 256,
    body_timeout: BodyTimeout = 30.0,
    log_level: LogLevel = None,
    log: Log = "prediction_log",
    no_log: NoLog = False,
    log_sample: LogSample = 1.0,
    log_flush_s: LogFlush = 1.0,
) -> None:
    """Serve the deployed versions over HTTP until interrupted; deployments apply live.
    SIGTERM answers the requests in flight, then exits 0."""
    from mlkit.workflows.serve import serve as run_serve

    run_serve(
        load_settings(), host=host, port=port, on_ready=_listening, warn=_warn,
        endpoint=endpoint, token=token, token_file=token_file, log_level=log_level,
        idle_unload_s=idle_unload, max_batch_rows=max_batch, batch_wait_ms=batch_wait_ms,
        max_instances=max_instances, max_body_bytes=int(max_body_mb * 1024 * 1024),
        max_connections=max_connections, max_queue=max_queue, body_timeout_s=body_timeout,
        log=None if no_log else log, log_sample=log_sample, log_flush_s=log_flush_s,
    )  # fmt: skip


def _warn(message: str) -> None:
    err_console.print(f"[yellow]Warning:[/] {message}", highlight=False, soft_wrap=True)


def _listening(address: tuple[str, int]) -> None:
    console.print(
        f"Local endpoint listening on http://{address[0]}:{address[1]} "
        "(POST /v1/models/NAME:predict, /v1/endpoints/NAME:predict); Ctrl-C stops it."
    )
