"""The local endpoint, driven by the registry: it serves whatever is deployed right now."""

from __future__ import annotations

import threading
from pathlib import Path

from mlkit.config import Settings
from mlkit.registry import open_store
from mlkit.workflows.promote import LOCAL_ENDPOINT


class RegistryResolver:
    """Answers "which version of NAME serves, and where is it?" from the registry on each call.

    The artifact's hash is checked once per version, when the endpoint first needs it.
    """

    def __init__(self, settings: Settings) -> None:
        self._store = open_store(settings.registry_url, settings.artifacts_dir)
        self._paths: dict[tuple[str, int], Path] = {}
        self._lock = threading.Lock()

    def resolve(self, model: str) -> tuple[int, Path] | None:
        deployment = self._store.active_deployment(model, LOCAL_ENDPOINT)
        if deployment is None:
            return None
        key = (model, deployment.version)
        with self._lock:
            if key not in self._paths:
                version = self._store.get_version(model, deployment.version)
                self._paths[key] = self._store.artifact_path(version, verify=True)
            return deployment.version, self._paths[key]

    def deployed(self) -> list[dict]:
        return [
            {"model": d.model, "version": d.version, "deployed_at": d.deployed_at.isoformat()}
            for d in self._store.list_deployments(endpoint=LOCAL_ENDPOINT)
        ]


def serve(settings: Settings, *, host: str, port: int, on_ready=None) -> None:
    from mlkit.serving.server import serve as run_server

    resolver = RegistryResolver(settings)
    run_server(resolver.resolve, resolver.deployed, host=host, port=port, on_ready=on_ready)
