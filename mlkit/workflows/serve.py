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
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mlkit.config import Settings
from mlkit.errors import UsageError
from mlkit.registry import Deployment, ModelVersion, open_store
from mlkit.serving.routing import Target

if TYPE_CHECKING:
    from mlkit.serving.app import Limits
    from mlkit.serving.endpoints import Endpoint
    from mlkit.serving.observe import AnswerObserver
    from mlkit.serving.routing import TargetPicker

LOCAL_ENDPOINT = "local"

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

    def _fresh(self) -> None:
        """Forget cached answers when the event log has moved (checked at most every poll_s)."""
        now = time.monotonic()
        if now - self._checked < self.poll_s and self._stamp is not None:
            return
        started = time.perf_counter()
        newest = self._store.list_events(limit=1)  # one query on the primary key
        stamp = newest[0].id if newest else 0
        self._checked = now
        if stamp != self._stamp:
            self._stamp = stamp
            self._targets, self._labels = {}, {}
            if self.on_refresh is not None:
                self.on_refresh(time.perf_counter() - started)

    def resolve(self, model: str) -> list[Target]:
        with self._lock:
            self._fresh()
            cached = self._targets.get(model)
            if cached is not None:
                return cached
            targets = []
            for d in self._store.traffic(model, self.endpoint):
                _, path = self._version(model, d.version)
                targets.append(Target(d.version, path, d.traffic_percent, str(d.id)))
            self._targets[model] = targets
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
                found = {m.name: m for m in self._store.list_models()}.get(model)
                self._labels[model] = dict(found.aliases) if found else {}
            return self._labels[model]

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
        self._store.close()


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
) -> None:
    """Run the local endpoint for ``endpoint``'s deployments until interrupted (SIGTERM: the
    requests in flight are answered first). The token comes from ``token`` or the first line of
    ``token_file``; ``warn`` is told when anyone who can reach the address could call it;
    ``log_level`` logs JSON lines (with the access log at info) on stderr."""
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
    if resolver.deployed():  # TensorFlow before listening, not in the first request's time
        import mlkit.savedmodel  # noqa: F401
    metrics = EndpointMetrics()
    resolver.on_refresh = metrics.refreshed
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
            observers=observers,
            picker=picker,
            metrics=metrics,
        )
    finally:
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
