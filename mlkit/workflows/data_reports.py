"""What ``mlkit data stats`` and ``mlkit data drift`` show (computed inside the warehouse by SQL,
see :mod:`mlkit.data.stats_sql`), assembled below the CLI so that any
page can reuse it: the statistics of a source, and a source's drift against a training run.

A source is named as a command names it (a local table, ``bq://project.dataset.table`` or a SQL
query with ``params``); drift reads the run's own source (its stored experiment's ``[data]``
section) when none is given, and otherwise reaches BigQuery as that experiment did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlkit.compat import tomllib
from mlkit.config import Settings
from mlkit.data.experiment_data import bigquery_config, experiment_source
from mlkit.data.source import ResolvedSource, resolve_source
from mlkit.data.stats import FeatureDrift, compare
from mlkit.data.stats_sql import statistics
from mlkit.errors import DataError, DriftDetected, MlkitError
from mlkit.experiment import DataSpec, parse_experiment
from mlkit.registry import Run, open_store


@dataclass
class SourceStats:
    source: str  # as the command named it
    stats: dict[str, Any]


@dataclass
class DriftReport:
    run: int
    source: str
    features: list[FeatureDrift] = field(default_factory=list)

    @property
    def drifted(self) -> list[FeatureDrift]:
        return [d for d in self.features if d.drifted]

    def check(self, fail_on_drift: bool = True) -> None:
        """Raise :class:`DriftDetected` (exit code 8) when a feature drifted, unless only
        reporting (``fail_on_drift`` False)."""
        moved = self.drifted
        if moved and fail_on_drift:
            names = ", ".join(d.feature for d in moved[:5]) + (", ..." if len(moved) > 5 else "")
            raise DriftDetected(
                f"{len(moved)} of {len(self.features)} features drifted against run {self.run}: "
                f"{names}",
                hint="--no-fail-on-drift reports drift without failing",
            )


def source_stats(
    settings: Settings,
    source: str,
    *,
    label: str | None = None,
    skip: list[str] | None = None,
    params: dict[str, Any] | None = None,
    backend: str | None = None,
) -> SourceStats:
    """Per-feature statistics of a source (and its label's distribution)."""
    resolved = resolve_source(
        source, local_path=settings.warehouse_path, params=params, backend=backend
    )
    stats = statistics(resolved.warehouse, resolved.relation, label=label, skip=skip or ["id"])
    return SourceStats(resolved.text, stats)


def drift_against_run(
    settings: Settings,
    run_id: int,
    source: str | None = None,
    *,
    params: dict[str, Any] | None = None,
    backend: str | None = None,
) -> DriftReport:
    """Each feature of ``source`` (default: the run's own source, ``params`` overriding its
    query's) against the statistics the run stored, on the run's histogram bins."""
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        run = store.get_run(run_id)
        before = store.run_data_stats(run.id)
    if not before:
        raise DataError(
            f"run {run_id} has no data statistics",
            hint="runs trained with this mlkit version store them; train again",
        )
    resolved = _drift_source(settings, run, source, params or {}, backend)
    edges = {
        name: s["histogram"]["edges"]
        for name, s in before["features"].items()
        if s.get("histogram", {}).get("edges")
    }
    key = (run.data_fingerprint or {}).get("key", "id")
    label = (before.get("label") or {}).get("name")
    after = statistics(resolved.warehouse, resolved.relation, label=label, skip=[key], edges=edges)
    after["features"] = {k: v for k, v in after["features"].items() if k in before["features"]}
    return DriftReport(run_id, resolved.text, compare(before, after))


def _drift_source(
    settings: Settings,
    run: Run,
    source: str | None,
    params: dict[str, Any],
    backend: str | None,
) -> ResolvedSource:
    spec = _run_data_spec(run)
    if source is None:
        if spec is None:
            raise DataError(
                f"run {run.id} has no stored experiment to read its source from",
                hint="name the source: mlkit data drift SOURCE --against RUN",
            )
        if params:
            spec = spec.model_copy(update={"params": {**spec.params, **params}})
        return experiment_source(spec, settings)
    return resolve_source(
        source,
        local_path=settings.warehouse_path,
        params=params,
        backend=backend,
        bigquery=None if spec is None else bigquery_config(spec),
    )


def _run_data_spec(run: Run) -> DataSpec | None:
    """The ``[data]`` section of the experiment a run ran (None when it stored none)."""
    try:
        stored = run.params or tomllib.loads(run.spec_text or "")
        if not stored:
            return None
        return parse_experiment(stored, origin=f"run {run.id}'s experiment").data
    except (MlkitError, tomllib.TOMLDecodeError):
        return None


__all__ = ["DriftReport", "SourceStats", "drift_against_run", "source_stats"]
