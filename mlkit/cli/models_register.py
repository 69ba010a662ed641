"""mlkit models register NAME PATH: a SavedModel trained outside mlkit, as the next version."""

from __future__ import annotations

from pathlib import Path

import typer

from mlkit.cli.output import console, print_json
from mlkit.config import load_settings


def register(
    name: str = typer.Argument(..., help="The model, e.g. digits (created if new)."),
    path: Path = typer.Argument(..., help="The SavedModel directory."),
    experiment: Path = typer.Option(
        ...,
        "--experiment",
        "-e",
        help="The experiment whose data, test split and promotion policy judge it.",
    ),
    description: str = typer.Option("", "--description", help="Describe the version."),
    as_json: bool = typer.Option(False, "--json", help="Print the version as JSON."),
) -> None:
    """Register a SavedModel trained elsewhere: signature checked, copied and hashed, versioned;
    then mlkit compare / deploy judge it like any other version."""
    from mlkit.workflows.register import register_saved_model

    version = register_saved_model(
        load_settings(), name, path, experiment_path=experiment, description=description
    )
    if as_json:
        print_json(version)
        return
    console.print(
        f"Registered [bold]{version.model}[/] version [bold]{version.version}[/] from {path} "
        f"(sha256 {version.artifact_sha256[:12]}; {version.signature['task']}, inputs "
        f"{', '.join(version.signature['inputs'])})",
        highlight=False,
    )
