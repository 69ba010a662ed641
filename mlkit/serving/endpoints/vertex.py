"""Vertex AI: one Vertex model per mlkit model (its versions = registry versions) and one Vertex
endpoint per model, through ``mlkit.serving.vertex.VertexClient`` (the google-cloud-aiplatform
SDK; ``MLKIT_VERTEX_*`` settings).

``_apply`` uploads a version the first time it gets traffic, deploys it on the endpoint, sets the
endpoint's traffic split and undeploys the versions left without traffic (so they stop costing
nodes). Each deployment's resource names (``model``, ``model_version``, ``endpoint``,
``deployed_model_id``) are recorded in ``Deployment.resources``.
"""

from __future__ import annotations

from typing import Any

from mlkit.errors import ServingError, UsageError
from mlkit.registry.entities import Deployment
from mlkit.registry.traffic_split import apportion, champion_of
from mlkit.serving.endpoints.managed import ManagedEndpoint
from mlkit.serving.vertex import VertexClient, vertex_settings

_LOCAL_ONLY = (
    "--version, --label and --url are for the local endpoint; Vertex AI picks the version by "
    "the endpoint's traffic split"
)


class VertexEndpoint(ManagedEndpoint[VertexClient]):
    kind = "vertex"
    local_only = _LOCAL_ONLY
    title = "Vertex AI"

    @classmethod
    def connect(cls) -> VertexClient:
        return VertexClient(vertex_settings())

    @classmethod
    def resource_of(cls, deployment: Deployment) -> str:
        return deployment.resources.get("deployed_model_id", str(deployment.id))

    # -- what the registry remembers of Vertex -------------------------------------------------

    def _history(self, model: str) -> list[Deployment]:
        return [
            d
            for d in self.store.list_deployments(endpoint=self.kind, active_only=False)
            if d.model == model and d.resources
        ]

    def _resource(self, model: str, key: str) -> str | None:
        for d in self.current(model) + self._history(model):
            if d.resources.get(key):
                return d.resources[key]
        return None

    def _uploaded(self, model: str, version: int) -> tuple[str, str]:
        """The Vertex model and version id of a registry version, uploading it if needed."""
        for d in self._history(model):
            names = d.resources
            if d.version == version and names.get("model") and names.get("model_version"):
                return names["model"], names["model_version"]
        mv = self.store.get_version(model, version)
        parent = self._resource(model, "model") or self.client.find_model(model)
        return self.client.upload(
            model,
            version,
            self.store.artifact_path(mv, verify=True),
            parent_model=parent,
            description=mv.description,
        )

    def _whole_rows(self, model: str, current: list[Deployment], instances: list) -> list:
        """Raw tabular rows with every input, as Vertex AI's TensorFlow container needs them
        (``mlkit.serving.complete``; strict JSON: a missing number is refused in one line)."""
        from mlkit.serving.complete import artifact_forms, complete_instances, needs_completion

        if not any(isinstance(i, dict) for i in instances):
            return instances
        forms: dict[str, str] = {}
        for d in current:
            forms.update(
                artifact_forms(self.store.artifact_path(self.store.get_version(model, d.version)))
            )
        if not forms or not needs_completion(instances, forms):
            return instances
        return complete_instances(instances, forms, nan_allowed=False)

    # -- the interface -------------------------------------------------------------------------

    def _apply(self, model: str, split: dict[int, int]) -> dict[int, dict[str, str]]:
        endpoint = self.client.endpoint(model, self._resource(model, "endpoint"))
        live = self.client.deployed(endpoint)
        names: dict[int, dict[str, str]] = {}
        by_version: dict[int, str] = {}  # registry version -> deployed model id
        for version in split:
            vertex_model, vertex_version = self._uploaded(model, version)
            names[version] = {
                "model": vertex_model,
                "model_version": vertex_version,
                "endpoint": endpoint.resource_name,
            }
            same = [
                d for d in live if d.model == vertex_model and d.model_version == vertex_version
            ]
            if same:
                by_version[version] = same[0].id
                continue
            # A new deployed model: it gets its share, the ones already there keep theirs
            # scaled into the rest until the final split is set below.
            taking = {d.id: d.percent for d in live if d.percent > 0}
            share = split[version] if taking else 100
            by_version[version] = self.client.deploy(
                endpoint,
                vertex_model,
                vertex_version,
                display_name=f"{model}-v{version}",
                split={"0": share, **apportion(taking, 100 - share)},
            )
            live = self.client.deployed(endpoint)
        final = {by_version[v]: p for v, p in split.items()}
        if final and {d.id: d.percent for d in live if d.percent > 0} != final:
            self.client.set_traffic(endpoint, final)
        ours = {n["model"] for n in names.values()} | {self._resource(model, "model") or ""}
        leaving = [d for d in self.client.deployed(endpoint) if d.id not in final]
        for i, d in enumerate(leaving):
            if d.model in ours:  # no traffic: stop paying for its nodes
                rest = final or apportion({x.id: x.percent for x in leaving[i + 1 :]})
                self.client.undeploy(endpoint, d.id, rest)
        for version, deployed_model_id in by_version.items():
            names[version]["deployed_model_id"] = deployed_model_id
        top = champion_of(split, self.store.get_alias(model, "champion"))
        if top is not None:
            self.client.set_alias(names[top]["model"], names[top]["model_version"], "champion")
        return names

    def log_requests(self, model: str, table: str | None, sampling_rate: float = 1.0) -> str:
        endpoint_name = self._resource(model, "endpoint") if self.current(model) else None
        if endpoint_name is None:
            raise ServingError(
                f"model '{model}' is not deployed on Vertex AI",
                hint=f"deploy it with `mlkit deploy {model} --target vertex --log-requests`",
            )
        uri = table or (
            f"bq://{self.client.settings.project}.mlkit_request_logs."
            f"{model.replace('-', '_')}_requests"
        )
        if not uri.startswith("bq://") or uri.count(".") != 2:
            raise UsageError(f"--log-table {uri!r}: expected bq://project.dataset.table")
        endpoint = self.client.endpoint(model, endpoint_name)
        self.client.log_requests(endpoint, uri, sampling_rate)
        return uri

    def predict(
        self,
        model: str,
        instances: list[Any],
        *,
        version: int | None = None,
        label: str | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        if version is not None or label is not None:
            raise UsageError(self.local_only)
        current = self.current(model)
        endpoint = self._resource(model, "endpoint") if current else None
        if endpoint is None:
            raise ServingError(
                f"model '{model}' is not deployed on Vertex AI",
                hint=f"deploy it with `mlkit deploy {model} --target vertex`",
            )
        instances = self._whole_rows(model, current, instances)
        answer = self.client.predict(endpoint, instances, parameters)
        for d in current:  # which registry version answered
            if d.resources.get("deployed_model_id") == answer.get("deployedModelId"):
                answer["version"] = d.version
        return answer
