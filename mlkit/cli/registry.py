"""mlkit registry: the registry database itself."""

from __future__ import annotations

import typer

from mlkit.cli.output import console, print_json
from mlkit.config import load_settings

app = typer.Typer(help="The registry database: schema upgrades.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
) -> None:
    """Bring the registry's schema up to this mlkit's (creating the registry if it is new)."""
    from mlkit.registry import upgrade as run_upgrade
    from mlkit.registry.db import describe_url

    url = load_settings().registry_url
    revision = run_upgrade(url)
    if as_json:
        print_json({"registry": describe_url(url), "revision": revision})
        return
    console.print(f"Registry {describe_url(url)} is at schema revision {revision}.")
