"""The batch side of ``mlkit predict``: ``--table SOURCE --output TABLE`` (options and rendering;
the work is :func:`mlkit.workflows.batch_predict.batch_predict`)."""

from __future__ import annotations

from typing import Annotated

import typer

from mlkit.cli.output import StepProgress, console, print_json

Table = Annotated[
    str | None,
    typer.Option(
        "--table",
        help="Predict every row of this source: a local table, bq://project.dataset.table, "
        "a SQL query, or a .csv/.parquet file (no endpoint needed).",
    ),
]
Output = Annotated[
    str | None,
    typer.Option(
        "--output",
        "-o",
        help="Where --table's predictions go: a local table, bq://project.dataset.table or a "
        ".csv/.parquet file. A job run again resumes: rows already there are not predicted again.",
    ),
]
Key = Annotated[
    str | None, typer.Option("--key", help="The key column (default: the run's key, else id).")
]
BatchRows = Annotated[int, typer.Option("--batch-rows", min=1, help="Rows per batch (--table).")]
Replace = Annotated[
    bool, typer.Option("--replace", help="Overwrite --output instead of resuming it.")
]
Params = Annotated[
    list[str] | None, typer.Option("--param", "-p", help="Query parameter NAME=VALUE (--table).")
]
Backend = Annotated[
    str | None,
    typer.Option("--backend", help="Where a SQL --table runs: local (default) or bigquery."),
]


def run_batch(
    name: str,
    table: str,
    output: str | None,
    key: str | None,
    batch_rows: int,
    replace: bool,
    params: list[str] | None,
    backend: str | None,
    target: str,
    as_json: bool,
) -> None:
    from mlkit.cli.data import _params
    from mlkit.config import load_settings
    from mlkit.workflows.batch_predict import BatchRequest, batch_predict

    request = BatchRequest(
        name, table, output or "", key, _params(params), backend, batch_rows, replace, target
    )
    with StepProgress(f"predicting {table}", enabled=not as_json) as progress:
        outcome = batch_predict(request, load_settings(), on_progress=progress.update)
    if as_json:
        print_json({**outcome.__dict__, "rows_per_s": round(outcome.rows_per_s, 1)})
        return
    if outcome.job:
        failed = f", {outcome.failed:,} failed" if outcome.failed else ""
        console.print(
            f"{outcome.model} version {outcome.version}: Vertex AI job {outcome.job} wrote "
            f"{outcome.written:,} rows to {outcome.output}{failed} ({outcome.seconds:.1f} s)"
        )
        return
    resumed = f", {outcome.skipped:,} already there" if outcome.skipped else ""
    console.print(
        f"{outcome.model} version {outcome.version}: {outcome.written:,} rows predicted into "
        f"{outcome.output}{resumed} ({outcome.seconds:.1f} s, {outcome.rows_per_s:,.0f} rows/s)"
    )
