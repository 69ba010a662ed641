"""mlkit data: put datasets into a warehouse, list its tables, summarise a source, check drift."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from mlkit.cli.output import console, print_json, print_table
from mlkit.config import load_settings

if TYPE_CHECKING:
    from mlkit.workflows.data_reports import DriftReport

app = typer.Typer(
    help="Load datasets into a warehouse (local or BigQuery), list tables, statistics and drift.",
    no_args_is_help=True,
)

_SOURCE_HELP = (
    "A local table, bq://project.dataset.table, or a SQL query (SELECT ...) with @params."
)


def _params(values: list[str] | None) -> dict:
    """``--param name=value`` options → query parameters (numbers where they parse)."""
    from mlkit.errors import UsageError

    out: dict = {}
    for item in values or []:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"invalid --param {item!r}: expected NAME=VALUE, e.g. max_label=4")
        value: object = text
        for kind in (int, float):
            try:
                value = kind(text)
                break
            except ValueError:
                continue
        out[name.strip()] = value
    return out


@app.command("load")
def load(
    dataset: str = typer.Argument(
        ...,
        help="A bundled dataset (digits, breast_cancer, wine, iris, diabetes, penguins), an "
        "MNIST-format IDX images file (with --labels), or a .csv / .parquet file.",
    ),
    table: str = typer.Option(
        None,
        "--table",
        "-t",
        help="Table to write: a local name or bq://project.dataset.table (default: the "
        "dataset's name, locally).",
    ),
    labels: str = typer.Option(None, "--labels", help="IDX labels file for IDX images."),
    pixels: str = typer.Option(
        "array",
        "--pixels",
        help="How to store image pixels: array (ARRAY<INT64>), bytes (BYTES, compact) or string "
        "(comma-separated).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Load a dataset into the local warehouse or BigQuery (replacing the table if it exists)."""
    from mlkit.workflows.ingest import load_table

    loaded = load_table(load_settings(), dataset, table, labels=labels, pixels=pixels)
    if as_json:
        print_json(loaded.summary)
        return
    from rich.markup import escape

    console.print(
        f"Loaded {loaded.summary.rows:,} rows of {escape(dataset)} into table "
        f"[bold]{escape(loaded.summary.table)}[/] of {escape(loaded.warehouse)}"
    )


@app.command("tables")
def tables(
    warehouse_name: str = typer.Option(
        None, "--warehouse", "-w", help="bq://project.dataset to list BigQuery tables."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the tables as JSON."),
) -> None:
    """List the tables in the local warehouse (or a BigQuery dataset)."""
    from mlkit.data.source import open_target

    warehouse = open_target(warehouse_name, local_path=load_settings().warehouse_path)
    infos = warehouse.list_tables()
    if as_json:
        print_json(infos)
        return
    print_table(
        f"Tables of {warehouse.describe()}",
        ["name", "rows", "columns"],  # the --json field names
        ([t.name, f"{t.rows:,}", ", ".join(t.columns)] for t in infos),
    )


def _stats_rows(stats: dict):
    for name, s in stats["features"].items():
        per_row = s.get("values_per_row")
        head = [name + (f" [{per_row}]" if per_row else ""), s.get("kind", "numeric")]
        counts = [f"{s['count']:,}", f"{s['missing']:,}"]
        if s.get("kind") == "categorical":
            top = ", ".join(f"{t['value']} {t['share']:.0%}" for t in s["top"][:4])
            more = f" (+{s['distinct'] - 4} more)" if s["distinct"] > 4 else ""
            yield [*head, *counts, "-", "-", "-", "-", "-", f"{s['distinct']}", f"{top}{more}"]
            continue
        median = (s.get("quantiles") or {}).get("p50")
        yield [
            *head,
            *counts,
            *(_num(s[k]) for k in ("mean", "std", "min", "max")),
            "" if median is None else _num(median),
            "",
            "",
        ]


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


@app.command("stats")
def stats(
    source: str = typer.Argument(..., help=_SOURCE_HELP),
    label: str = typer.Option(None, "--label", "-l", help="The label column (its distribution)."),
    skip: list[str] = typer.Option(None, "--skip", help="Columns to leave out (e.g. the key)."),
    param: list[str] = typer.Option(None, "--param", "-p", help="Query parameter NAME=VALUE."),
    backend: str = typer.Option(
        None, "--backend", help="Where a SQL query runs: local (default) or bigquery."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the statistics as JSON."),
) -> None:
    """Per-feature statistics of a table or query: count, missing, mean, std, min, max; label
    distribution."""
    from mlkit.workflows.data_reports import source_stats

    report = source_stats(
        load_settings(), source, label=label, skip=skip, params=_params(param), backend=backend
    )
    if as_json:
        print_json(report.stats)
    else:
        _render_stats(report.source, report.stats)


def _render_stats(source: str, result: dict) -> None:
    print_table(
        f"{source}: {result['rows']:,} rows",
        # The headers are the --json field names of each of ``features`` (feature: its key).
        ["feature", "kind", "count", "missing", "mean", "std", "min", "max", "quantiles.p50"]
        + ["distinct", "top"],
        _stats_rows(result),
    )
    if "label" in result:
        dist = result["label"]["distribution"]
        total = sum(dist.values()) or 1
        print_table(
            f"Label {result['label']['name']} ({result['label']['missing']} missing)",
            # label.distribution: {value: rows}; share: the rows' fraction of the total
            ["value", "rows", "share"],
            ([k, f"{v:,}", f"{v / total:.1%}"] for k, v in dist.items()),
        )


@app.command("drift")
def drift(
    source: str = typer.Argument(
        None, help=_SOURCE_HELP + " Default: the run's own source (its experiment's data section)."
    ),
    against: int = typer.Option(..., "--against", help="The training run to compare with."),
    param: list[str] = typer.Option(None, "--param", "-p", help="Query parameter NAME=VALUE."),
    backend: str = typer.Option(
        None, "--backend", help="Where a SQL query runs: local (default) or bigquery."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
    fail_on_drift: bool = typer.Option(
        True,
        "--fail-on-drift/--no-fail-on-drift",
        help="Exit 8 when drift is flagged (default), or only report it.",
    ),
) -> None:
    """Compare a source's statistics with a training run's; flag features whose distribution
    moved (PSI above 0.2, the mean moved over half a standard deviation, new categories); exit 8
    when one did."""
    from mlkit.workflows.data_reports import drift_against_run

    report = drift_against_run(
        load_settings(), against, source, params=_params(param), backend=backend
    )
    if as_json:
        print_json(
            {
                "run": against,
                "source": report.source,
                "drifted": len(report.drifted),
                "features": report.features,
            }
        )
    else:
        _render_drift(report, against)
    report.check(fail_on_drift)


@app.command("prune-log")
def prune_log(
    older_than: str = typer.Option(
        ..., "--older-than", help="Delete what was answered before this: 30d, 12h or an ISO time."
    ),
    log: str = typer.Option(
        None,
        "--log",
        help="The log table: a local name or bq://project.dataset.table (default: prediction_log).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print what was deleted as JSON."),
) -> None:
    """Delete the prediction log's rows (and its labels') older than a cut-off, e.g. from cron:
    the log's retention. Recorded as an event in the registry."""
    from datetime import datetime

    from mlkit.workflows.log_retention import prune

    pruned = prune(load_settings(), older_than, log)
    if as_json:
        print_json(pruned)
        return
    when = datetime.fromtimestamp(pruned.before).isoformat(timespec="seconds")
    console.print(
        f"Deleted {pruned.deleted} rows of '{pruned.table}' answered before {when} "
        f"({pruned.where})",
        highlight=False,
    )
    if pruned.labels_table:
        console.print(
            f"Deleted {pruned.labels_deleted} rows of '{pruned.labels_table}'", highlight=False
        )


def _render_drift(report: DriftReport, against: int) -> None:
    moved, result = report.drifted, report.features
    print_table(
        f"{report.source} against run {against}",
        # The headers are the --json field names of ``features`` (mean_shift: in the run's sd).
        ["feature", "psi", "mean_before", "mean_after", "mean_shift", "drifted", "reason"],
        ([d.feature, _num(d.psi), _num(d.mean_before), _num(d.mean_after), _num(d.mean_shift),
          "[red]yes[/]" if d.drifted else "no", d.reason if d.drifted else ""] for d in result),
    )  # fmt: skip
    console.print(
        f"{len(moved)} of {len(result)} features drifted"
        if moved
        else f"No drift: all {len(result)} features within thresholds"
    )
