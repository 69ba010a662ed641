"""Cloud Run: one service per model, one revision per version, scaling to zero, through
``mlkit.serving.cloudrun.CloudRunClient`` (the google-cloud-run SDK; ``MLKIT_CLOUDRUN_*``).

``_apply`` stages each version that gets traffic in Cloud Storage (once), creates the revision of
a version that has none (a new template: TensorFlow Serving's image with the version mounted from
the bucket), and sets the service's traffic split between revisions; a split with no version
deletes the service. A rollback or a traffic change between existing revisions only moves
traffic. Each deployment records ``service``, ``revision``, ``url`` and ``artifact``.
"""

from __future__ import annotations

from typing import Any

from mlkit.errors import ServingError, UsageError
from mlkit.registry.entities import Deployment
from mlkit.registry.traffic_split import apportion
from mlkit.serving.cloudrun import CloudRunClient, cloudrun_settings, revision_id
from mlkit.serving.endpoints.managed import ManagedEndpoint

_LOCAL_ONLY = (
    "--label and --url are for the local endpoint; on Cloud Run the traffic split picks the "
    "version (or ask one with --version)"
)


class CloudRunEndpoint(ManagedEndpoint[CloudRunClient]):
    kind = "cloudrun"
    local_only = _LOCAL_ONLY
    title = "Cloud Run"

    @classmethod
    def connect(cls) -> CloudRunClient:
        return CloudRunClient(cloudrun_settings())

    @classmethod
    def resource_of(cls, deployment: Deployment) -> str:
        return deployment.resources.get("revision", str(deployment.id))

    def _apply(self, model: str, split: dict[int, int]) -> dict[int, dict[str, str]]:
        if not split:
            self.client.delete(model)
            return {}
        staged = {}
        for version in split:
            mv = self.store.get_version(model, version)
            path = self.store.artifact_path(mv, verify=True)
            staged[version] = self.client.stage(model, version, path)
        existing = self.client.revision_names(model) if self.client.service(model) else set()
        missing = [v for v in sorted(split) if revision_id(model, v) not in existing]
        service = None
        have = {v for v in split if revision_id(model, v) in existing}
        for version in missing:  # one revision per update: Cloud Run makes one per template
            have.add(version)
            step = {v: p for v, p in split.items() if v in have}
            service = self.client.apply(model, apportion(step, 100), version)
        if service is None:
            service = self.client.apply(model, split, None)
        urls = {r.name: r.url for r in self.client.served(service)}
        return {
            version: {
                "service": service.name,
                "revision": revision_id(model, version),
                "url": service.uri,
                "tag_url": urls.get(revision_id(model, version), ""),
                "artifact": staged[version],
            }
            for version in split
        }

    def predict(
        self,
        model: str,
        instances: list[Any],
        *,
        version: int | None = None,
        label: str | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        if label is not None:
            raise UsageError(self.local_only)
        current = self.current(model)
        if not current:
            raise ServingError(
                f"model '{model}' is not deployed on Cloud Run",
                hint=f"deploy it with `mlkit deploy {model} --target cloudrun`",
            )
        url = current[0].resources.get("url", "")
        if version is not None:
            pinned = [d for d in current if d.version == version]
            if not pinned:
                deployed = ", ".join(str(d.version) for d in current)
                raise ServingError(
                    f"version {version} of '{model}' is not deployed on Cloud Run "
                    f"(deployed: {deployed})"
                )
            url = pinned[0].resources.get("tag_url") or url
        if not url:
            raise ServingError(f"the registry has no Cloud Run URL for '{model}'")
        answer = self.client.predict(url, model, instances, version=version, parameters=parameters)
        if answer.get("version") is None and (version is not None or len(current) == 1):
            answer["version"] = version if version is not None else current[0].version
        return answer
