"""Monitor: what a deployed model served, read top to bottom.

registry (deployments, each version's training run and its statistics) → the prediction log
(local warehouse, BigQuery, or Vertex AI's request-response log) → per version: requests, errors,
latency, predictions, drift against its training run, live metrics from feedback → the
``[monitoring]`` rules (``--check``), recorded as an event.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mlkit.compat import tomllib
from mlkit.config import Settings
from mlkit.data.source import table_target
from mlkit.data.stats import FeatureDrift
from mlkit.data.warehouse import Warehouse
from mlkit.errors import MlkitError, UsageError
from mlkit.experiment import MonitoringSpec, load_experiment, parse_experiment
from mlkit.monitoring.drift import served_drift
from mlkit.monitoring.live import LiveReport, live_metrics, read_labels
from mlkit.monitoring.log import LOG_TABLE
from mlkit.monitoring.rules import broken_rules
from mlkit.monitoring.served import read_served
from mlkit.monitoring.summary import VersionTraffic, version_traffic
from mlkit.registry import RegistryStore, Verdict, open_store
from mlkit.serving.endpoints import LOCAL

DROPPED_EVENT = "prediction_log_dropped"
PRUNED_EVENT = "prediction_log_pruned"  # mlkit data prune-log (mlkit.workflows.log_retention)
CHECK_EVENT = "monitoring_check"
ALLOCATION_EVENT = "bandit_allocation"


@dataclass
class MonitorReport:
    model: str
    endpoint: str
    log: str  # where the log was read
    since: float | None
    traffic: list[VersionTraffic] = field(default_factory=list)
    drift: dict[int, list[FeatureDrift]] = field(default_factory=dict)
    drift_runs: dict[int, int] = field(default_factory=dict)  # version -> its training run
    live: LiveReport = field(default_factory=lambda: LiveReport(None))
    dropped: int = 0
    pruned_before: float | None = None  # the log's latest prune: nothing older is left
    allocations: list[dict[str, Any]] = field(default_factory=list)
    broken: list[str] | None = None  # --check: one line per broken rule
    plot: Path | None = None

    @property
    def drifted(self) -> dict[int, list[FeatureDrift]]:
        return {v: [d for d in ds if d.drifted] for v, ds in self.drift.items()}


_SPAN = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(
    text: str | None, now: float | None = None, option: str = "--since"
) -> float | None:
    """``30m``, ``2h``, ``7d`` (before now) or an ISO date/time, as epoch seconds (``option``:
    the option named in the error)."""
    if text is None or not text.strip():
        return None
    now = time.time() if now is None else now
    match = _SPAN.match(text.strip())
    if match:
        return now - float(match[1]) * _UNIT_S[match[2]]
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{option} {text!r} is not a time: expected a span such as 30m, 2h, 7d, or an ISO "
            "date/time such as 2026-11-29T09:00"
        ) from None
    return when.timestamp()


def log_target(
    settings: Settings, log: str | None, store: RegistryStore, model: str, endpoint: str
) -> tuple[Warehouse, str]:
    """Where the model's requests are logged: ``log`` (a local table or ``bq://p.d.t``), else
    where ``mlkit deploy --log-requests`` switched the endpoint's logging on, else the local log."""
    if log is None:
        from mlkit.workflows.promote import REQUEST_LOGGING_EVENT

        event = store.latest_event(REQUEST_LOGGING_EVENT, model)
        if event is not None and (event.payload or {}).get("endpoint") == endpoint:
            log = str(event.payload["table"])
        elif endpoint != LOCAL:
            # Another kind's requests are not in the local endpoint's log: say so, never report
            # the local traffic under its name.
            raise UsageError(
                f"no request log is known for '{model}' on endpoint '{endpoint}'",
                hint="`mlkit deploy --target vertex --log-requests` switches Vertex AI's on; "
                "Cloud Run's TensorFlow Serving keeps none; or give --log TABLE",
            )
    warehouse, table = table_target(log or LOG_TABLE, local_path=settings.warehouse_path)
    return warehouse, table or LOG_TABLE


def monitor(
    settings: Settings,
    model: str,
    *,
    since: str | None = None,
    endpoint: str = "local",
    log: str | None = None,
    labels: str | None = None,
    check: bool = False,
    experiment: Path | None = None,
    plot: bool = False,
    plot_path: Path | None = None,
) -> MonitorReport:
    """What ``model`` served on ``endpoint`` since ``since``, per version (see module doc);
    with ``check``, the ``[monitoring]`` rules (of ``experiment``, else of the serving version's
    run), recorded as an event; with ``plot``, the report as a PNG (default ``monitor/NAME.png``
    in the mlkit home)."""
    report = served_report(settings, model, since=since, endpoint=endpoint, log=log, labels=labels)
    if check:
        spec = monitoring_spec(settings, model, experiment)
        report.broken = broken_rules(spec, report.traffic, report.drift, report.live.overall)
        with open_store(settings.registry_url, settings.artifacts_dir) as store:
            store.record_event(
                CHECK_EVENT,
                model=model,
                payload={
                    "endpoint": endpoint,
                    "passed": not report.broken,
                    "broken": report.broken,
                },
            )
    if plot:
        report.plot = plot_report(settings, report, plot_path)
    return report


def served_report(
    settings: Settings,
    model: str,
    *,
    since: str | None = None,
    endpoint: str = "local",
    log: str | None = None,
    labels: str | None = None,
) -> MonitorReport:
    """:func:`monitor` without rules or plot."""
    start = parse_since(since)
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        store.get_version(model)  # ModelNotFound for an unknown model
        warehouse, table = log_target(settings, log, store, model, endpoint)
        served = read_served(warehouse, table, model, start, vertex=endpoint == "vertex")
        report = MonitorReport(model, endpoint, f"{warehouse.describe()}: {table}", start)
        report.traffic = version_traffic(served)
        for version in served.versions:
            run_id = _run_of(store, model, version)
            before = store.run_data_stats(run_id) if run_id is not None else None
            if before:
                report.drift_runs[version] = run_id or 0
                report.drift[version] = served_drift(served.instances(version), before)
        label_source, label_table = (
            table_target(labels, local_path=settings.warehouse_path)
            if labels
            else (warehouse, f"{table}_labels")
        )
        report.live = live_metrics(served, read_labels(label_source, label_table or ""))
        dropped = store.latest_event(DROPPED_EVENT)
        report.dropped = int((dropped.payload or {}).get("dropped", 0)) if dropped else 0
        report.pruned_before = _pruned_before(store, warehouse.describe(), table)
        report.allocations = [
            {"at": e.at.isoformat(), **(e.payload or {})}
            for e in reversed(store.list_events(model, limit=500))
            if e.kind == ALLOCATION_EVENT
        ]
    return report


def _pruned_before(store: RegistryStore, where: str, table: str) -> float | None:
    """The cut-off of the newest prune (``mlkit data prune-log``) when it was of this log, else
    None (one event kind for every log: a later prune of another table hides it)."""
    pruned = store.latest_event(PRUNED_EVENT)
    payload = (pruned.payload or {}) if pruned is not None else {}
    if payload.get("where") != where or str(payload.get("table", "")).lower() != table.lower():
        return None
    return float(payload["before"])


def _run_of(store: RegistryStore, model: str, version: int) -> int | None:
    try:
        return store.get_version(model, version).run_id
    except MlkitError:
        return None


def monitoring_spec(
    settings: Settings, model: str, experiment: Path | None = None
) -> MonitoringSpec:
    """The ``[monitoring]`` rules: from ``experiment``, else the serving version's run's."""
    if experiment is not None:
        return load_experiment(experiment)[0].monitoring
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        version = store.get_version(model)
        serving = store.active_deployment(model)
        if serving is not None:
            version = store.get_version(model, serving.version)
        if version.run_id is None:
            return MonitoringSpec()
        run = store.get_run(version.run_id)
    try:
        stored = run.params or tomllib.loads(run.spec_text or "")
        return parse_experiment(stored, origin=f"run {run.id}'s experiment").monitoring
    except (MlkitError, tomllib.TOMLDecodeError):
        return MonitoringSpec()


__all__ = [
    "ALLOCATION_EVENT",
    "CHECK_EVENT",
    "DROPPED_EVENT",
    "PRUNED_EVENT",
    "MonitorReport",
    "compare_online",
    "log_target",
    "monitor",
    "monitoring_spec",
    "parse_since",
    "plot_report",
    "served_report",
]


def plot_report(settings: Settings, report: MonitorReport, path: Path | None = None) -> Path:
    """The report as a PNG (default: ``monitor/NAME.png`` in the mlkit home)."""
    from mlkit.monitoring.plot import plot_monitor

    target = path or settings.home / "monitor" / f"{report.model}.png"
    title = f"{report.model} on {report.endpoint}"
    return plot_monitor(title, report.traffic, report.drift, report.live.over_time, target)


def compare_online(
    settings: Settings,
    model: str,
    *,
    candidate: int | None = None,
    baseline: str | int = "deployed",
    since: str | None = None,
    endpoint: str = "local",
    log: str | None = None,
    labels: str | None = None,
) -> Verdict:
    """``mlkit compare --online``: two versions' live metrics from feedback on what each served
    (the candidate: default the version with the least traffic; the baseline: what serves),
    recorded as a verdict (metric ``live_accuracy`` or ``live_mae``)."""
    from mlkit.monitoring.live import compare_online as judge

    report = served_report(settings, model, since=since, endpoint=endpoint, log=log, labels=labels)
    live = {m.version: m for m in report.live.overall}
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        shares = {d.version: d.traffic_percent for d in store.traffic(model, endpoint)}
        if baseline == "deployed":
            serving = store.active_deployment(model, endpoint)
            base_version = serving.version if serving is not None else None
        else:
            base_version = int(baseline)
        if candidate is None:
            others = sorted((p, v) for v, p in shares.items() if v != base_version)
            candidate = others[0][1] if others else None
        if candidate is None or base_version is None or candidate == base_version:
            raise UsageError(
                f"--online needs two versions of '{model}' that served on {endpoint}",
                hint="serve a canary beside the deployed version, e.g. mlkit endpoints traffic "
                f"{model} 1=90,2=10, and send feedback",
            )
        missing = [v for v in (candidate, base_version) if v not in live]
        if missing:
            raise UsageError(
                f"version {missing[0]} of '{model}' has no answers with feedback in {report.log}",
                hint="POST the truths to /v1/models/NAME:feedback, or name a table with --labels",
            )
        outcome = judge(live[candidate], live[base_version])
        name = f"live_{outcome.metric}"
        side = {"metrics": {name: live[candidate].value}, "version": candidate}
        other = {"metrics": {name: live[base_version].value}, "version": base_version}
        details = {
            "online": True, "metric": name, "rows": live[candidate].n + live[base_version].n,
            "candidate": side, "baseline": other,
            "differences": {name: outcome.difference},
            "intervals": {"level": 0.95, name: [outcome.low, outcome.high]},
            "checks": [{"name": name, "status": "pass" if outcome.passed else "fail",
                        "reason": outcome.reason}],
            "data": {"selection": "answers with feedback", "table": report.log},
        }  # fmt: skip
        return store.record_verdict(
            model, candidate, base_version, metric=name,
            candidate_value=live[candidate].value, baseline_value=live[base_version].value,
            passed=outcome.passed, reason=outcome.reason, details=details,
        )  # fmt: skip
