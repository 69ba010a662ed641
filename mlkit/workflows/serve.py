"""Serving: the local endpoint driven by the registry, and the endpoint operations (traffic,
undeploy, listing) on any endpoint kind through ``mlkit.serving.endpoints``.

``RegistryResolver`` answers the endpoint's questions from the registry: the traffic split of a
model on this endpoint, its aliases (TF Serving labels), and the list of deployments. It caches
the answers and reads the registry again as soon as its event log has moved (every deployment,
traffic change, rollback and undeploy appends an event), checking at most every ``poll_s``
seconds, so a change recorded by any process takes effect within ``poll_s`` without a restart.
Before every load of a version (the first, and each one after an idle unload) the endpoint asks
``RegistryResolver.verify``: the artifact's sha256 must still be the one registered.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlkit.config import Settings
from mlkit.errors import UsageError
from mlkit.registry import Deployment, ModelVersion, open_store
from mlkit.serving.payload import one_line
from mlkit.serving.routing import Target

if TYPE_CHECKING:
    from mlkit.monitoring.bandit import BanditPolicy, ThompsonPicker
    from mlkit.monitoring.log import PredictionLogger
    from mlkit.serving.app import Limits
    from mlkit.serving.endpoints import Endpoint
    from mlkit.serving.observe import AnswerObserver
    from mlkit.serving.routing import TargetPicker

logger = logging.getLogger("mlkit.serving")

LOCAL_ENDPOINT = "local"
POLICY_EVENT = "traffic_policy"  # how an endpoint splits a model's traffic: fixed or bandit
POLICIES = ("fixed", "bandit")

DEFAULT_POLL_S = 0.05


def exposed_without_token(host: str, token: str | None) -> bool:
    """Whether serving on ``host`` lets anyone who can reach it call it: no token, and an
    address other than loopback."""
    if token or host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name
        return True


def read_token(token: str | None, token_file: str | None) -> str | None:
    """The endpoint's token: given (``--token``/``MLKIT_ENDPOINT_TOKEN``) or read from a file
    (``--token-file``/``MLKIT_ENDPOINT_TOKEN_FILE``: its first line), so that it need not
    appear in ``ps``. UsageError when both are given or the file cannot be read or is empty."""
    if token and token_file:
        raise UsageError("give the token or a token file, not both")
    if not token_file:
        return token or None
    try:
        with open(os.path.expanduser(token_file), encoding="utf-8") as handle:
            first = handle.readline().strip()
    except OSError as exc:
        raise UsageError(f"cannot read the token file {token_file}: {exc.strerror}") from None
    if not first:
        raise UsageError(f"the token file {token_file} is empty: expected the token on line 1")
    return first


class RegistryResolver:
    """The registry's view of one endpoint (``local`` by default), cached between changes.

    The cache is checked against the registry's event log (one query: the newest event's id) at
    most every ``poll_s``. Without :meth:`start_polling` the check is made by the call that finds
    it due (the caller waits for it; ``poll_s=0``: every call, as tests want). With it, a thread
    of its own makes the check and rebuilds the cached answers when the log moved, so the
    endpoint's event loop never waits on the registry's database for a model it has answered
    before (a PostgreSQL round trip, a busy SQLite file), and keeps serving the last view it read
    while the registry cannot be read.

    ``verify`` checks a version's artifact against its registered sha256 before each load.
    ``on_refresh(seconds)`` is told each time the registry is read again (the metrics).
    """

    def __init__(
        self, settings: Settings, endpoint: str = LOCAL_ENDPOINT, poll_s: float = DEFAULT_POLL_S
    ) -> None:
        self._store = open_store(settings.registry_url, settings.artifacts_dir)
        self.endpoint = endpoint
        self.poll_s = poll_s
        self._versions: dict[tuple[str, int], tuple[ModelVersion, Path]] = {}
        self._lock = threading.Lock()
        self.on_refresh: Callable[[float], None] | None = None
        self._stamp: int | None = None
        self._checked = 0.0
        self._targets: dict[str, list[Target]] = {}
        self._labels: dict[str, dict[str, int]] = {}
        self._policies: dict[str, BanditPolicy | None] = {}
        self._poller: threading.Thread | None = None
        self._stop = threading.Event()

    def start_polling(self) -> None:
        """Check the registry on a thread of its own from now on (see the class); no-op when
        ``poll_s`` is 0 or it already runs."""
        if self.poll_s <= 0 or self._poller is not None:
            return
        stamp = self._store.last_event_id()
        with self._lock:
            if stamp != self._stamp:
                self._stamp = stamp
                self._targets, self._labels, self._policies = {}, {}, {}
        self._poller = threading.Thread(target=self._poll, name="mlkit-registry", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self._refresh()
            except Exception as exc:  # the registry cannot be read: serve the last view read
                logger.warning("reading the registry failed: %s", one_line(str(exc)))

    def _refresh(self) -> None:
        """When the event log moved: the answers cached for the models asked about, read again
        (outside the lock: a request is never held by these reads), then swapped in at once."""
        started = time.perf_counter()
        stamp = self._store.last_event_id()  # read first: what follows is at least this new
        if stamp == self._stamp:
            return
        with self._lock:
            asked = (list(self._targets), list(self._labels), list(self._policies))
        targets = {model: self._read_targets(model) for model in asked[0]}
        labels = {model: self._read_labels(model) for model in asked[1]}
        policies = {model: self._read_policy(model) for model in asked[2]}
        with self._lock:
            self._stamp = stamp
            self._targets, self._labels, self._policies = targets, labels, policies
        if self.on_refresh is not None:
            self.on_refresh(time.perf_counter() - started)

    def _fresh(self) -> None:
        """Forget cached answers when the event log has moved (checked at most every poll_s;
        by the polling thread when it runs)."""
        if self._poller is not None:
            return
        now = time.monotonic()
        if now - self._checked < self.poll_s and self._stamp is not None:
            return
        started = time.perf_counter()
        stamp = self._store.last_event_id()  # one query on the primary key
        self._checked = now
        if stamp != self._stamp:
            self._stamp = stamp
            self._targets, self._labels, self._policies = {}, {}, {}
            if self.on_refresh is not None:
                self.on_refresh(time.perf_counter() - started)

    def resolve(self, model: str) -> list[Target]:
        with self._lock:
            self._fresh()
            cached = self._targets.get(model)
            if cached is not None:
                return cached
            self._targets[model] = targets = self._read_targets(model)
            return targets

    def _read_targets(self, model: str) -> list[Target]:
        targets = []
        for d in self._store.traffic(model, self.endpoint):
            _, path = self._version(model, d.version)
            targets.append(Target(d.version, path, d.traffic_percent, str(d.id)))
        return targets

    def _version(self, model: str, version: int) -> tuple[ModelVersion, Path]:
        key = (model, version)
        if key not in self._versions:
            mv = self._store.get_version(model, version)
            self._versions[key] = (mv, self._store.artifact_path(mv, verify=False))
        return self._versions[key]

    def verify(self, model: str, version: int, path: Path) -> None:
        """ArtifactError unless the version's artifact still has its registered sha256 (called
        before every load, on a worker thread: the hashing runs outside the lock)."""
        with self._lock:
            mv, _ = self._version(model, version)
        self._store.artifact_path(mv, verify=True)

    def labels(self, model: str) -> dict[str, int]:
        with self._lock:
            self._fresh()
            if model not in self._labels:
                self._labels[model] = self._read_labels(model)
            return self._labels[model]

    def _read_labels(self, model: str) -> dict[str, int]:
        found = {m.name: m for m in self._store.list_models()}.get(model)
        return dict(found.aliases) if found else {}

    def policy(self, model: str) -> BanditPolicy | None:
        """The bandit's policy for ``model`` on this endpoint, or None (the fixed split)."""
        with self._lock:
            self._fresh()
            if model not in self._policies:
                self._policies[model] = self._read_policy(model)
            return self._policies[model]

    def _read_policy(self, model: str) -> BanditPolicy | None:
        from mlkit.monitoring.bandit import BanditPolicy
        from mlkit.workflows.monitor import ALLOCATION_EVENT

        event = self._store.latest_event(POLICY_EVENT, model)
        payload = event.payload if event is not None else {}
        if payload.get("policy") != "bandit" or payload.get("endpoint") != self.endpoint:
            return None
        from mlkit.workflows.monitor import CHECK_EVENT

        capped = set()  # its latest verdict failed (forced or not), or its last monitoring check
        for d in self._store.traffic(model, self.endpoint):
            verdict = self._store.latest_verdict(model, d.version)
            if verdict is not None and not verdict.passed:
                capped.add(d.version)
        check = self._store.latest_event(CHECK_EVENT, model)
        for line in (check.payload or {}).get("broken") or [] if check is not None else []:
            head, _, rule = str(line).partition(":")
            words = head.split()
            # Drift is of the served inputs, which every version sees alike: not the version's
            # fault, so not a reason to take its traffic (its quality rules are).
            drift = "drifted" in rule
            if len(words) == 2 and words[0] == "version" and words[1].isdigit() and not drift:
                capped.add(int(words[1]))
        last = self._store.latest_event(ALLOCATION_EVENT, model)
        prior: dict[int, tuple[int, int]] = {}
        if last is not None and event is not None and last.id > event.id:
            counts = (last.payload or {}).get("counts") or {}
            prior = {int(v): (int(c[0]), int(c[1])) for v, c in counts.items()}
        return BanditPolicy(
            min_share=float(payload.get("min_share", 0.05)),
            cap=float(payload.get("cap", 0.05)),
            capped=frozenset(capped),
            tolerance=payload.get("tolerance"),
            prior=prior,
        )

    def deployed(self) -> list[dict]:
        return [
            {
                "model": d.model,
                "version": d.version,
                "traffic_percent": d.traffic_percent,
                "deployed_at": d.deployed_at.isoformat(),
            }
            for d in self._store.list_deployments(endpoint=self.endpoint)
        ]

    def close(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(5)
        self._store.close()


class EventWriter:
    """Registry events written off the request path: one background thread and a queue."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._queue: queue.Queue[tuple[str, str | None, dict[str, Any]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="mlkit-events", daemon=True)
        self._thread.start()

    def put(self, kind: str, model: str | None, payload: dict[str, Any]) -> None:
        self._queue.put((kind, model, payload))

    def _run(self) -> None:
        store = open_store(self._settings.registry_url, self._settings.artifacts_dir)
        try:
            while (item := self._queue.get()) is not None:
                kind, model, payload = item
                try:
                    store.record_event(kind, model=model, payload=payload)
                except Exception:
                    logger.exception("recording the event '%s' failed", kind)
        finally:
            store.close()

    def close(self, timeout_s: float = 5.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout_s)


def prediction_logger(
    settings: Settings,
    log: str,
    *,
    sample: float = 1.0,
    flush_s: float = 1.0,
    events: EventWriter | None = None,
) -> PredictionLogger:
    """The endpoint's prediction log, in ``log`` (a local table or ``bq://project.dataset.table``);
    its dropped count is recorded as an event at most every 10 s."""
    from mlkit.data.source import table_target
    from mlkit.errors import UsageError
    from mlkit.monitoring.log import LOG_TABLE, PredictionLogger
    from mlkit.workflows.monitor import DROPPED_EVENT

    if not 0.0 < sample <= 1.0:
        raise UsageError(f"--log-sample must be in (0, 1], got {sample}")
    warehouse, table = table_target(log, local_path=settings.warehouse_path)
    table = table or LOG_TABLE
    last = [0.0]

    def dropped(count: int) -> None:
        if events is not None and time.monotonic() - last[0] >= 10.0:
            last[0] = time.monotonic()
            events.put(DROPPED_EVENT, None, {"dropped": count, "log": log})

    return PredictionLogger(
        warehouse,
        table=table,
        labels_table=f"{table}_labels",
        sample=sample,
        flush_interval_s=flush_s,
        on_dropped=dropped,
    )


@dataclass
class Observing:
    """What watches a local endpoint: its observers (the prediction log, the bandit), the picker
    (the bandit, falling back to the fixed split), and the writer of their registry events."""

    observers: list[AnswerObserver]
    picker: ThompsonPicker
    events: EventWriter
    log: PredictionLogger | None


def observing(
    settings: Settings,
    resolver: RegistryResolver,
    *,
    log: str | None = "prediction_log",
    log_sample: float = 1.0,
    log_flush_s: float = 1.0,
    seed: int | None = None,
) -> Observing:
    """The observers and picker of an endpoint that serves ``resolver``'s deployments. Close
    the server's observers (``serve`` does) and then ``events``."""
    from mlkit.monitoring.bandit import ThompsonPicker
    from mlkit.workflows.monitor import ALLOCATION_EVENT

    events = EventWriter(settings)
    observers: list[AnswerObserver] = []
    logger_ = None
    if log:
        logger_ = prediction_logger(
            settings, log, sample=log_sample, flush_s=log_flush_s, events=events
        )
        observers.append(logger_)
    endpoint = resolver.endpoint

    def allocated(model: str, shares: dict[int, float], counts: dict[int, tuple[int, int]]) -> None:
        payload = {"endpoint": endpoint, "shares": shares, "counts": counts}
        events.put(ALLOCATION_EVENT, model, payload)

    bandit = ThompsonPicker(resolver.policy, on_allocation=allocated, seed=seed)
    observers.append(bandit)
    return Observing(observers, bandit, events, logger_)


def serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    on_ready: Callable[[tuple[str, int]], None] | None = None,
    warn: Callable[[str], None] | None = None,
    endpoint: str = LOCAL_ENDPOINT,
    token: str | None = None,
    token_file: str | None = None,
    log_level: str | None = None,
    idle_unload_s: float = 300.0,
    max_batch_rows: int = 256,
    batch_wait_ms: float = 2.0,
    max_instances: int | None = None,
    max_body_bytes: int | None = None,
    max_connections: int | None = None,
    max_queue: int | None = None,
    body_timeout_s: float | None = None,
    limits: Limits | None = None,
    observers: Sequence[AnswerObserver] = (),
    picker: TargetPicker | None = None,
    log: str | None = "prediction_log",
    log_sample: float = 1.0,
    log_flush_s: float = 1.0,
) -> None:
    """Run the local endpoint for ``endpoint``'s deployments until interrupted (SIGTERM: the
    requests in flight are answered first). The token comes from ``token`` or the first line of
    ``token_file``; ``warn`` is told when anyone who can reach the address could call it;
    ``log_level`` logs JSON lines (with the access log at info) on stderr. Each answer is
    logged to ``log`` (None: not logged) and models under the bandit policy are routed by it."""
    from dataclasses import replace

    from mlkit.serving.metrics import EndpointMetrics
    from mlkit.serving.pool import ModelPool
    from mlkit.serving.server import Limits as Bounds
    from mlkit.serving.server import serve as run_server

    secret = read_token(token, token_file)
    if warn is not None and exposed_without_token(host, secret):
        warn(
            f"serving on {host} without a token: anyone who can reach it can call it "
            "(set MLKIT_ENDPOINT_TOKEN or --token-file)"
        )
    if log_level:
        from mlkit.serving import logs

        if log_level.lower() not in logs.LEVELS:
            raise UsageError(
                f"unknown --log-level {log_level!r}: expected {', '.join(logs.LEVELS)}"
            )
        logs.configure(log_level.lower())
    bounds = limits or Bounds()
    bounds = replace(
        bounds,
        max_instances=max_instances or bounds.max_instances,
        max_body_bytes=max_body_bytes or bounds.max_body_bytes,
        max_connections=max_connections or bounds.max_connections,
        max_queue=max_queue or bounds.max_queue,
        body_timeout_s=body_timeout_s or bounds.body_timeout_s,
    )
    resolver = RegistryResolver(settings, endpoint)
    resolver.start_polling()  # the event loop never waits on the registry's database
    if resolver.deployed():  # TensorFlow before listening, not in the first request's time
        import mlkit.savedmodel  # noqa: F401
    metrics = EndpointMetrics()
    resolver.on_refresh = metrics.refreshed
    watch = observing(settings, resolver, log=log, log_sample=log_sample, log_flush_s=log_flush_s)
    if watch.log is not None:
        counts = watch.log.counts
        metrics.watch_values(
            "mlkit_endpoint_prediction_log",
            lambda: {
                "logged": counts().logged,
                "dropped": counts().dropped,
                "pending": counts().pending,
            },
        )
    pool = ModelPool(
        idle_unload_s=idle_unload_s,
        max_batch_rows=max_batch_rows,
        batch_wait_s=batch_wait_ms / 1000.0,
        verify=resolver.verify,
        events=metrics,
    )
    try:
        run_server(
            resolver.resolve,
            resolver.deployed,
            host=host,
            port=port,
            on_ready=on_ready,
            labels=resolver.labels,
            token=secret,
            pool=pool,
            limits=bounds,
            observers=[*observers, *watch.observers],
            picker=picker or watch.picker,
            metrics=metrics,
        )
    finally:
        watch.events.close()
        resolver.close()


def open_endpoint(
    settings: Settings, kind: str, *, url: str | None = None, token: str | None = None
) -> Endpoint:
    """The endpoint of kind ``kind`` (``local``, ``vertex``: ``ENDPOINT_KINDS``) on the registry,
    which is opened only when the endpoint first needs it (a local prediction does not)."""
    from mlkit.serving.endpoints import open_endpoint as open_kind

    return open_kind(
        kind,
        lambda: open_store(settings.registry_url, settings.artifacts_dir),
        settings=settings,
        url=url,
        token=token,
    )


def set_traffic(
    settings: Settings,
    model: str,
    split: str,
    *,
    endpoint: str = LOCAL_ENDPOINT,
    actor: str | None = None,
    reason: str | None = None,
) -> list[Deployment]:
    """Serve ``model`` on ``endpoint`` with ``split`` (text, ``3=90,4=10``), recording who."""
    from mlkit.serving.endpoints import parse_split
    from mlkit.workflows.promote import current_user

    shares = parse_split(split)
    target = open_endpoint(settings, endpoint)
    return target.set_traffic(model, shares, actor=actor or current_user(), reason=reason)


@dataclass(frozen=True)
class TrafficOutcome:
    deployments: list[Deployment]
    policy: str  # fixed or bandit
    min_share: float | None = None
    cap: float | None = None


def traffic(
    settings: Settings,
    model: str,
    split: str | None,
    *,
    policy: str | None = None,
    endpoint: str = LOCAL_ENDPOINT,
    min_share: float = 0.05,
    cap: float = 0.05,
    tolerance: float | None = None,
    actor: str | None = None,
    reason: str | None = None,
) -> TrafficOutcome:
    """``mlkit endpoints traffic``: set ``split`` (the fixed split, recorded as ever) and/or the
    policy that routes each request: ``fixed`` (the split; the default) or ``bandit`` (Thompson
    sampling on feedback between the deployed versions, at least ``min_share`` each, at most
    ``cap`` for a version whose verdict failed). A split without ``policy`` ends a bandit. The
    policy is recorded as a ``traffic_policy`` event; the local endpoint follows it live."""
    from mlkit.errors import UsageError
    from mlkit.workflows.promote import current_user

    if policy is not None and policy not in POLICIES:
        raise UsageError(f"--policy must be one of {', '.join(POLICIES)}, got {policy!r}")
    if split is None and policy != "bandit":
        raise UsageError("give the split, e.g. 3=90,4=10 (or --policy bandit)")
    if policy == "bandit" and endpoint != LOCAL_ENDPOINT:
        raise UsageError(
            f"--policy bandit runs in the local endpoint; endpoint '{endpoint}' splits by weight",
            hint="use --target local, or a fixed split",
        )
    if not 0.0 <= min_share <= 0.5 or not 0.0 <= cap <= 1.0:
        raise UsageError("--min-share must be in 0..0.5 and --cap in 0..1")
    who = actor or current_user()
    if policy == "bandit":
        from mlkit.serving.endpoints import parse_split

        serving = (
            [v for v, p in parse_split(split).items() if p > 0]
            if split is not None
            else deployments(settings, endpoint=endpoint, model=model)
        )
        if len(serving) < 2:
            raise UsageError(
                f"the bandit needs at least two deployed versions of '{model}' on {endpoint} "
                f"({len(serving)} deployed)",
                hint=f"deploy two, e.g. mlkit endpoints traffic {model} 1=50,2=50 --policy bandit",
            )
    rows = (
        set_traffic(settings, model, split, endpoint=endpoint, actor=who, reason=reason)
        if split is not None
        else deployments(settings, endpoint=endpoint, model=model)
    )
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        current = store.latest_event(POLICY_EVENT, model)
        was = (current.payload or {}).get("policy") if current is not None else "fixed"
        chosen = policy or "fixed"
        if policy is not None or was == "bandit":
            payload: dict[str, object] = {
                "policy": chosen, "endpoint": endpoint, "actor": who, "reason": reason,
            }  # fmt: skip
            if chosen == "bandit":
                if tolerance is None:  # regression's reward: [monitoring] reward_tolerance
                    from mlkit.workflows.monitor import monitoring_spec

                    tolerance = monitoring_spec(settings, model).reward_tolerance
                payload |= {"min_share": min_share, "cap": cap, "tolerance": tolerance}
            store.record_event(POLICY_EVENT, model=model, payload=payload)
    if chosen == "bandit":
        return TrafficOutcome(rows, chosen, min_share, cap)
    return TrafficOutcome(rows, chosen)


def undeploy(
    settings: Settings,
    model: str,
    *,
    version: int | None = None,
    endpoint: str = LOCAL_ENDPOINT,
    actor: str | None = None,
    reason: str | None = None,
) -> list[Deployment]:
    """Stop serving ``model`` (or one version) on ``endpoint``; what stays active."""
    from mlkit.workflows.promote import current_user

    target = open_endpoint(settings, endpoint)
    return target.undeploy(model, version, actor=actor or current_user(), reason=reason)


def deployments(
    settings: Settings, *, endpoint: str | None = None, model: str | None = None
) -> list[Deployment]:
    """Active deployments (of one endpoint kind, or all) with their traffic shares."""
    if endpoint is not None:
        from mlkit.serving.endpoints import endpoint_kind

        endpoint_kind(endpoint)  # UsageError for an unknown kind
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        return [
            d
            for d in store.list_deployments(endpoint=endpoint)
            if model is None or d.model == model
        ]


def resource_of(deployment: Deployment) -> str:
    """What the deployment's endpoint kind calls it (Vertex AI: the deployed model id)."""
    from mlkit.serving.endpoints import ENDPOINT_KINDS, Endpoint

    return ENDPOINT_KINDS.get(deployment.endpoint, Endpoint).resource_of(deployment)
