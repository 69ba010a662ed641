"""Serving: the local endpoint driven by the registry, and the endpoint operations (traffic,
undeploy, listing) on any endpoint kind through ``mlkit.serving.endpoints``.

``RegistryResolver`` answers the endpoint's questions from the registry: the traffic split of a
model on this endpoint, its aliases (TF Serving labels), and the list of deployments. It caches
the answers and reads the registry again as soon as its event log has moved (every deployment,
traffic change, rollback and undeploy appends an event), checking at most every ``poll_s``
seconds, so a change recorded by any process takes effect within ``poll_s`` without a restart.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from mlkit.config import Settings
from mlkit.registry import Deployment, open_store
from mlkit.serving.routing import Target

if TYPE_CHECKING:
    from mlkit.serving.endpoints import Endpoint

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


class RegistryResolver:
    """The registry's view of one endpoint (``local`` by default), cached between changes.

    The artifact's hash is checked once per version, when the endpoint first needs it.
    """

    def __init__(
        self, settings: Settings, endpoint: str = LOCAL_ENDPOINT, poll_s: float = DEFAULT_POLL_S
    ) -> None:
        self._store = open_store(settings.registry_url, settings.artifacts_dir)
        self.endpoint = endpoint
        self.poll_s = poll_s
        self._paths: dict[tuple[str, int], Path] = {}
        self._lock = threading.Lock()
        self._stamp: int | None = None
        self._checked = 0.0
        self._targets: dict[str, list[Target]] = {}
        self._labels: dict[str, dict[str, int]] = {}

    def _fresh(self) -> None:
        """Forget cached answers when the event log has moved (checked at most every poll_s)."""
        now = time.monotonic()
        if now - self._checked < self.poll_s and self._stamp is not None:
            return
        newest = self._store.list_events(limit=1)  # one query on the primary key
        stamp = newest[0].id if newest else 0
        self._checked = now
        if stamp != self._stamp:
            self._stamp = stamp
            self._targets, self._labels = {}, {}

    def resolve(self, model: str) -> list[Target]:
        with self._lock:
            self._fresh()
            cached = self._targets.get(model)
            if cached is not None:
                return cached
            targets = []
            for d in self._store.traffic(model, self.endpoint):
                key = (model, d.version)
                if key not in self._paths:
                    version = self._store.get_version(model, d.version)
                    self._paths[key] = self._store.artifact_path(version, verify=True)
                targets.append(Target(d.version, self._paths[key], d.traffic_percent, str(d.id)))
            self._targets[model] = targets
            return targets

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
    on_ready=None,
    endpoint: str = LOCAL_ENDPOINT,
    token: str | None = None,
    idle_unload_s: float = 300.0,
    max_batch_rows: int = 256,
    batch_wait_ms: float = 2.0,
    max_instances: int | None = None,
    max_body_bytes: int | None = None,
) -> None:
    """Run the local endpoint for ``endpoint``'s deployments until interrupted."""
    from mlkit.serving.pool import ModelPool
    from mlkit.serving.server import MAX_BODY_BYTES, MAX_INSTANCES
    from mlkit.serving.server import serve as run_server

    resolver = RegistryResolver(settings, endpoint)
    pool = ModelPool(
        idle_unload_s=idle_unload_s,
        max_batch_rows=max_batch_rows,
        batch_wait_s=batch_wait_ms / 1000.0,
    )
    try:
        run_server(
            resolver.resolve,
            resolver.deployed,
            host=host,
            port=port,
            on_ready=on_ready,
            labels=resolver.labels,
            token=token,
            pool=pool,
            max_instances=max_instances or MAX_INSTANCES,
            max_body_bytes=max_body_bytes or MAX_BODY_BYTES,
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
