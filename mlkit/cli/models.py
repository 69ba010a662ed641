"""mlkit models: what the registry holds."""

from __future__ import annotations

import typer

from mlkit.cli.output import (
    fmt_metric,
    fmt_size,
    fmt_time,
    print_json,
    print_table,
    to_jsonable,
)
from mlkit.config import load_settings

app = typer.Typer(help="Registered models and their versions.", no_args_is_help=True)


def _store():
    from mlkit.registry import open_store

    settings = load_settings()
    return open_store(settings.registry_url, settings.artifacts_dir)


@app.command("list")
def list_models(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """List registered models."""
    models = _store().list_models()
    if as_json:
        print_json(models)
        return
    print_table(
        "Models",
        ["model", "versions", "latest", "champion", "updated"],
        (
            [
                m.name,
                m.version_count,
                m.latest_version,
                m.aliases.get("champion", ""),
                fmt_time(m.updated_at),
            ]
            for m in models
        ),
    )


@app.command("versions")
def versions(
    name: str = typer.Argument(..., help="The model's name, e.g. digits."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """List the versions of a model, with their test metrics, aliases and last verdict."""
    store = _store()
    rows = store.list_versions(name)
    verdicts = dict.fromkeys((v.version for v in rows), None)
    for verdict in store.list_verdicts(name):  # oldest first: the last one per version wins
        verdicts[verdict.candidate_version] = verdict
    if as_json:
        print_json([{**to_jsonable(v), "verdict": verdicts[v.version]} for v in rows])
        return
    print_table(
        f"Versions of {name}",
        ["version", "created", "run", "test accuracy", "test loss", "aliases", "verdict", "size"],
        (
            [
                v.version,
                fmt_time(v.created_at),
                v.run_id,
                fmt_metric(v.metrics.get("accuracy")),
                fmt_metric(v.metrics.get("average_loss", v.metrics.get("loss"))),
                ", ".join(v.aliases),
                _verdict_cell(verdicts[v.version]),
                fmt_size(v.size_bytes),
            ]
            for v in rows
        ),
    )


def _verdict_cell(verdict) -> str:
    if verdict is None:
        return ""
    if verdict.forced:
        return "forced"
    return "pass" if verdict.passed else "fail"
