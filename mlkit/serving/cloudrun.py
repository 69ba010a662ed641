"""Cloud Run as a serverless cloud target, through the real google-cloud-run client (REST).

``CloudRunClient`` is the thin layer over the SDK (imported lazily; no TensorFlow):

- ``stage``: a registry version's SavedModel is copied to Cloud Storage as
  ``gs://BUCKET/PREFIX/MODEL/vN/N/...`` (TensorFlow Serving's layout: one numbered version
  directory under the model's base path), once;
- ``apply``: one Cloud Run **service** per model (``mlkit-MODEL``), one **revision** per version
  (``mlkit-MODEL-vN``) running Google's TensorFlow Serving image with that directory mounted
  read-only from Cloud Storage (a GCS volume: no image is built), scaling from 0 to
  ``max_instances`` with ``concurrency`` requests per instance; the service's traffic split
  between revisions (each tagged ``vN``, so each version also has its own URL);
- ``delete``: the service;
- ``predict``: TensorFlow Serving's REST ``:predict`` on the service URL (or a version's tag
  URL), with an identity token for the URL as audience.

Settings (``cloudrun_settings``): ``MLKIT_CLOUDRUN_PROJECT`` or ``GOOGLE_CLOUD_PROJECT``,
``MLKIT_CLOUDRUN_REGION`` (us-central1), ``MLKIT_CLOUDRUN_BUCKET`` (gs://BUCKET[/PREFIX],
required to deploy), ``MLKIT_CLOUDRUN_IMAGE``, ``MLKIT_CLOUDRUN_MAX_INSTANCES`` (3),
``MLKIT_CLOUDRUN_CONCURRENCY`` (80), ``MLKIT_CLOUDRUN_MEMORY`` (2Gi), ``MLKIT_CLOUDRUN_CPU`` (1),
``MLKIT_CLOUDRUN_SERVICE_ACCOUNT``, ``MLKIT_CLOUDRUN_API_ENDPOINT`` (another API host, e.g. a
fake on loopback) and ``MLKIT_CLOUDRUN_CREDENTIALS=anonymous`` (only for a local fake).
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

DEFAULT_IMAGE = "docker.io/tensorflow/serving:2.15.0"
SERVING_PORT = 8501  # TensorFlow Serving's REST port in its image
MODELS_DIR = "/models"  # the image's MODEL_BASE_PATH
_SETUP_HINT = "see docs/cloudrun.md"


@dataclass(frozen=True)
class CloudRunSettings:
    project: str
    region: str = "us-central1"
    bucket: str | None = None  # gs://BUCKET[/PREFIX]
    image: str = DEFAULT_IMAGE
    max_instances: int = 3
    concurrency: int = 80
    memory: str = "2Gi"
    cpu: str = "1"
    service_account: str | None = None
    api_endpoint: str | None = None
    anonymous: bool = False

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.region}"


def _int_env(env: Mapping[str, str], name: str, default: int, most: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= most:
        raise UsageError(f"{name} must be a whole number from 1 to {most}, got {raw!r}")
    return int(raw)


def cloudrun_settings(env: Mapping[str, str] | None = None) -> CloudRunSettings:
    """Read and check the ``MLKIT_CLOUDRUN_*`` settings; UsageError naming what is wrong."""
    env = os.environ if env is None else env
    project, _ = google_project("MLKIT_CLOUDRUN_PROJECT", env)
    if not project:
        raise UsageError(
            "the Cloud Run target needs a Google Cloud project: set GOOGLE_CLOUD_PROJECT "
            "(or MLKIT_CLOUDRUN_PROJECT)",
            hint=_SETUP_HINT,
        )
    if not re.fullmatch(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", project):
        raise UsageError(f"the project {project!r} is not a valid Google Cloud project id")
    region = (env.get("MLKIT_CLOUDRUN_REGION") or "us-central1").strip()
    if not re.fullmatch(r"[a-z]+-[a-z]+\d+", region):
        raise UsageError(
            f"MLKIT_CLOUDRUN_REGION {region!r} is not a region (expected e.g. us-central1)"
        )
    bucket = (env.get("MLKIT_CLOUDRUN_BUCKET") or "").strip().rstrip("/") or None
    if bucket is not None and not re.fullmatch(r"gs://[a-z0-9][a-z0-9._-]{1,220}(/.*)?", bucket):
        raise UsageError(f"MLKIT_CLOUDRUN_BUCKET must be a gs://BUCKET[/PATH] URI, got {bucket!r}")
    credentials = (env.get("MLKIT_CLOUDRUN_CREDENTIALS") or "").strip().lower()
    if credentials not in ("", "default", "anonymous"):
        raise UsageError(
            f"MLKIT_CLOUDRUN_CREDENTIALS must be 'default' or 'anonymous', got {credentials!r}"
        )
    return CloudRunSettings(
        project=project,
        region=region,
        bucket=bucket,
        image=(env.get("MLKIT_CLOUDRUN_IMAGE") or "").strip() or DEFAULT_IMAGE,
        max_instances=_int_env(env, "MLKIT_CLOUDRUN_MAX_INSTANCES", 3, 1000),
        concurrency=_int_env(env, "MLKIT_CLOUDRUN_CONCURRENCY", 80, 1000),
        memory=(env.get("MLKIT_CLOUDRUN_MEMORY") or "").strip() or "2Gi",
        cpu=(env.get("MLKIT_CLOUDRUN_CPU") or "").strip() or "1",
        service_account=(env.get("MLKIT_CLOUDRUN_SERVICE_ACCOUNT") or "").strip() or None,
        api_endpoint=(env.get("MLKIT_CLOUDRUN_API_ENDPOINT") or "").strip() or None,
        anonymous=credentials == "anonymous",
    )


def service_id(model: str) -> str:
    """The Cloud Run service of a model: ``mlkit-`` and the name in lowercase letters, digits
    and hyphens (at most 49 characters in all)."""
    slug = re.sub(r"[^a-z0-9-]+", "-", model.lower()).strip("-") or "model"
    return f"mlkit-{slug}"[:49].rstrip("-")


def revision_id(model: str, version: int) -> str:
    return f"{service_id(model)}-v{version}"


@dataclass(frozen=True)
class Revision:
    """A revision of a model's service with its share of the traffic and its tag's URL."""

    name: str  # the revision id (short name)
    percent: int
    url: str


class CloudRunClient:
    """The SDK calls mlkit makes; every SDK error becomes a one-line ServingError."""

    def __init__(self, settings: CloudRunSettings) -> None:
        self.settings = settings
        self._calls = GoogleCalls("Cloud Run", _SETUP_HINT)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # Google's Python-version notices
            from google.cloud import run_v2

        self.run_v2 = run_v2
        options: dict[str, str] = {}
        if settings.api_endpoint:
            options["api_endpoint"] = settings.api_endpoint
        credentials = None
        if settings.anonymous:
            from google.auth.credentials import AnonymousCredentials

            credentials = AnonymousCredentials()
        self.services = self._calls.call(
            "open the Cloud Run client", run_v2.ServicesClient,
            transport="rest", client_options=options, credentials=credentials,
        )  # fmt: skip
        self.revisions = self._calls.call(
            "open the Cloud Run client", run_v2.RevisionsClient,
            transport="rest", client_options=options, credentials=credentials,
        )  # fmt: skip

    # -- Cloud Storage ---------------------------------------------------------------------------

    def _staging(self) -> tuple[str, str]:
        if self.settings.bucket is None:
            raise UsageError(
                "deploying to Cloud Run needs a bucket for the SavedModels: MLKIT_CLOUDRUN_BUCKET "
                "is not set",
                hint=_SETUP_HINT,
            )
        bucket, _, prefix = self.settings.bucket.removeprefix("gs://").partition("/")
        return bucket, prefix.strip("/")

    def staged_dir(self, model: str, version: int) -> str:
        """The folder (in the bucket) a revision mounts: it holds ``N/saved_model.pb``."""
        _, prefix = self._staging()
        return "/".join(p for p in (prefix, service_id(model), f"v{version}") if p)

    def stage(self, model: str, version: int, artifact_dir: Path) -> str:
        """Copy the SavedModel to ``gs://BUCKET/PREFIX/MODEL/vN/N/`` unless it is there."""
        bucket_name, _ = self._staging()
        folder = f"{self.staged_dir(model, version)}/{version}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            from google.cloud import storage

        client = self._calls.call(
            "open Cloud Storage", storage.Client, project=self.settings.project,
            credentials=self._storage_credentials(),
        )  # fmt: skip
        bucket = client.bucket(bucket_name)
        if self._calls.call("read Cloud Storage", bucket.blob(f"{folder}/saved_model.pb").exists):
            return f"gs://{bucket_name}/{folder}"
        files = sorted(p for p in Path(artifact_dir).rglob("*") if p.is_file())
        for path in files:
            name = f"{folder}/{path.relative_to(artifact_dir).as_posix()}"
            self._calls.call(f"upload {name}", bucket.blob(name).upload_from_filename, str(path))
        logger.info("staged %s version %d in gs://%s/%s", model, version, bucket_name, folder)
        return f"gs://{bucket_name}/{folder}"

    def _storage_credentials(self) -> Any:
        if not self.settings.anonymous:
            return None
        from google.auth.credentials import AnonymousCredentials

        return AnonymousCredentials()

    # -- services and revisions ------------------------------------------------------------------

    def service_name(self, model: str) -> str:
        return f"{self.settings.parent}/services/{service_id(model)}"

    def service(self, model: str) -> Any | None:
        """The model's service as Cloud Run has it now, or None."""
        from google.api_core import exceptions as gexc

        try:
            return self.services.get_service(name=self.service_name(model))
        except gexc.NotFound:
            return None
        except gexc.GoogleAPIError as exc:
            raise ServingError(f"cannot read the Cloud Run service of '{model}': "
                               f"{one_line(exc)}") from exc  # fmt: skip

    def revision_names(self, model: str) -> set[str]:
        pager = self._calls.call(
            f"list the revisions of '{model}'",
            self.revisions.list_revisions,
            parent=self.service_name(model),
        )
        return {r.name.rsplit("/", 1)[-1] for r in pager}

    def _template(self, model: str, version: int) -> Any:
        run = self.run_v2
        bucket, _ = self._staging()
        container = run.Container(
            image=self.settings.image,
            env=[
                run.EnvVar(name="MODEL_NAME", value=model),
                run.EnvVar(name="MODEL_BASE_PATH", value=MODELS_DIR),
            ],
            ports=[run.ContainerPort(container_port=SERVING_PORT)],
            resources=run.ResourceRequirements(
                limits={"cpu": self.settings.cpu, "memory": self.settings.memory}
            ),
            volume_mounts=[run.VolumeMount(name="model", mount_path=f"{MODELS_DIR}/{model}")],
        )
        volume = run.Volume(
            name="model",
            gcs=run.GCSVolumeSource(
                bucket=bucket,
                read_only=True,
                mount_options=[f"only-dir={self.staged_dir(model, version)}"],
            ),
        )
        return run.RevisionTemplate(
            revision=revision_id(model, version),
            labels={"mlkit-model": service_id(model)[6:], "mlkit-version": str(version)},
            scaling=run.RevisionScaling(
                min_instance_count=0, max_instance_count=self.settings.max_instances
            ),
            max_instance_request_concurrency=self.settings.concurrency,
            containers=[container],
            volumes=[volume],
            service_account=self.settings.service_account or "",
            execution_environment=run.ExecutionEnvironment.EXECUTION_ENVIRONMENT_GEN2,
        )

    def _traffic(self, model: str, split: Mapping[int, int]) -> list[Any]:
        run = self.run_v2
        kind = run.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION
        return [
            run.TrafficTarget(type_=kind, revision=revision_id(model, v), percent=p, tag=f"v{v}")
            for v, p in sorted(split.items())
        ]

    def apply(self, model: str, split: Mapping[int, int], new: int | None) -> Any:
        """Serve ``split`` (``{version: percent}``, every version with a revision, or ``new``,
        whose revision this call creates). Returns the service."""
        current = self.service(model)
        if current is None:
            if new is None:
                raise ServingError(f"model '{model}' has no Cloud Run service to move traffic on")
            service = self.run_v2.Service(
                template=self._template(model, new),
                traffic=self._traffic(model, split),
                labels={"mlkit-model": service_id(model)[6:]},
            )
            operation = self._calls.call(
                f"create the Cloud Run service of '{model}'",
                self.services.create_service,
                parent=self.settings.parent,
                service=service,
                service_id=service_id(model),
            )
        else:
            if new is not None:
                current.template = self._template(model, new)
            current.traffic = self._traffic(model, split)
            operation = self._calls.call(
                f"update the Cloud Run service of '{model}'",
                self.services.update_service,
                service=current,
            )
        return self._calls.call(f"wait for the Cloud Run service of '{model}'", operation.result)

    def delete(self, model: str) -> None:
        if self.service(model) is None:
            return
        operation = self._calls.call(
            f"delete the Cloud Run service of '{model}'",
            self.services.delete_service,
            name=self.service_name(model),
        )
        self._calls.call(f"wait for the deletion of '{model}'", operation.result)

    @staticmethod
    def served(service: Any) -> list[Revision]:
        """The revisions that get traffic, with their tag URLs."""
        out = []
        for status in service.traffic_statuses:
            if status.percent > 0 or status.tag:
                out.append(Revision(status.revision, int(status.percent), status.uri or ""))
        return out

    # -- predictions -----------------------------------------------------------------------------

    def identity_token(self, audience: str) -> str | None:
        """An identity token for the service URL (none against an anonymous fake)."""
        if self.settings.anonymous:
            return None
        import google.auth.transport.requests
        import google.oauth2.id_token

        request = google.auth.transport.requests.Request()
        token: str = self._calls.call(
            "get an identity token", google.oauth2.id_token.fetch_id_token, request, audience
        )
        return token

    def predict(
        self,
        url: str,
        model: str,
        instances: list[Any],
        *,
        version: int | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """TensorFlow Serving's ``:predict`` at ``url`` (a service or a tag URL)."""
        from mlkit.serving.client import predict

        answer: dict[str, Any] = predict(
            url,
            model,
            instances,
            version=version,
            token=self.identity_token(url),
            parameters=parameters,
            timeout=300.0,  # a cold start (scale from zero) loads the model first
        )
        return answer
