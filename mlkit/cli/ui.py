"""mlkit ui: the web dashboard over the registry (read-only)."""

from __future__ import annotations

from typing import Annotated

import typer

from mlkit.cli.output import console
from mlkit.config import load_settings

Token = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="MLKIT_UI_TOKEN",
        help="Require 'Authorization: Bearer TOKEN' or ?token=TOKEN once per browser "
        "(default: MLKIT_UI_TOKEN; none: open).",
        show_default=False,
    ),
]
TensorBoard = Annotated[
    str | None,
    typer.Option("--tensorboard", help="A running TensorBoard's URL, linked from run pages."),
]


def ui(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback by default)."),
    port: int = typer.Option(8790, "--port", min=0, max=65535, help="Port (0: a free one)."),
    token: Token = None,
    tensorboard: TensorBoard = None,
) -> None:
    """Serve the dashboard (models, versions, verdicts, runs, endpoints) until interrupted."""
    from mlkit.ui.server import serve
    from mlkit.workflows.serve import exposed_without_token

    if exposed_without_token(host, token):
        console.print(
            f"[yellow]Warning:[/] the dashboard on {host} has no token: anyone who can reach it "
            "can read the registry (set --token or MLKIT_UI_TOKEN)."
        )
    serve(
        load_settings(), host=host, port=port, token=token or None, tensorboard=tensorboard,
        on_ready=lambda url: console.print(f"Dashboard on {url} (read-only); Ctrl-C stops it."),
    )  # fmt: skip
