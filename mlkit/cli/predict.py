"""mlkit predict: send instances to the endpoint serving a model (local or Vertex AI)."""

from __future__ import annotations

from typing import Annotated

import typer

from mlkit.cli.batch_predict import Backend, BatchRows, Key, Output, Params, Replace, Table
from mlkit.cli.output import print_json, print_table
from mlkit.config import load_settings

Instances = Annotated[
    str | None,
    typer.Option(
        "--instances", "-i", help='JSON file: {"instances": [...]} or a list; - for stdin.'
    ),
]
Url = Annotated[
    str | None,
    typer.Option("--url", help="Endpoint URL (default: MLKIT_ENDPOINT_URL or local)."),
]
Target = Annotated[
    str,
    typer.Option(
        "--target",
        help="local (the local endpoint; with --table: this process), vertex or cloudrun.",
    ),
]
Version = Annotated[
    int | None,
    typer.Option("--version", min=1, help="Ask this deployed version (local endpoint only)."),
]
Alias = Annotated[
    str | None,
    typer.Option("--label", help="Ask the version of this alias, e.g. champion (local only)."),
]
Token = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="MLKIT_ENDPOINT_TOKEN",
        help="Bearer token of the local endpoint (default: MLKIT_ENDPOINT_TOKEN).",
        show_default=False,
    ),
]


def predict(
    name: str = typer.Argument(..., help="The model: NAME, NAME:VERSION or NAME@ALIAS."),
    instances: Instances = None,
    table: Table = None,
    output: Output = None,
    key: Key = None,
    batch_rows: BatchRows = 8192,
    replace: Replace = False,
    param: Params = None,
    backend: Backend = None,
    url: Url = None,
    target: Target = "local",
    version: Version = None,
    label: Alias = None,
    token: Token = None,
    as_json: bool = typer.Option(False, "--json", help="Print the endpoint's answer as JSON."),
) -> None:
    """Ask the endpoint serving a model (local or Vertex AI) for predictions; or, with --table,
    predict a whole table with a registered version in this process (--target vertex: a Vertex
    AI batch prediction job) and write the predictions to --output."""
    if table is not None:
        from mlkit.cli.batch_predict import run_batch

        run_batch(name, table, output, key, batch_rows, replace, param, backend, target, as_json)
        return
    from mlkit.workflows.predict import PredictRequest
    from mlkit.workflows.predict import predict as ask

    request = PredictRequest(name, instances or "", target, url, version, label, token)
    answer = ask(request, load_settings())
    if as_json:
        print_json(answer.raw)
        return
    title = f"{name} version {answer.version}{answer.where}"
    print_table(title, ["instance", "prediction", "confidence"], answer.rows)
