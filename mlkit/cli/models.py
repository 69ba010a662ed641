"""mlkit models: what the registry holds, and the few things about a version that can change.

``list`` and ``versions`` live in ``listings`` (no typer there, see ``fast``); everything else
opens the full store.
"""

from __future__ import annotations

import typer

from mlkit.cli import listings, models_register, models_transfer
from mlkit.cli.output import console, print_json, print_text
from mlkit.config import load_settings

app = typer.Typer(help="Registered models and their versions.", no_args_is_help=True)
app.command("register")(models_register.register)
app.command("export")(models_transfer.export)
app.command("import")(models_transfer.import_)

WHERE_HELP = (
    "Filter, e.g. \"metrics.accuracy > 0.98 and (tags.team = 'vision' or tags.team = 'ml')\"."
)
SORT_HELP = "Order by a field, FIELD or FIELD:desc (e.g. metrics.accuracy:desc)."


def _store():
    from mlkit.registry import open_store

    settings = load_settings()
    return open_store(settings.registry_url, settings.artifacts_dir)


@app.command("list")
def list_models(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """List registered models."""
    listings.list_models(as_json)


@app.command("versions")
def versions(
    name: str = typer.Argument(..., help="The model's name, e.g. digits."),
    where: str = typer.Option(None, "--where", "-w", help=WHERE_HELP),
    sort: str = typer.Option(None, "--sort", help=SORT_HELP),
    limit: int = typer.Option(
        50, "--limit", min=0, help="Show the newest N (or the first N when sorted); 0: all."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """List the versions of a model, with their test metrics, aliases, tags and last verdict."""
    listings.versions(name, where, sort, limit, as_json)


@app.command("show")
def show(
    ref: str = typer.Argument(..., help="NAME (latest), NAME:VERSION or NAME@ALIAS."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """One version and its lineage: run, experiment file, data fingerprint, deployments."""
    from mlkit.cli.lineage import render_lineage
    from mlkit.workflows.views import version_view

    with _store() as store:
        view = version_view(store, ref)
    if as_json:
        print_json(view)
        return
    render_lineage(view)


@app.command("tag")
def tag(
    ref: str = typer.Argument(..., help="NAME:VERSION or NAME@ALIAS (NAME: the latest)."),
    tags: list[str] = typer.Argument(None, help="KEY=VALUE pairs to set."),
    remove: list[str] = typer.Option(None, "--remove", "-r", help="A tag to remove (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print the version's tags as JSON."),
) -> None:
    """Set or remove tags of a version (e.g. mlkit models tag digits:3 team=vision)."""
    from mlkit.workflows.catalog import tag_version

    mv = tag_version(load_settings(), ref, tags or [], remove or [])
    if as_json:
        print_json(mv.tags)
        return
    shown = ", ".join(f"{k}={v}" for k, v in sorted(mv.tags.items())) or "none"
    print_text(f"{mv.model} version {mv.version} tags: {shown}")


@app.command("alias")
def alias(
    name: str = typer.Argument(..., help="The model's name."),
    alias_name: str = typer.Argument(..., metavar="ALIAS", help="e.g. champion, challenger."),
    version: int = typer.Argument(None, help="The version to point it at."),
    delete: bool = typer.Option(False, "--delete", help="Remove the alias instead."),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
) -> None:
    """Point an alias at a version (mlkit models alias digits challenger 4), or --delete it."""
    from mlkit.workflows.catalog import move_alias

    move_alias(load_settings(), name, alias_name, version, delete=delete)
    if as_json:
        print_json({"model": name, "alias": alias_name, "version": version})
    elif delete:
        console.print(f"{name}@{alias_name} removed.", highlight=False)
    else:
        console.print(f"{name}@{alias_name} → version {version}.", highlight=False)


@app.command("describe")
def describe(
    ref: str = typer.Argument(..., help="NAME (the model) or NAME:VERSION / NAME@ALIAS."),
    text: str = typer.Argument(..., help="The new description."),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
) -> None:
    """Set the description of a model or of one version."""
    from mlkit.workflows.catalog import describe as run_describe

    name, version = run_describe(load_settings(), ref, text)
    if as_json:
        print_json({"model": name, "version": version, "description": text})
        return
    what = name if version is None else f"{name} version {version}"
    console.print(f"Described {what}.", highlight=False)


@app.command("delete")
def delete(
    ref: str = typer.Argument(..., help="NAME:VERSION or NAME@ALIAS."),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
) -> None:
    """Delete a version and its artifact (refused while it is deployed)."""
    from mlkit.workflows.catalog import delete_version

    mv = delete_version(load_settings(), ref)
    if as_json:
        print_json({"model": mv.model, "deleted_version": mv.version})
    else:
        console.print(f"Deleted {mv.model} version {mv.version}.", highlight=False)
