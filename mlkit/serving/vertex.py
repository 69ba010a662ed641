"""Vertex AI as the cloud target, through the real google-cloud-aiplatform SDK.

``VertexClient`` is the thin layer over the SDK (imported lazily; it imports no TensorFlow):

- ``upload``: a registry version becomes a Vertex **model version** under one parent model per
  mlkit model (display name = the model's name), with aliases ``v<N>`` (and ``default``); the SDK
  stages the SavedModel directory in the staging bucket first;
- ``endpoint``: the Vertex endpoint of a model (display name = the model's name), reused when it
  exists, created otherwise;
- ``deploy`` / ``set_traffic`` / ``undeploy``: deployed models on that endpoint and the
  endpoint's traffic split;
- ``predict``: ``Endpoint.predict``.

Configuration comes from the environment (``vertex_settings``), so the same code path runs
against Vertex AI and, in tests, against a fake REST server on loopback:
``MLKIT_VERTEX_PROJECT`` (else ``GOOGLE_CLOUD_PROJECT``), ``MLKIT_VERTEX_LOCATION`` (us-central1),
``MLKIT_VERTEX_STAGING_BUCKET`` (gs://..., required to upload), ``MLKIT_VERTEX_API_ENDPOINT``
(another API host, e.g. ``http://127.0.0.1:PORT``), ``MLKIT_VERTEX_CREDENTIALS=anonymous`` (no
Google credentials: only for a local fake), ``MLKIT_VERTEX_SERVING_IMAGE``,
``MLKIT_VERTEX_MACHINE_TYPE``, ``MLKIT_VERTEX_MIN_REPLICAS``, ``MLKIT_VERTEX_MAX_REPLICAS``.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlkit.config import google_project
from mlkit.errors import ServingError, UsageError
from mlkit.serving.google_calls import GoogleCalls, one_line

logger = logging.getLogger("mlkit.serving")

DEFAULT_SERVING_IMAGE = "us-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest"
_SETUP_HINT = "see docs/serving.md, 'Vertex AI setup'"


@dataclass(frozen=True)
class VertexSettings:
    project: str
    location: str = "us-central1"
    staging_bucket: str | None = None
    api_endpoint: str | None = None
    anonymous: bool = False
    serving_image: str = DEFAULT_SERVING_IMAGE
    machine_type: str = "n1-standard-2"
    min_replicas: int = 1
    max_replicas: int = 1


def _int_env(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise UsageError(f"{name} must be a whole number of at least 1, got {raw!r}")
    return value


def vertex_settings(env: Mapping[str, str] | None = None) -> VertexSettings:
    """Read and check the ``MLKIT_VERTEX_*`` settings; UsageError naming what is wrong."""
    env = os.environ if env is None else env
    project, variable = google_project("MLKIT_VERTEX_PROJECT", env)
    if not project:
        raise UsageError(
            "the Vertex AI target needs a Google Cloud project: neither MLKIT_VERTEX_PROJECT "
            "nor GOOGLE_CLOUD_PROJECT is set",
            hint=_SETUP_HINT,
        )
    if not re.fullmatch(r"[a-z0-9][a-z0-9.:-]{1,62}", project):
        raise UsageError(f"{variable} {project!r} is not a valid project id")
    location = (env.get("MLKIT_VERTEX_LOCATION") or "us-central1").strip()
    if not re.fullmatch(r"[a-z]+-[a-z]+\d+", location):
        raise UsageError(
            f"MLKIT_VERTEX_LOCATION {location!r} is not a region (expected e.g. us-central1)"
        )
    bucket = (env.get("MLKIT_VERTEX_STAGING_BUCKET") or "").strip() or None
    if bucket is not None and not re.fullmatch(r"gs://[a-z0-9][a-z0-9._-]{1,220}(/.*)?", bucket):
        raise UsageError(
            f"MLKIT_VERTEX_STAGING_BUCKET must be a gs://BUCKET[/PATH] URI, got {bucket!r}"
        )
    credentials = (env.get("MLKIT_VERTEX_CREDENTIALS") or "").strip().lower()
    if credentials not in ("", "default", "anonymous"):
        raise UsageError(
            f"MLKIT_VERTEX_CREDENTIALS must be 'default' or 'anonymous', got {credentials!r}"
        )
    return VertexSettings(
        project=project,
        location=location,
        staging_bucket=bucket,
        api_endpoint=(env.get("MLKIT_VERTEX_API_ENDPOINT") or "").strip() or None,
        anonymous=credentials == "anonymous",
        serving_image=env.get("MLKIT_VERTEX_SERVING_IMAGE") or DEFAULT_SERVING_IMAGE,
        machine_type=env.get("MLKIT_VERTEX_MACHINE_TYPE") or "n1-standard-2",
        min_replicas=_int_env(env, "MLKIT_VERTEX_MIN_REPLICAS", 1),
        max_replicas=_int_env(env, "MLKIT_VERTEX_MAX_REPLICAS", 1),
    )


@dataclass(frozen=True)
class DeployedModel:
    """A model version deployed on a Vertex endpoint, and its share of the traffic."""

    id: str
    model: str  # projects/P/locations/L/models/ID
    model_version: str
    percent: int


class VertexClient:
    """The SDK calls mlkit makes; every SDK error becomes a one-line ServingError."""

    def __init__(self, settings: VertexSettings) -> None:
        self.settings = settings
        self._calls = GoogleCalls("Vertex AI", _SETUP_HINT)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # Google's Python-version notices
            from google.cloud import aiplatform

        self.aiplatform = aiplatform
        credentials = None
        if settings.anonymous:
            from google.auth.credentials import AnonymousCredentials

            credentials = AnonymousCredentials()
        self._calls.call(
            "configure the Vertex AI SDK",
            aiplatform.init,
            project=settings.project,
            location=settings.location,
            staging_bucket=settings.staging_bucket,
            credentials=credentials,
            api_endpoint=settings.api_endpoint,
            api_transport="rest",
        )

    # -- models --------------------------------------------------------------------------------

    def find_model(self, display_name: str) -> str | None:
        """The resource name of the Vertex model with this display name, if any."""
        found = self._calls.call(
            f"look up model '{display_name}'",
            self.aiplatform.Model.list,
            filter=f'display_name="{display_name}"',
        )
        return found[0].resource_name if found else None

    def upload(
        self,
        name: str,
        version: int,
        artifact_dir: Path,
        *,
        parent_model: str | None,
        description: str = "",
    ) -> tuple[str, str]:
        """Upload a SavedModel as a version of ``parent_model`` (a new model when None).

        Returns ``(model resource name, Vertex version id)``.
        """
        if self.settings.staging_bucket is None:
            raise UsageError(
                "uploading to Vertex AI needs a staging bucket: MLKIT_VERTEX_STAGING_BUCKET is "
                "not set",
                hint=_SETUP_HINT,
            )
        uploaded = self._calls.call(
            f"upload model '{name}' version {version}",
            self.aiplatform.Model.upload,
            display_name=name,
            artifact_uri=str(artifact_dir),
            serving_container_image_uri=self.settings.serving_image,
            parent_model=parent_model,
            is_default_version=True,
            version_aliases=[f"v{version}"],
            version_description=description or f"mlkit {name} version {version}",
            labels={"mlkit-model": name, "mlkit-version": str(version)},
            sync=True,
        )
        return uploaded.resource_name, str(uploaded.version_id)

    def uploaded_version(self, name: str, version: int) -> tuple[str, str] | None:
        """``(model resource name, Vertex version id)`` of registry version ``version`` of
        ``name`` when it was uploaded (its version alias ``v<version>``), else None."""
        from google.api_core import exceptions as gexc

        parent = self.find_model(name)
        if parent is None:
            return None
        try:
            found = self.aiplatform.Model(model_name=f"{parent}@v{version}")
        except gexc.NotFound:
            return None
        except (gexc.GoogleAPIError, ValueError) as exc:
            what = f"cannot read model '{name}' on Vertex AI"
            raise ServingError(f"{what}: {one_line(exc)}") from exc
        return found.resource_name, str(found.version_id)

    def batch_predict(
        self, model: str, model_version: str, *, source: str, destination: str, display_name: str
    ) -> dict[str, Any]:
        """Run a BatchPredictionJob (BigQuery in, BigQuery out) and wait for it; its resource
        name, state and output table."""
        job = self._calls.call(
            f"run a batch prediction job of {model}@{model_version}",
            self.aiplatform.BatchPredictionJob.create,
            job_display_name=display_name,
            model_name=f"{model}@{model_version}",
            instances_format="bigquery",
            predictions_format="bigquery",
            bigquery_source=source,
            bigquery_destination_prefix=destination,
            sync=True,
        )
        info = job.output_info
        stats = job.completion_stats  # the job's counts of instances, as Vertex AI reports them
        return {
            "job": job.resource_name,
            "state": job.state.name,
            "output_table": getattr(info, "bigquery_output_table", "") or "",
            "output_dataset": getattr(info, "bigquery_output_dataset", "") or "",
            "successful": int(getattr(stats, "successful_count", 0) or 0),
            "failed": int(getattr(stats, "failed_count", 0) or 0),
            "incomplete": int(getattr(stats, "incomplete_count", 0) or 0),
        }

    def set_alias(self, model: str, model_version: str, alias: str) -> None:
        """Point ``alias`` at a model version (Vertex moves it from any other version)."""
        registry = self.aiplatform.models.ModelRegistry(model)
        self._calls.call(
            f"set alias '{alias}' on {model}@{model_version}",
            registry.add_version_aliases,
            [alias],
            version=model_version,
        )

    # -- endpoints -----------------------------------------------------------------------------

    def endpoint(self, display_name: str, known: str | None = None) -> Any:
        """The endpoint ``known`` (a resource name) if it still exists, else the one named
        ``display_name``, else a new one."""
        from google.api_core import exceptions as gexc

        if known:
            try:
                return self.aiplatform.Endpoint(known)
            except gexc.NotFound:
                logger.info("Vertex endpoint %s is gone; looking it up by name", known)
            except gexc.GoogleAPIError as exc:
                raise ServingError(f"cannot read endpoint {known}: {one_line(exc)}") from exc
        found = self._calls.call(
            f"look up endpoint '{display_name}'",
            self.aiplatform.Endpoint.list,
            filter=f'display_name="{display_name}"',
        )
        if found:
            return found[0]
        return self._calls.call(
            f"create endpoint '{display_name}'",
            self.aiplatform.Endpoint.create,
            display_name=display_name,
            labels={"mlkit-model": display_name},
            sync=True,
        )

    def deployed(self, endpoint: Any) -> list[DeployedModel]:
        """The deployed models of ``endpoint`` as Vertex has them now."""
        self._calls.call("read the endpoint", endpoint._sync_gca_resource)
        split = dict(endpoint.gca_resource.traffic_split)
        return [
            DeployedModel(dm.id, dm.model, str(dm.model_version_id), int(split.get(dm.id, 0)))
            for dm in endpoint.gca_resource.deployed_models
        ]

    def deploy(
        self,
        endpoint: Any,
        model: str,
        model_version: str,
        *,
        display_name: str,
        split: Mapping[str, int],
    ) -> str:
        """Deploy ``model@model_version`` with ``split`` (deployed model id -> percent; the key
        ``"0"`` is the new one). Returns the new deployed model's id."""
        before = {d.id for d in self.deployed(endpoint)}
        vertex_model = self._calls.call(
            f"read {model}@{model_version}",
            self.aiplatform.Model,
            model,
            version=model_version,
        )
        self._calls.call(
            f"deploy {display_name} to endpoint {endpoint.resource_name}",
            vertex_model.deploy,
            endpoint=endpoint,
            deployed_model_display_name=display_name,
            traffic_split=dict(split),
            machine_type=self.settings.machine_type,
            min_replica_count=self.settings.min_replicas,
            max_replica_count=self.settings.max_replicas,
            sync=True,
        )
        new = [d for d in self.deployed(endpoint) if d.id not in before]
        if len(new) != 1:
            raise ServingError(
                f"deploying {display_name} left {len(new)} new deployed models on "
                f"{endpoint.resource_name}, expected 1"
            )
        return new[0].id

    def set_traffic(self, endpoint: Any, split: Mapping[str, int]) -> None:
        self._calls.call(
            f"set the traffic split of {endpoint.resource_name}",
            endpoint.update,
            traffic_split=dict(split),
        )

    def undeploy(self, endpoint: Any, deployed_model_id: str, split: Mapping[str, int]) -> None:
        self._calls.call(
            f"undeploy {deployed_model_id} from {endpoint.resource_name}",
            endpoint.undeploy,
            deployed_model_id=deployed_model_id,
            traffic_split=dict(split) or None,  # None: the last one goes
            sync=True,
        )

    def log_requests(self, endpoint: Any, table_uri: str, sampling_rate: float = 1.0) -> None:
        """Switch on the endpoint's request-response logging into the BigQuery table
        ``table_uri`` (``bq://project.dataset.table``), ``sampling_rate`` of the requests."""
        from google.cloud.aiplatform_v1.types import endpoint as gca_endpoint
        from google.cloud.aiplatform_v1.types import io as gca_io
        from google.protobuf import field_mask_pb2

        config = gca_endpoint.PredictRequestResponseLoggingConfig(
            enabled=True,
            sampling_rate=sampling_rate,
            bigquery_destination=gca_io.BigQueryDestination(output_uri=table_uri),
        )
        update = gca_endpoint.Endpoint(
            name=endpoint.resource_name,
            display_name=endpoint.display_name,
            predict_request_response_logging_config=config,
        )
        mask = field_mask_pb2.FieldMask(paths=["predict_request_response_logging_config"])
        self._calls.call(
            f"switch on request-response logging of {endpoint.resource_name}",
            endpoint.api_client.update_endpoint,
            endpoint=update,
            update_mask=mask,
        )

    def predict(self, endpoint_name: str, instances: list, parameters: dict | None = None) -> dict:
        endpoint = self._calls.call(
            f"read endpoint {endpoint_name}", self.aiplatform.Endpoint, endpoint_name
        )
        answer = self._calls.call(
            f"predict on {endpoint_name}",
            endpoint.predict,
            instances=instances,
            parameters=parameters,
        )
        return {
            "predictions": [_plain(p) for p in answer.predictions],
            "deployedModelId": answer.deployed_model_id,
            "model": answer.model_resource_name,
            "modelVersionId": answer.model_version_id,
        }


def _plain(value: Any) -> Any:
    """Predictions as plain dicts and lists (the SDK hands back dicts from protobuf Values)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
