"""mlkit config: the effective settings and where each one came from."""

from __future__ import annotations

import typer

from mlkit.cli.output import print_json, print_table
from mlkit.config import effective_settings, load_settings


def config(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """Show the project folder, the registry, warehouse, artifacts, runs, endpoint and Google
    projects this command line would use, and where each came from (mlkit.toml, MLKIT_*...)."""
    rows = effective_settings(load_settings())
    if as_json:
        print_json({name: {"value": value, "source": source} for name, value, source in rows})
        return
    print_table("Settings", ["setting", "value", "source"], rows, markup=False)
