"""Read models of the web dashboard's pages (``mlkit ui``), assembled from the registry.

Each function takes an open ``RegistryStore`` (``open_dashboard_store``: an existing registry,
never created or upgraded) and returns dataclasses of registry entities and plain values; nothing
here renders or writes. The single-item views reuse ``views.run_view`` and ``views.version_view``.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from mlkit.config import Settings
from mlkit.errors import MlkitError, UsageError
from mlkit.registry import (
    Deployment,
    ModelSummary,
    ModelVersion,
    RegistryStore,
    Verdict,
    open_store,
)
from mlkit.registry.query import filter_versions
from mlkit.workflows.views import RunSummary, RunView, VersionView, list_runs, run_view
from mlkit.workflows.views import version_view as _version_view

if TYPE_CHECKING:  # the monitoring reads load on the endpoints page's first request only
    from mlkit.data.warehouse import Warehouse
    from mlkit.monitoring.summary import VersionTraffic

PER_PAGE = 50
MAX_PER_PAGE = 500
CHART_POINTS = 400  # the most points a chart over versions draws (evenly thinned beyond)

T = TypeVar("T")


def open_dashboard_store(settings: Settings) -> RegistryStore:
    """The registry the dashboard reads: it must exist and be at the current schema (the
    dashboard neither creates nor upgrades one)."""
    return open_store(settings.registry_url, settings.artifacts_dir, on_upgrade=None, create=False)


class ReadCache:
    """The reads a page repeats on every request (a model's versions, its verdicts, the active
    deployments), kept until the registry's event log moves: every write to the registry
    appends an event in its own transaction, so the newest event's id (one primary-key query)
    says whether anything changed. Shared by the dashboard's threads."""

    def __init__(self, store: RegistryStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._stamp: int | None = None
        self._values: dict[tuple[str, str], Any] = {}
        self._served: dict[tuple[str, str], tuple[Any, Any]] = {}

    def remember(self, key: tuple[str, str], read: Callable[[], T]) -> T:
        """``read()``, or what it returned before while the registry has not changed."""
        newest = self.store.list_events(limit=1)
        stamp = newest[0].id if newest else 0
        with self._lock:
            if stamp != self._stamp:
                self._stamp, self._values = stamp, {}
            if key in self._values:
                cached: T = self._values[key]
                return cached
        value = read()
        with self._lock:
            if stamp == self._stamp:
                self._values[key] = value
        return value

    def served(
        self, key: tuple[str, str], freshness: tuple[object, ...], read: Callable[[], T]
    ) -> T:
        """``read()``, or what it returned before while the registry and ``freshness`` (the
        prediction log's file state, or a time window) are unchanged; one entry per key."""
        newest = self.store.list_events(limit=1)
        stamp = (newest[0].id if newest else 0, freshness)
        with self._lock:
            held = self._served.get(key)
            if held is not None and held[0] == stamp:
                cached: T = held[1]
                return cached
        value = read()
        with self._lock:
            self._served[key] = (stamp, value)
        return value

    def versions(self, model: str) -> list[ModelVersion]:
        return self.remember(("versions", model), lambda: self.store.list_versions(model))

    def verdicts(self, model: str) -> list[Verdict]:
        return self.remember(("verdicts", model), lambda: self.store.list_verdicts(model))

    def active_deployments(self) -> list[Deployment]:
        return self.remember(("deployments", ""), lambda: self.store.list_deployments())

    def metric_names(self, model: str) -> list[str]:
        """Every numeric metric name of ``model``'s versions."""
        return self.remember(
            ("metric_names", model),
            lambda: sorted(
                {
                    k
                    for v in self.versions(model)
                    for k, x in v.metrics.items()
                    if _number(x) is not None
                }
            ),
        )


# -- models -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Serving:
    """A model's version serving on an endpoint, with its share of the traffic."""

    endpoint: str
    version: int
    percent: int


@dataclass(frozen=True)
class ModelRow:
    model: ModelSummary
    champion: int | None
    serving: list[Serving]


def models_overview(store: RegistryStore) -> list[ModelRow]:
    """Every model: its versions, latest, champion and what serves where."""
    serving: dict[str, list[Serving]] = defaultdict(list)
    for d in store.list_deployments(active_only=True):
        serving[d.model].append(Serving(d.endpoint, d.version, d.traffic_percent))
    return [
        ModelRow(
            model=m,
            champion=m.aliases.get("champion"),
            serving=sorted(serving.get(m.name, []), key=lambda s: (s.endpoint, -s.percent)),
        )
        for m in store.list_models()
    ]


# -- a model's versions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionRow:
    version: ModelVersion
    verdict: str  # the latest verdict as candidate: pass, fail, forced or ""


@dataclass(frozen=True)
class VersionsPage:
    model: str
    rows: list[VersionRow]
    total: int  # versions of the model
    matched: int  # versions matching ``where``
    page: int
    pages: int
    per_page: int
    where: str | None
    sort: str | None
    metric: str | None  # the chart's metric
    metrics: list[str]  # every metric name the matched versions have
    chart: list[tuple[int, float]]  # (version, metric) of the matched versions, thinned
    deployed: dict[int, list[str]] = field(default_factory=dict)  # version -> endpoints


def versions_page(
    store: RegistryStore | ReadCache,
    model: str,
    *,
    where: str | None = None,
    sort: str | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
    metric: str | None = None,
) -> VersionsPage:
    """One page of ``model``'s versions matching ``where`` (``--where``'s language), newest first
    unless ``sort`` says otherwise, with the chart of ``metric`` over every matched version.
    With a ``ReadCache``, the versions are read again only when the registry has changed."""
    if per_page < 1 or per_page > MAX_PER_PAGE:
        raise UsageError(f"per_page must be 1..{MAX_PER_PAGE}, got {per_page}")
    if page < 1:
        raise UsageError(f"page must be 1 or more, got {page}")
    cache = store if isinstance(store, ReadCache) else ReadCache(store)
    every = cache.versions(model)
    if where or sort:
        ordered = filter_versions(every, where=where or None, sort=sort or None)
        matched = sorted(ordered, key=lambda v: v.version) if sort else ordered
        if not sort:
            ordered = ordered[::-1]
    else:
        matched, ordered = every, every[::-1]
    pages = max(1, math.ceil(len(ordered) / per_page))
    shown = ordered[(page - 1) * per_page : page * per_page]
    names = cache.metric_names(model)  # the chart may show any metric of the model
    if metric and metric not in names:
        raise UsageError(f"no version of {model} has metric {metric!r}; it has: {', '.join(names)}")
    chosen = metric or _default_metric(names)
    verdicts = _latest_verdicts(cache.verdicts(model), {v.version for v in shown})
    deployed: dict[int, list[str]] = defaultdict(list)
    for d in cache.active_deployments():
        if d.model == model:
            deployed[d.version].append(d.endpoint)
    return VersionsPage(
        model=model,
        rows=[VersionRow(v, verdicts.get(v.version, "")) for v in shown],
        total=len(every),
        matched=len(matched),
        page=page,
        pages=pages,
        per_page=per_page,
        where=where or None,
        sort=sort or None,
        metric=chosen,
        metrics=names,
        chart=cache.remember(("chart", f"{model}\0{chosen}"), lambda: _chart(every, chosen))
        if matched is every
        else _chart(matched, chosen),
        deployed=dict(deployed),
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _default_metric(names: list[str]) -> str | None:
    for preferred in ("accuracy", "loss", "auc", "mse"):
        if preferred in names:
            return preferred
    return names[0] if names else None


def _chart(versions: list[ModelVersion], metric: str | None) -> list[tuple[int, float]]:
    if metric is None:
        return []
    points = [
        (v.version, value)
        for v in versions
        if (value := _number(v.metrics.get(metric))) is not None
    ]
    if len(points) <= CHART_POINTS:
        return points
    stride = len(points) / CHART_POINTS
    return [points[int(i * stride)] for i in range(CHART_POINTS - 1)] + [points[-1]]


def _verdict_word(verdict: Verdict) -> str:
    if verdict.forced:
        return "forced"
    return "pass" if verdict.passed else "fail"


def _latest_verdicts(verdicts: list[Verdict], versions: set[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for verdict in verdicts:  # oldest first: the last one wins
        if verdict.candidate_version in versions:
            out[verdict.candidate_version] = _verdict_word(verdict)
    return out


# -- a version ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineageNode:
    id: str
    kind: str  # experiment, data, run, version, verdict, deployment
    label: str
    detail: str
    href: str | None = None


@dataclass(frozen=True)
class LineageGraph:
    nodes: list[LineageNode]
    edges: list[tuple[str, str]]


@dataclass(frozen=True)
class VersionPage:
    view: VersionView
    verdicts: list[Verdict]  # with this version as candidate, newest first
    lineage: LineageGraph


def version_page(store: RegistryStore, model: str, version: int) -> VersionPage:
    view = _version_view(store, f"{model}:{version}")
    verdicts = [v for v in store.list_verdicts(model) if v.candidate_version == version]
    verdicts.reverse()
    return VersionPage(view, verdicts, lineage_graph(view, verdicts))


def lineage_graph(view: VersionView, verdicts: list[Verdict]) -> LineageGraph:
    """run → experiment file and data fingerprint → version → verdicts → deployments."""
    mv = view.version
    nodes: list[LineageNode] = []
    edges: list[tuple[str, str]] = []
    here = f"version-{mv.version}"
    run = view.run
    if run is not None:
        nodes.append(
            LineageNode(
                "experiment", "experiment", "experiment", run.experiment_path or run.experiment
            )
        )
        fp = run.data_fingerprint or {}
        sha = str(fp.get("content_sha256") or fp.get("sha256") or "")[:12]
        rows = fp.get("rows")
        nodes.append(
            LineageNode(
                "data",
                "data",
                "data",
                " ".join(
                    x
                    for x in (str(fp.get("table") or ""), sha, f"{rows} rows" if rows else "")
                    if x
                )
                or "no fingerprint",
                f"/runs/{run.id}/data",
            )
        )
        nodes.append(
            LineageNode(f"run-{run.id}", "run", f"run {run.id}", run.status, f"/runs/{run.id}")
        )
        edges += [
            ("experiment", f"run-{run.id}"),
            ("data", f"run-{run.id}"),
            (f"run-{run.id}", here),
        ]
    nodes.append(
        LineageNode(here, "version", f"{mv.model}:{mv.version}", ", ".join(mv.aliases), None)
    )
    for verdict in verdicts:
        vid = f"verdict-{verdict.id}"
        nodes.append(
            LineageNode(
                vid,
                "verdict",
                f"verdict {verdict.id}",
                _verdict_word(verdict)
                + (f" vs v{verdict.baseline_version}" if verdict.baseline_version else ""),
                f"#verdict-{verdict.id}",
            )
        )
        edges.append((here, vid))
    known = {v.id for v in verdicts}
    for d in sorted(view.deployments, key=lambda d: d.id):
        did = f"deployment-{d.id}"
        state = f"{d.traffic_percent}%" if d.active else "retired"
        nodes.append(
            LineageNode(
                did,
                "deployment",
                f"{d.endpoint} #{d.id}",
                f"{d.action or 'deploy'} {state}",
                f"/endpoints#deployment-{d.id}",
            )
        )
        edges.append((f"verdict-{d.verdict_id}" if d.verdict_id in known else here, did))
    return LineageGraph(nodes, edges)


# -- runs ---------------------------------------------------------------------------------------


def runs_page(
    store: RegistryStore,
    settings: Settings,
    *,
    experiment: str | None = None,
    where: str | None = None,
    sort: str | None = None,
    limit: int = 100,
) -> list[RunSummary]:
    return list_runs(
        store,
        settings,
        experiment=experiment or None,
        limit=limit,
        where=where or None,
        sort=sort or None,
    )


@dataclass(frozen=True)
class RunPage:
    view: RunView
    report: dict[str, Any]
    reference_models: dict[str, Any]
    curves: dict[str, list[tuple[float, float]]]
    """Training loss by global step of every candidate ensemble (from the stored report)."""
    has_data_stats: bool


def run_page(store: RegistryStore, settings: Settings, run_id: int) -> RunPage:
    view = run_view(store, settings, run_id)
    report = dict(view.run.report or {})
    curves = report_curves(report)
    return RunPage(
        view=view,
        report=report,
        reference_models=dict(view.run.reference_models or {}),
        curves=curves,
        has_data_stats=store.run_data_stats(run_id) is not None,
    )


# -- compare ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionComparison:
    left: VersionPage
    right: VersionPage
    metrics: list[str]  # the union of both sides' metric names
    left_curves: dict[str, list[tuple[float, float]]]  # the learning curves of each one's run
    right_curves: dict[str, list[tuple[float, float]]]


def compare_versions(store: RegistryStore, left: str, right: str) -> VersionComparison:
    """Two versions, named ``NAME:VERSION`` (or ``NAME@ALIAS``, ``NAME``)."""
    a, b = store.resolve(left), store.resolve(right)
    pa, pb = version_page(store, a.model, a.version), version_page(store, b.model, b.version)
    names = sorted(set(a.metrics) | set(b.metrics))

    def curves(page: VersionPage) -> dict[str, list[tuple[float, float]]]:
        return report_curves(page.view.run.report) if page.view.run else {}

    return VersionComparison(pa, pb, names, curves(pa), curves(pb))


def report_curves(report: dict[str, Any]) -> dict[str, list[tuple[float, float]]]:
    """Training loss by global step of every candidate ensemble, from a stored search report."""
    return {
        name: [(float(p[0]), float(p[1])) for p in points if len(p) == 2]
        for name, points in (report.get("curves") or {}).items()
    }


@dataclass(frozen=True)
class RunComparison:
    left: RunPage
    right: RunPage
    metrics: list[str]
    parameters: list[tuple[str, Any, Any]]  # (dotted key, left, right) for every key


def compare_runs(store: RegistryStore, settings: Settings, left: int, right: int) -> RunComparison:
    pa, pb = run_page(store, settings, left), run_page(store, settings, right)
    fa, fb = _flatten(pa.view.parameters), _flatten(pb.view.parameters)
    keys = sorted(set(fa) | set(fb))
    names = sorted(set(pa.view.run.metrics) | set(pb.view.run.metrics))
    return RunComparison(pa, pb, names, [(k, fa.get(k), fb.get(k)) for k in keys])


def _flatten(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


# -- endpoints ----------------------------------------------------------------------------------


SERVED_TTL_S = 15.0  # how long a remote (BigQuery) prediction log's figures are reused


@dataclass(frozen=True)
class ServedFigures:
    """What one model served on one endpoint, per version, from its prediction log (read through
    the monitoring workflow: ``log_target``, ``read_served``, ``version_traffic``)."""

    log: str  # where the log was read ("local warehouse PATH: prediction_log")
    traffic: list[VersionTraffic] = field(default_factory=list)  # empty: no rows for the model
    problem: str | None = None  # one line: no log, or why it could not be read


@dataclass(frozen=True)
class EndpointModel:
    endpoint: str
    model: str
    active: list[Deployment]  # most traffic first
    history: list[Deployment]  # every deployment, newest first
    served: ServedFigures | None = None  # None: figures not asked for


def endpoints_page(
    store: RegistryStore, settings: Settings | None = None, cache: ReadCache | None = None
) -> list[EndpointModel]:
    """Each endpoint and model: the traffic split now, every deployment before it and, with
    ``settings``, what each version served by the prediction log (read-only; cached in ``cache``
    while the registry and the log file stay unchanged, a remote log for ``SERVED_TTL_S``)."""
    grouped: dict[tuple[str, str], list[Deployment]] = defaultdict(list)
    for d in store.list_deployments(active_only=False):  # newest first
        grouped[(d.endpoint, d.model)].append(d)
    return [
        EndpointModel(
            endpoint=endpoint,
            model=model,
            active=sorted((d for d in history if d.active), key=lambda d: -d.traffic_percent),
            history=history,
            served=None
            if settings is None
            else served_figures(store, settings, model, endpoint, cache),
        )
        for (endpoint, model), history in sorted(grouped.items())
    ]


def served_figures(
    store: RegistryStore,
    settings: Settings,
    model: str,
    endpoint: str,
    cache: ReadCache | None = None,
) -> ServedFigures:
    """``model``'s figures on ``endpoint`` from its prediction log; never creates the log or the
    warehouse file (a missing one reads as no log)."""
    from mlkit.monitoring.served import read_served
    from mlkit.monitoring.summary import version_traffic
    from mlkit.workflows.monitor import log_target

    try:
        warehouse, table = log_target(settings, None, store, model, endpoint)
    except UsageError:  # a kind whose requests are logged nowhere mlkit knows of
        return ServedFigures("", problem="no prediction log (mlkit deploy --log-requests)")
    except MlkitError as exc:
        return ServedFigures("", problem=f"prediction log not readable: {_line(exc)}")
    where = f"{warehouse.describe()}: {table}"
    vertex = endpoint == "vertex"

    def read() -> ServedFigures:
        try:
            if not warehouse.has_table(table):
                return ServedFigures(where, problem=f"no prediction log yet ({where})")
            served = read_served(warehouse, table, model, vertex=vertex)
            return ServedFigures(where, version_traffic(served))
        except Exception as exc:  # noqa: BLE001 - any reader fault is one line on the page
            return ServedFigures(where, problem=f"prediction log not readable: {_line(exc)}")

    if cache is None:
        return read()
    return cache.served((endpoint, model), _log_freshness(warehouse), read)


def _log_freshness(warehouse: Warehouse) -> tuple[object, ...]:
    """What changes when the log may have: a local file's size and time (and its DuckDB
    write-ahead log's), else the current ``SERVED_TTL_S`` window."""
    from mlkit.data.local import LocalWarehouse

    if isinstance(warehouse, LocalWarehouse):
        out: list[object] = []
        for path in (warehouse.path, warehouse.path.with_name(warehouse.path.name + ".wal")):
            try:
                stat = path.stat()
                out.append((stat.st_mtime_ns, stat.st_size))
            except OSError:
                out.append(None)
        return tuple(out)
    return (int(time.monotonic() // SERVED_TTL_S),)


def _line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# -- data ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataPage:
    run: int
    experiment: str
    fingerprint: dict[str, Any]
    stats: dict[str, Any] | None


def data_page(store: RegistryStore, run_id: int) -> DataPage:
    run = store.get_run(run_id)
    return DataPage(
        run.id, run.experiment, dict(run.data_fingerprint or {}), store.run_data_stats(run_id)
    )


__all__ = [
    "DataPage",
    "ReadCache",
    "EndpointModel",
    "LineageGraph",
    "LineageNode",
    "ModelRow",
    "RunComparison",
    "RunPage",
    "SERVED_TTL_S",
    "ServedFigures",
    "Serving",
    "VersionComparison",
    "VersionPage",
    "VersionRow",
    "VersionsPage",
    "compare_runs",
    "compare_versions",
    "data_page",
    "endpoints_page",
    "lineage_graph",
    "models_overview",
    "open_dashboard_store",
    "report_curves",
    "run_page",
    "runs_page",
    "served_figures",
    "version_page",
    "versions_page",
]
