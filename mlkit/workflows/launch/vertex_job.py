"""``mlkit train --backend vertex``: the same experiment as a Vertex AI CustomJob (real SDK).

The job runs ``mlkit train`` on the experiment's text, either inside an own container image that
has mlkit installed (``MLKIT_VERTEX_IMAGE`` or ``[vertex] image``), or, without one, in Google's
prebuilt TensorFlow 2.15 training container with mlkit's package staged to Cloud Storage
(``python_package_spec``, mlkit/workflows/launch/vertex_package.py); the warehouse and registry it
uses come from the ``MLKIT_WAREHOUSE`` / ``MLKIT_REGISTRY_URL`` passed to the job (BigQuery and a
shared SQL registry in the cloud). With workers (``--workers N`` or ``MLKIT_VERTEX_WORKERS``) the
job has three worker pools: the chief, N workers and the parameter servers (``--ps M`` or
``MLKIT_VERTEX_PS``, default 1). Every replica runs the same ``mlkit train`` command; Vertex AI
sets ``TF_CONFIG`` in each, so each takes its role (chief: search, evaluate, register; worker:
train; ps: serve variables), and ``AIP_CHECKPOINT_DIR`` (the same in every replica), which they
share as the model directory (see mlkit/search/cluster.py and docs/search.md, "Scale-out"). No
TensorFlow is imported here.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mlkit.config import google_project
from mlkit.errors import UsageError
from mlkit.experiment import VertexSpec, load_experiment
from mlkit.workflows.launch.results import JobSubmitted

__all__ = [
    "JobRuntime",
    "VertexSettings",
    "job_command",
    "job_flags",
    "job_runtime",
    "submit_training_job",
    "worker_pool_specs",
]

_FORWARDED_ENV = ("MLKIT_WAREHOUSE", "MLKIT_REGISTRY_URL", "MLKIT_ARTIFACTS")


@dataclass(frozen=True)
class VertexSettings:
    project: str
    location: str
    staging_bucket: str
    image: str | None = None  # an own image with mlkit; None: the prebuilt one and the package
    package: str | None = None  # MLKIT_VERTEX_PACKAGE: a built mlkit package (file or gs:// URI)
    machine_type: str = "n1-standard-4"
    workers: int = 0
    ps: int = 0
    api_endpoint: str | None = None  # tests: a fake Vertex server on loopback
    accelerator_type: str | None = None  # e.g. NVIDIA_TESLA_T4, on the chief and the workers
    accelerator_count: int = 0

    @classmethod
    def from_env(
        cls, env: dict[str, str] | None = None, spec: VertexSpec | None = None
    ) -> VertexSettings:
        """The settings from the environment; what it leaves unset comes from the experiment's
        ``[vertex]`` section (``spec``), then the defaults."""
        env = dict(os.environ if env is None else env)
        project, _ = google_project("MLKIT_VERTEX_PROJECT", env)
        if project:  # GOOGLE_CLOUD_PROJECT, as every Google target takes it
            env["MLKIT_VERTEX_PROJECT"] = project
        spec = spec or VertexSpec()
        missing = [
            name
            for name in (
                "MLKIT_VERTEX_PROJECT",
                "MLKIT_VERTEX_LOCATION",
                "MLKIT_VERTEX_STAGING_BUCKET",
            )
            if not env.get(name)
        ]
        if missing:
            named = [m + (" (or GOOGLE_CLOUD_PROJECT)" if "PROJECT" in m else "") for m in missing]
            raise UsageError(
                f"--backend vertex needs {', '.join(named)} set",
                hint="e.g. MLKIT_VERTEX_PROJECT=my-project MLKIT_VERTEX_LOCATION=us-central1 "
                "MLKIT_VERTEX_STAGING_BUCKET=gs://my-bucket",
            )
        bucket = env["MLKIT_VERTEX_STAGING_BUCKET"]
        if not bucket.startswith("gs://"):
            raise UsageError(f"MLKIT_VERTEX_STAGING_BUCKET: expected a gs:// URI, got {bucket!r}")
        counts: dict[str, int | None] = {}
        for name, given, what in (
            ("MLKIT_VERTEX_WORKERS", spec.workers, "replicas"),
            ("MLKIT_VERTEX_PS", spec.ps, "replicas"),
            ("MLKIT_VERTEX_ACCELERATOR_COUNT", spec.accelerator_count, "accelerators"),
        ):
            text = env.get(name, "").strip()
            if text and not text.isdigit():
                raise UsageError(f"{name}: expected a whole number of {what}, got {text!r}")
            counts[name] = int(text) if text else given
        accelerator = env.get("MLKIT_VERTEX_ACCELERATOR_TYPE") or spec.accelerator_type
        if (accelerator is None) != (counts["MLKIT_VERTEX_ACCELERATOR_COUNT"] is None):
            raise UsageError(
                "an accelerator needs both its type and its count "
                "(MLKIT_VERTEX_ACCELERATOR_TYPE/_COUNT, or [vertex] accelerator_type/_count)"
            )
        settings = cls(
            project=env["MLKIT_VERTEX_PROJECT"],
            location=env["MLKIT_VERTEX_LOCATION"],
            staging_bucket=bucket,
            image=env.get("MLKIT_VERTEX_IMAGE") or spec.image or None,
            package=env.get("MLKIT_VERTEX_PACKAGE") or None,
            machine_type=env.get("MLKIT_VERTEX_MACHINE_TYPE")
            or spec.machine_type
            or "n1-standard-4",
            api_endpoint=env.get("MLKIT_VERTEX_API_ENDPOINT") or None,
            accelerator_type=accelerator,
            accelerator_count=counts["MLKIT_VERTEX_ACCELERATOR_COUNT"] or 0,
        )
        return settings.with_cluster(
            workers=counts["MLKIT_VERTEX_WORKERS"] or 0, ps=counts["MLKIT_VERTEX_PS"]
        )

    def with_cluster(self, *, workers: int | None, ps: int | None) -> VertexSettings:
        """These settings with other replica counts (None keeps the current one); with workers
        and no ps count, one parameter server."""
        workers = self.workers if workers is None else workers
        ps = (1 if workers else 0) if ps is None else ps
        if workers and not ps:
            raise UsageError(
                "--ps 0: workers need at least one parameter server to share the variables",
                hint="leave --ps out (one parameter server) or give --ps 1 or more",
            )
        if ps and not workers:
            raise UsageError(
                f"--ps {ps} without workers: the parameter servers are for a chief and workers",
                hint="add --workers 1 or more, or leave --ps out to train on one replica",
            )
        return replace(self, workers=workers, ps=ps)

    @property
    def replicas(self) -> dict[str, int]:
        return {"chief": 1, "worker": self.workers, "ps": self.ps}


def job_command(budget: dict[str, Any]) -> list[str]:
    """The own image's command: write the experiment file (``MLKIT_EXPERIMENT_TOML``), then
    train it."""
    flags = job_flags(budget)
    train = " ".join(["mlkit", "train", "/tmp/experiment.toml", *map(shlex.quote, flags)])
    script = 'printf "%s" "$MLKIT_EXPERIMENT_TOML" > /tmp/experiment.toml && ' + train
    return ["/bin/sh", "-c", script]


@dataclass(frozen=True)
class JobRuntime:
    """What the job's replicas run in: an own image (``package`` None) or Google's prebuilt
    image that installs mlkit's staged package (``package``, a ``gs://`` URI)."""

    image: str
    package: str | None = None
    requirements: tuple[str, ...] = ()  # gs:// URIs installed with the package (AdaNet's)

    @property
    def package_uris(self) -> list[str]:
        return [self.package, *self.requirements] if self.package else []

    def stored(self) -> list[dict[str, str]]:
        """The job's environment that tells its run where it ran (mlkit/registry/environment.py)."""
        env = [{"name": "MLKIT_VERTEX_RUN_IMAGE", "value": self.image}]
        if self.package:
            env.append({"name": "MLKIT_VERTEX_RUN_PACKAGE", "value": self.package})
        return env


def job_runtime(settings: VertexSettings) -> JobRuntime:
    """The own image when given, else the prebuilt one with mlkit's package staged now."""
    if settings.image:
        return JobRuntime(settings.image)
    from mlkit.workflows.launch.vertex_package import (
        prebuilt_image,
        staged_package,
        staged_requirements,
    )

    image = prebuilt_image(settings.location, settings.accelerator_type)
    package = staged_package(settings.staging_bucket, settings.project, settings.package)
    return JobRuntime(
        image, package, staged_requirements(settings.staging_bucket, settings.project)
    )


def job_flags(budget: dict[str, Any]) -> list[str]:
    flags = []
    for name, value in budget.items():
        if value is not None:
            flags += [f"--{name.replace('_', '-')}", str(value)]
    return flags


def worker_pool_specs(
    settings: VertexSettings,
    runtime: JobRuntime,
    budget: dict[str, Any],
    env: list[dict[str, str]],
) -> list[dict[str, Any]]:
    machine: dict[str, Any] = {"machine_type": settings.machine_type}
    if settings.accelerator_type:
        machine |= {
            "accelerator_type": settings.accelerator_type,
            "accelerator_count": settings.accelerator_count,
        }

    def pool(count: int, *, accelerated: bool = True) -> dict[str, Any]:
        return {
            "machine_spec": machine if accelerated else {"machine_type": settings.machine_type},
            "replica_count": count,
            **runs,
        }

    runs: dict[str, Any]
    if runtime.package:  # the prebuilt image installs the package and runs its module
        from mlkit.workflows.launch.vertex_package import PACKAGE_MODULE

        runs = {
            "python_package_spec": {
                "executor_image_uri": runtime.image,
                "package_uris": runtime.package_uris,
                "python_module": PACKAGE_MODULE,
                "args": job_flags(budget),
                "env": env,
            }
        }
    else:
        command = job_command(budget)
        runs = {"container_spec": {"image_uri": runtime.image, "command": command, "env": env}}

    # Vertex AI's pool order gives the roles: 0 the chief, 1 the workers, 2 the parameter servers.
    pools = [pool(1)]
    if settings.workers:
        pools += [pool(settings.workers), pool(settings.ps, accelerated=False)]
    return pools


def submit_training_job(
    experiment_path: Path, settings: VertexSettings, budget: dict[str, Any]
) -> JobSubmitted:
    """Validate the experiment here, then create the CustomJob; return its name and state."""
    experiment, text = load_experiment(experiment_path)
    from google.cloud import aiplatform

    credentials = None
    init: dict[str, Any] = {}
    if settings.api_endpoint:
        init["api_endpoint"] = settings.api_endpoint
        if settings.api_endpoint.startswith("http://"):
            # A plain-HTTP endpoint is a local stand-in (tests): no Google credentials go there.
            from google.auth.credentials import AnonymousCredentials

            credentials = AnonymousCredentials()
            init["api_transport"] = "rest"
    aiplatform.init(
        project=settings.project,
        location=settings.location,
        staging_bucket=settings.staging_bucket,
        credentials=credentials,
        **init,
    )
    runtime = job_runtime(settings)
    env = [{"name": "MLKIT_EXPERIMENT_TOML", "value": text}, *runtime.stored()]
    env += [{"name": n, "value": os.environ[n]} for n in _FORWARDED_ENV if os.environ.get(n)]
    job = aiplatform.CustomJob(
        display_name=f"mlkit-{experiment.experiment.name}",
        worker_pool_specs=worker_pool_specs(settings, runtime, budget, env),
        labels={"mlkit-experiment": experiment.experiment.name},
        credentials=credentials,
    )
    job.submit()
    return JobSubmitted(
        name=job.resource_name,
        state=job.state.name,
        display_name=job.display_name,
        dashboard=_dashboard(job.resource_name, settings),
        worker_pools=len(job.job_spec.worker_pool_specs),
        replicas=settings.replicas,
        image=runtime.image,
        package=runtime.package,
    )


def _dashboard(name: str, settings: VertexSettings) -> str:
    job_id = name.rsplit("/", 1)[-1]
    return (
        f"https://console.cloud.google.com/vertex-ai/locations/{settings.location}/training/"
        f"{job_id}?project={settings.project}"
    )
