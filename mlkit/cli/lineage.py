"""Rendering of a version's lineage and of a run: field lists and small tables (no logic)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.markup import escape

from mlkit.cli.output import console, fmt_size, fmt_time, print_table, printable
from mlkit.registry import Deployment, ModelVersion, Run
from mlkit.workflows.views import VersionView


def _value(value: Any) -> str:
    if value is None or value == {} or value == []:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def flatten(data: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    """``{"a": {"b": 1}}`` → ``("a.b", 1)``: nested parameters as dotted keys."""
    for key, value in sorted(data.items()):
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from flatten(value, f"{name}.")
        else:
            yield name, value


def print_fields(title: str, fields: Iterable[tuple[str, Any]]) -> None:
    rows = [(k, _value(v)) for k, v in fields]
    rows = [(k, v) for k, v in rows if v != ""]
    if rows:
        print_table(title, ["field", "value"], rows, markup=False)


def render_version(mv: ModelVersion) -> None:
    print_fields(
        f"{mv.model} version {mv.version}",
        [
            ("aliases", ", ".join(mv.aliases)),
            ("created_at", fmt_time(mv.created_at)),
            ("description", mv.description),
            ("artifact_uri", mv.artifact_uri),
            ("artifact_sha256", mv.artifact_sha256),
            ("size_bytes", fmt_size(mv.size_bytes)),
            *((f"tags.{k}", v) for k, v in sorted(mv.tags.items())),
            *((f"metrics.{k}", v) for k, v in sorted(mv.metrics.items())),
            *((f"signature.{k}", v) for k, v in sorted(mv.signature.items())),
        ],
    )


def run_fields(run: Run) -> list[tuple[str, Any]]:
    """A run's fields, named as in its ``--json`` (``mlkit runs show``, ``mlkit models show``'s
    ``run``)."""
    return [
        ("experiment", run.experiment),
        ("experiment_path", run.experiment_path),
        ("status", run.status),
        ("started_at", fmt_time(run.started_at)),
        ("finished_at", fmt_time(run.finished_at)),
        ("code_version", run.code_version),
        ("run_dir", run.run_dir),
        ("error", run.error),
        *((f"tags.{k}", v) for k, v in sorted(run.tags.items())),
    ]


def render_deployments(deployments: Sequence[Deployment]) -> None:
    if not deployments:
        console.print("[dim]Never deployed.[/]", highlight=False)
        return
    print_table(
        "Deployments",
        # The headers are the --json field names (``deployments``).
        ["model", "version", "endpoint", "active", "deployed_at", "retired_at", "verdict_id"],
        (
            [
                d.model,
                d.version,
                d.endpoint,
                "yes" if d.active else "no",
                fmt_time(d.deployed_at),
                fmt_time(d.retired_at),
                d.verdict_id,
            ]
            for d in deployments
        ),
        markup=False,
    )


def render_lineage(view: VersionView) -> None:
    mv, run = view.version, view.run
    render_version(mv)
    chain = [f"{mv.model}:{mv.version}"]
    if run is None:
        chain.append("no run recorded")
    else:
        chain.append(f"run {run.id} ({run.status})")
        chain.append(f"experiment {run.experiment} ({run.experiment_path or 'no file'})")
        fp = run.data_fingerprint
        digest = str(fp.get("content_sha256") or "")[:12]
        chain.append(f"data {fp.get('table', '?')} sha256 {digest}" if digest else "no data record")
    chain.append(f"deployed on {', '.join(view.serving_on)}" if view.serving_on else "not deployed")
    console.print("[bold]Lineage[/] " + escape(printable(" → ".join(chain))), highlight=False)
    if run is not None:
        print_fields(f"Run {run.id}", run_fields(run))
        print_fields("Data fingerprint", flatten(run.data_fingerprint))
    render_deployments(view.deployments)
