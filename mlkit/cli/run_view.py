"""``mlkit runs show``: gather a run with what it produced, and render it section by section.

Sections are generic (fields, parameters, final metrics, metrics by step, data fingerprint,
environment, versions with their deployments), so columns other features add to a run render
here as extra sections.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from mlkit.cli.lineage import flatten, print_fields, render_deployments, run_fields
from mlkit.cli.output import fmt_metric, fmt_time, print_table


@dataclass(frozen=True)
class RunView:
    run: Any
    metrics_by_step: dict[str, list[tuple[int, float]]]
    versions: list[Any]
    deployments: list[Any]


def run_view(store, run_id: int) -> RunView:
    run = store.get_run(run_id)
    history: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for point in store.metric_history(run_id):
        history[point.key].append((point.step, point.value))
    versions = store.versions_of_run(run_id)
    produced = {(v.model, v.version) for v in versions}
    deployments = (
        [d for d in store.list_deployments(active_only=False) if (d.model, d.version) in produced]
        if produced
        else []
    )
    return RunView(run, dict(history), versions, deployments)


def relevant_params(params: dict[str, Any] | None) -> dict[str, Any]:
    """A run's stored experiment without the option groups its own settings leave unused.

    The stored experiment holds every key with its default; ``[search.pool]`` only applies to
    ``method = "auto_ensemble"`` and the streaming keys only to ``stream = true``.
    """
    params = dict(params or {})
    search = params.get("search")
    if isinstance(search, dict) and search.get("method", "adanet") != "auto_ensemble":
        params["search"] = {k: v for k, v in search.items() if k != "pool"}
    data = params.get("data")
    if isinstance(data, dict) and not data.get("stream", False):
        params["data"] = {
            k: v for k, v in data.items() if k not in ("stream", "sample_rows", "shuffle_buffer")
        }
    return params


def render_run(view: RunView) -> None:
    run = view.run
    print_fields(f"Run {run.id} of experiment {run.experiment}: {run.status}", run_fields(run))
    print_fields("Parameters", flatten(relevant_params(run.params)))
    print_fields("Metrics", sorted(run.metrics.items()))
    if view.metrics_by_step:
        keys = sorted(view.metrics_by_step)
        steps = sorted({s for points in view.metrics_by_step.values() for s, _ in points})
        values = {k: dict(points) for k, points in view.metrics_by_step.items()}
        print_table(
            "Metrics by step",
            ["step", *keys],
            ([step, *(fmt_metric(values[k].get(step)) for k in keys)] for step in steps),
            markup=False,
        )
    print_fields("Data fingerprint", flatten(run.data_fingerprint))
    print_fields("Environment", flatten(run.environment))
    if view.versions:
        print_table(
            "Versions produced",
            ["model", "version", "created", "aliases", "test accuracy", "sha256"],
            (
                [
                    v.model,
                    v.version,
                    fmt_time(v.created_at),
                    ", ".join(v.aliases),
                    fmt_metric(v.metrics.get("accuracy")),
                    v.artifact_sha256[:12],
                ]
                for v in view.versions
            ),
            markup=False,
        )
        render_deployments(view.deployments)
