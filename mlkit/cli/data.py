"""mlkit data: put datasets into the warehouse and see what is there."""

from __future__ import annotations

import typer

from mlkit.cli.output import console, print_json, print_table
from mlkit.config import load_settings

app = typer.Typer(
    help="Load datasets into the warehouse and list its tables.", no_args_is_help=True
)


@app.command("load")
def load(
    dataset: str = typer.Argument(
        ..., help="A bundled dataset: digits, breast_cancer, wine, iris."
    ),
    table: str = typer.Option(
        None, "--table", "-t", help="Table to write (default: the dataset's name)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Load a bundled dataset into the local warehouse (replacing the table if it exists)."""
    from mlkit.data import load_bundled, open_warehouse

    settings = load_settings()
    summary = load_bundled(dataset, open_warehouse(settings.warehouse_path), table=table)
    if as_json:
        print_json(summary)
        return
    console.print(
        f"Loaded {summary.rows:,} rows of {dataset} into table [bold]{summary.table}[/] "
        f"of {settings.warehouse_path}"
    )


@app.command("tables")
def tables(as_json: bool = typer.Option(False, "--json", help="Print the tables as JSON.")) -> None:
    """List the tables in the local warehouse."""
    from mlkit.data import open_warehouse

    infos = open_warehouse(load_settings().warehouse_path).list_tables()
    if as_json:
        print_json(infos)
        return
    print_table(
        "Warehouse tables",
        ["table", "rows", "columns"],
        ([t.name, f"{t.rows:,}", ", ".join(t.columns)] for t in infos),
    )
