"""mlkit models: what the registry holds, and the few things about a version that can change.

``list`` and ``versions`` read through ``listing.open_reader`` (plain ``sqlite3`` on a current
SQLite registry, so they start fast); everything else opens the full store.
"""

from __future__ import annotations

import typer

from mlkit.cli.output import (
    console,
    fmt_metric,
    fmt_size,
    fmt_time,
    print_json,
    print_table,
    to_jsonable,
)
from mlkit.config import load_settings
from mlkit.errors import UsageError

app = typer.Typer(help="Registered models and their versions.", no_args_is_help=True)

WHERE_HELP = (
    "Filter, e.g. \"metrics.accuracy > 0.98 and (tags.team = 'vision' or tags.team = 'ml')\"."
)
SORT_HELP = "Order by a field, FIELD or FIELD:desc (e.g. metrics.accuracy:desc)."


def _store():
    from mlkit.registry import open_store

    settings = load_settings()
    return open_store(settings.registry_url, settings.artifacts_dir)


def _reader():
    from mlkit.registry.listing import open_reader

    settings = load_settings()
    return open_reader(settings.registry_url, settings.artifacts_dir)


@app.command("list")
def list_models(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """List registered models."""
    reader = _reader()
    try:
        models = reader.list_models()
    finally:
        reader.close()
    if as_json:
        print_json(models)
        return
    print_table(
        "Models",
        ["model", "versions", "latest", "champion", "updated", "description"],
        (
            [
                m.name,
                m.version_count,
                m.latest_version,
                m.aliases.get("champion", ""),
                fmt_time(m.updated_at),
                m.description,
            ]
            for m in models
        ),
    )


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
    from mlkit.registry.query import filter_versions

    reader = _reader()
    try:
        if where is None and sort is None and limit:
            rows = reader.list_versions(name, newest=limit)  # the newest N straight from SQL
            total = reader.count_versions(name) if len(rows) == limit else len(rows)
        else:
            every = reader.list_versions(name)
            rows = filter_versions(every, where=where, sort=sort, limit=limit or None)
            total = len(every)
        verdicts = dict.fromkeys((v.version for v in rows), None)
        if rows:
            for verdict in reader.list_verdicts(name):  # oldest first: the last one wins
                if verdict.candidate_version in verdicts:
                    verdicts[verdict.candidate_version] = verdict
    finally:
        reader.close()
    if as_json:
        print_json([{**to_jsonable(v), "verdict": verdicts[v.version]} for v in rows])
        return
    print_table(
        f"Versions of {name}",
        ["version", "created", "run", "test accuracy", "test loss", "aliases", "tags", "verdict"]
        + ["size"],
        (
            [
                v.version,
                fmt_time(v.created_at),
                v.run_id,
                fmt_metric(v.metrics.get("accuracy")),
                fmt_metric(v.metrics.get("average_loss", v.metrics.get("loss"))),
                ", ".join(v.aliases),
                ", ".join(f"{k}={val}" for k, val in sorted(v.tags.items())),
                _verdict_cell(verdicts[v.version]),
                fmt_size(v.size_bytes),
            ]
            for v in rows
        ),
    )
    if limit and len(rows) == limit and total > limit:
        console.print(
            f"[dim]{limit} of {total} versions shown; --limit 0 shows all.[/]", highlight=False
        )
    elif where:
        console.print(f"[dim]{len(rows)} of {total} versions match.[/]", highlight=False)


@app.command("show")
def show(
    ref: str = typer.Argument(..., help="NAME (latest), NAME:VERSION or NAME@ALIAS."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """One version and its lineage: run, experiment file, data fingerprint, deployments."""
    from mlkit.cli.lineage import render_lineage

    with _store() as store:
        mv = store.resolve(ref)
        lineage = store.lineage(mv.model, mv.version)
    if as_json:
        print_json(lineage)
        return
    render_lineage(lineage)


@app.command("tag")
def tag(
    ref: str = typer.Argument(..., help="NAME:VERSION or NAME@ALIAS (NAME: the latest)."),
    tags: list[str] = typer.Argument(None, help="KEY=VALUE pairs to set."),
    remove: list[str] = typer.Option(None, "--remove", "-r", help="A tag to remove (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print the version's tags as JSON."),
) -> None:
    """Set or remove tags of a version (e.g. mlkit models tag digits:3 team=vision)."""
    pairs = {}
    for item in tags or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"invalid tag {item!r}: expected KEY=VALUE", hint="e.g. team=vision")
        pairs[key] = value
    if not pairs and not remove:
        raise UsageError("nothing to do: give KEY=VALUE tags or --remove KEY")
    with _store() as store:
        mv = store.resolve(ref)
        mv = store.set_tags(mv.model, mv.version, pairs, tuple(remove or ()))
    if as_json:
        print_json(mv.tags)
        return
    shown = ", ".join(f"{k}={v}" for k, v in sorted(mv.tags.items())) or "none"
    console.print(f"{mv.model} version {mv.version} tags: {shown}", highlight=False)


@app.command("alias")
def alias(
    name: str = typer.Argument(..., help="The model's name."),
    alias_name: str = typer.Argument(..., metavar="ALIAS", help="e.g. champion, challenger."),
    version: int = typer.Argument(None, help="The version to point it at."),
    delete: bool = typer.Option(False, "--delete", help="Remove the alias instead."),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
) -> None:
    """Point an alias at a version (mlkit models alias digits challenger 4), or --delete it."""
    if delete == (version is not None):
        raise UsageError(
            "give either a VERSION to point the alias at or --delete",
            hint="e.g. mlkit models alias digits challenger 4",
        )
    with _store() as store:
        if delete:
            store.delete_alias(name, alias_name)
        else:
            store.set_alias(name, alias_name, version)
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
    from mlkit.registry.validation import parse_ref

    name, version, alias_name = parse_ref(ref)
    with _store() as store:
        if alias_name is not None:
            version = store.resolve(ref).version
        store.describe(name, text, version)
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
    from mlkit.registry.validation import parse_ref

    name, version, alias_name = parse_ref(ref)
    if version is None and alias_name is None:
        raise UsageError(
            f"name the version to delete: {name}:VERSION or {name}@ALIAS",
            hint=f"see the versions with `mlkit models versions {name}`",
        )
    with _store() as store:
        mv = store.resolve(ref)
        store.delete_version(mv.model, mv.version)
    if as_json:
        print_json({"model": mv.model, "deleted_version": mv.version})
    else:
        console.print(f"Deleted {mv.model} version {mv.version}.", highlight=False)


def _verdict_cell(verdict) -> str:
    if verdict is None:
        return ""
    if verdict.forced:
        return "forced"
    return "pass" if verdict.passed else "fail"
