"""The endpoint's Prometheus metrics (``GET /metrics``), through ``prometheus-client``.

One ``EndpointMetrics`` per server, on its own ``CollectorRegistry`` (several servers in one
process do not share counters). It is the pool's ``PoolEvents`` (loads, unloads, batches) and
the resolver's refresh listener; queue depth and requests in flight are read at scrape time.

    mlkit_endpoint_requests_total{model,version,route,code}
    mlkit_endpoint_errors_total{model,version,route,code}      (answers with code >= 400)
    mlkit_endpoint_request_seconds{model,version,route}        (histogram)
    mlkit_endpoint_batch_requests{model,version}               (histogram: requests per call)
    mlkit_endpoint_batch_rows{model,version}                   (histogram: rows per call)
    mlkit_endpoint_queue_depth{model,version}                  (requests waiting for the model)
    mlkit_endpoint_requests_in_flight                          (read when scraped)
    mlkit_endpoint_overloaded_total                            (answered 503 + Retry-After)
    mlkit_endpoint_model_loads_total{model,version} / _model_load_seconds{model,version}
    mlkit_endpoint_model_unloads_total{model,version} / _model_unload_seconds{model,version}
    mlkit_endpoint_model_refusals_total{model,version}         (artifact check failed)
    mlkit_endpoint_registry_refreshes_total / _registry_refresh_seconds
    mlkit_endpoint_dropped_clients_total{reason}
    mlkit_endpoint_prediction_log_{logged,dropped,pending}     (with `mlkit serve --log`)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
_LOAD_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

_BOUND_LIMIT = 4096  # label sets whose children are kept bound (a model name is the client's)
_Bound = tuple[Counter, "Counter | None", Histogram]

QueueDepths = Callable[[], Iterable[tuple[str, int, int]]]
"""``(model, version, depth)`` for each loaded version."""


class _Live(Collector):
    """Gauges read when scraped: queue depth per loaded version."""

    def __init__(self, depths: QueueDepths) -> None:
        self._depths = depths

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "mlkit_endpoint_queue_depth",
            "Requests waiting for a model call, per loaded version.",
            labels=["model", "version"],
        )
        for model, version, depth in self._depths():
            family.add_metric([model, str(version)], depth)
        yield family


class _Values(Collector):
    """Gauges read when scraped from a function (an observer's counts)."""

    def __init__(self, prefix: str, read: Callable[[], dict[str, float]]) -> None:
        self._prefix, self._read = prefix, read

    def collect(self) -> Iterable[GaugeMetricFamily]:
        for name, value in self._read().items():
            yield GaugeMetricFamily(f"{self._prefix}_{name}", f"{self._prefix}: {name}.", value)


class EndpointMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "mlkit_endpoint_requests", "Answered requests.",
            ["model", "version", "route", "code"], registry=r,
        )  # fmt: skip
        self.errors = Counter(
            "mlkit_endpoint_errors", "Requests answered with an error (code >= 400).",
            ["model", "version", "route", "code"], registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "mlkit_endpoint_request_seconds", "Seconds from the request's headers to its answer.",
            ["model", "version", "route"], buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.batch_requests = Histogram(
            "mlkit_endpoint_batch_requests", "Requests per model call.",
            ["model", "version"], buckets=_BATCH_BUCKETS, registry=r,
        )  # fmt: skip
        self.batch_rows = Histogram(
            "mlkit_endpoint_batch_rows", "Rows (instances) per model call.",
            ["model", "version"], buckets=_BATCH_BUCKETS, registry=r,
        )  # fmt: skip
        self.in_flight = Gauge(
            "mlkit_endpoint_requests_in_flight", "Predict requests accepted and not answered yet.",
            registry=r,
        )  # fmt: skip
        self.overloaded = Counter(
            "mlkit_endpoint_overloaded", "Requests answered 503 because the queue was full.",
            registry=r,
        )  # fmt: skip
        self.loads = Counter(
            "mlkit_endpoint_model_loads", "Versions loaded into memory.",
            ["model", "version"], registry=r,
        )  # fmt: skip
        self.load_seconds = Histogram(
            "mlkit_endpoint_model_load_seconds", "Seconds to check and load a version.",
            ["model", "version"], buckets=_LOAD_BUCKETS, registry=r,
        )  # fmt: skip
        self.unloads = Counter(
            "mlkit_endpoint_model_unloads", "Versions unloaded from memory.",
            ["model", "version"], registry=r,
        )  # fmt: skip
        self.unload_seconds = Histogram(
            "mlkit_endpoint_model_unload_seconds", "Seconds to unload a version.",
            ["model", "version"], buckets=_LOAD_BUCKETS, registry=r,
        )  # fmt: skip
        self.refusals = Counter(
            "mlkit_endpoint_model_refusals", "Loads refused: the artifact failed its check.",
            ["model", "version"], registry=r,
        )  # fmt: skip
        self.refreshes = Counter(
            "mlkit_endpoint_registry_refreshes", "Times the endpoint re-read the registry.",
            registry=r,
        )  # fmt: skip
        self.refresh_seconds = Histogram(
            "mlkit_endpoint_registry_refresh_seconds", "Seconds to re-read the registry.",
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.dropped = Counter(
            "mlkit_endpoint_dropped_clients", "Connections closed before an answer, and why.",
            ["reason"], registry=r,
        )  # fmt: skip
        self._live: _Live | None = None
        self._answered: dict[tuple[str, str, str, int], _Bound] = {}
        self._batches: dict[tuple[str, int], tuple[Histogram, Histogram]] = {}

    def watch_queues(self, depths: QueueDepths) -> None:
        """Read queue depths from ``depths`` at scrape time (once per server)."""
        if self._live is None:
            self._live = _Live(depths)
            self.registry.register(self._live)

    def watch_in_flight(self, read: Callable[[], float]) -> None:
        """``mlkit_endpoint_requests_in_flight`` read from ``read()`` at scrape time (no gauge
        update per request)."""
        self.in_flight.set_function(read)

    def watch_values(self, prefix: str, read: Callable[[], dict[str, float]]) -> None:
        """Gauges ``PREFIX_NAME`` read from ``read()`` at scrape time (e.g. the prediction log's
        logged, dropped and pending records)."""
        self.registry.register(_Values(prefix, read))

    # -- requests ------------------------------------------------------------------------------

    def answered(self, model: str, version: str, route: str, code: int, seconds: float) -> None:
        key = (model, version, route, code)
        bound = self._answered.get(key)
        if bound is None:  # the labelled children, looked up once per label set
            text = str(code)
            bound = (
                self.requests.labels(model, version, route, text),
                self.errors.labels(model, version, route, text) if code >= 400 else None,
                self.latency.labels(model, version, route),
            )
            if len(self._answered) < _BOUND_LIMIT:
                self._answered[key] = bound
        requests, errors, latency = bound
        requests.inc()
        if errors is not None:
            errors.inc()
        latency.observe(seconds)

    # -- PoolEvents ----------------------------------------------------------------------------

    def loaded(self, model: str, version: int, seconds: float) -> None:
        self.loads.labels(model, str(version)).inc()
        self.load_seconds.labels(model, str(version)).observe(seconds)

    def unloaded(self, model: str, version: int, seconds: float, why: str) -> None:
        self.unloads.labels(model, str(version)).inc()
        self.unload_seconds.labels(model, str(version)).observe(seconds)

    def batch(self, model: str, version: int, requests: int, rows: int) -> None:
        bound = self._batches.get((model, version))
        if bound is None:  # a loaded version's children, looked up once
            bound = (
                self.batch_requests.labels(model, str(version)),
                self.batch_rows.labels(model, str(version)),
            )
            if len(self._batches) < _BOUND_LIMIT:
                self._batches[(model, version)] = bound
        bound[0].observe(requests)
        bound[1].observe(rows)

    def refused(self, model: str, version: int) -> None:
        self.refusals.labels(model, str(version)).inc()

    # -- the registry --------------------------------------------------------------------------

    def refreshed(self, seconds: float) -> None:
        self.refreshes.inc()
        self.refresh_seconds.observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
