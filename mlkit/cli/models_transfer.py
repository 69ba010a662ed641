"""mlkit models export / import: a version with its registry records, between registries."""

from __future__ import annotations

from pathlib import Path

import typer

from mlkit.cli.output import console, print_json
from mlkit.config import load_settings


def export(
    ref: str = typer.Argument(..., help="NAME (latest), NAME:VERSION or NAME@ALIAS."),
    archive: Path = typer.Argument(..., metavar="FILE", help="The .tar.gz to write."),
) -> None:
    """Write a version (its SavedModel, checked) and its records (metrics, signature, tags, the
    run's experiment, report and data fingerprint) into one archive."""
    from mlkit.workflows.transfer import export_version

    version = export_version(load_settings(), ref, archive)
    console.print(f"exported {version.model} version {version.version} to {archive}")


def import_(
    archive: Path = typer.Argument(..., metavar="FILE", help="A file from mlkit models export."),
    name: str = typer.Option(None, "--name", help="Register under this model name instead."),
    as_json: bool = typer.Option(False, "--json", help="Print the new version as JSON."),
) -> None:
    """Register an exported version here (its SHA-256 checked first) as the model's next
    version, with its metrics, signature, tags and run; verdicts and deployments stay behind."""
    from mlkit.workflows.transfer import import_version

    version = import_version(load_settings(), archive, name)
    if as_json:
        print_json(version)
        return
    console.print(
        f"imported {archive} as {version.model} version {version.version} "
        f"(sha256 {version.artifact_sha256[:12]})"
    )
