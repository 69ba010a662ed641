"""mlkit registry: the registry database itself."""

from __future__ import annotations

import typer

from mlkit.cli.output import console
from mlkit.config import load_settings

app = typer.Typer(help="The registry database: schema upgrades.", no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Bring the registry's schema up to this mlkit's (creating the registry if it is new)."""
    from mlkit.registry import upgrade as run_upgrade
    from mlkit.registry.db import describe_url

    url = load_settings().registry_url
    revision = run_upgrade(url)
    console.print(f"Registry {describe_url(url)} is at schema revision {revision}.")
