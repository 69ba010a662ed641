"""``mlkit train --backend vertex`` without an image: mlkit's wheel staged to (fake) Cloud Storage
and a CustomJob whose pools run it in Google's prebuilt TensorFlow 2.15 container
(``python_package_spec``), through the real google-cloud-aiplatform and google-cloud-storage SDKs
against fakes on loopback."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mlkit.compat import tomllib
from mlkit.workflows.launch.vertex_package import (
    ADANET_REQUIRES,
    adanet_wheel,
    build_package,
    prebuilt_image,
)
from tests.fakes.vertex_jobs import FakeVertexJobs
from tests.registry.fake_gcs import FakeGcs

ROOT = Path(__file__).resolve().parents[2]
IRIS = ROOT / "experiments" / "iris.toml"
UV = (
    str(ROOT / ".tools" / "bin" / "uv") if (ROOT / ".tools/bin/uv").exists() else shutil.which("uv")
)
CPU_IMAGE = "us-docker.pkg.dev/vertex-ai/training/tf-cpu.2-15.py310:latest"
MODULE = "mlkit.workflows.launch.vertex_task"

needs_uv = pytest.mark.skipif(UV is None, reason="no uv here to build mlkit's wheel with")


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    if UV is None:
        pytest.skip("no uv here to build mlkit's wheel with")
    return build_package(tmp_path_factory.mktemp("wheel"), uv=UV)


@pytest.fixture
def cloud(monkeypatch, mlkit_home):
    with FakeVertexJobs() as jobs, FakeGcs() as gcs:
        monkeypatch.setenv("MLKIT_VERTEX_PROJECT", "demo-project")
        monkeypatch.setenv("MLKIT_VERTEX_LOCATION", "us-central1")
        monkeypatch.setenv("MLKIT_VERTEX_STAGING_BUCKET", "gs://demo-bucket/staging")
        monkeypatch.setenv("MLKIT_VERTEX_API_ENDPOINT", jobs.url)
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.url)
        for name in ("MLKIT_VERTEX_IMAGE", "MLKIT_VERTEX_PACKAGE", "MLKIT_VERTEX_ACCELERATOR_TYPE"):
            monkeypatch.delenv(name, raising=False)
        if UV:
            monkeypatch.setenv("MLKIT_UV", UV)
        yield jobs, gcs


def _pools(jobs: FakeVertexJobs) -> list[dict]:
    (body,) = [r[2] for r in jobs.requests if r[0] == "POST"]
    return body["jobSpec"]["workerPoolSpecs"]


@needs_uv
def test_without_an_image_the_job_runs_the_staged_wheel_in_the_prebuilt_image(cloud, cli):
    jobs, gcs = cloud
    result = cli("train", IRIS, "--backend", "vertex", "--steps", "50", "--json")
    assert result.code == 0, result.err
    # mlkit's wheel and AdaNet's landed in the fake bucket, under the staging prefix, each in a
    # folder named by its content.
    staged = {name.rsplit("/", 1)[-1]: name for (_, name) in gcs.objects}
    assert {b for (b, _) in gcs.objects} == {"demo-bucket"}
    assert sorted(staged) == ["adanet-0.9.0-py3-none-any.whl", "mlkit-0.1.0-py3-none-any.whl"]
    bucket, name = "demo-bucket", staged["mlkit-0.1.0-py3-none-any.whl"]
    assert name.startswith("staging/mlkit-packages/")
    package = f"gs://demo-bucket/{name}"
    adanet = f"gs://demo-bucket/{staged['adanet-0.9.0-py3-none-any.whl']}"
    with zipfile.ZipFile(io.BytesIO(gcs.objects[(bucket, name)])) as whl:
        names = whl.namelist()
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        assert "Requires-Python: <3.12,>=3.10" in whl.read(metadata).decode()
    assert "mlkit/workflows/launch/vertex_task.py" in names
    # The CustomJob's pool installs it in Google's image and runs the task module.
    (pool,) = _pools(jobs)
    assert "containerSpec" not in pool
    spec = pool["pythonPackageSpec"]
    assert spec["executorImageUri"] == CPU_IMAGE
    assert spec["packageUris"] == [package, adanet]
    assert spec["pythonModule"] == MODULE
    assert spec["args"] == ["--steps", "50"]
    env = {e["name"]: e["value"] for e in spec["env"]}
    assert env["MLKIT_EXPERIMENT_TOML"] == IRIS.read_text()
    assert env["MLKIT_VERTEX_RUN_IMAGE"] == CPU_IMAGE  # the run stores where it ran
    assert env["MLKIT_VERTEX_RUN_PACKAGE"] == package
    shown = json.loads(result.out)
    assert shown["image"] == CPU_IMAGE and shown["package"] == package


def test_a_built_package_is_staged_once_and_gpus_get_the_gpu_image(cloud, cli, wheel, monkeypatch):
    jobs, gcs = cloud
    monkeypatch.setenv("MLKIT_VERTEX_PACKAGE", str(wheel))
    monkeypatch.setenv("MLKIT_VERTEX_LOCATION", "europe-west4")
    monkeypatch.setenv("MLKIT_VERTEX_ACCELERATOR_TYPE", "NVIDIA_TESLA_T4")
    monkeypatch.setenv("MLKIT_VERTEX_ACCELERATOR_COUNT", "1")
    for _ in range(2):
        assert cli("train", IRIS, "--backend", "vertex", "--workers", "1").code == 0
    uploads = [r for r in gcs.requests if r.startswith("POST /upload/")]
    assert len(uploads) == 2 and len(gcs.objects) == 2  # the same two wheels: staged once
    creates = [r[2] for r in jobs.requests if r[0] == "POST"]
    assert len(creates) == 2
    pools = creates[1]["jobSpec"]["workerPoolSpecs"]
    gpu = "europe-docker.pkg.dev/vertex-ai/training/tf-gpu.2-15.py310:latest"
    assert [p["pythonPackageSpec"]["executorImageUri"] for p in pools] == [gpu] * 3
    staged = {name.rsplit("/", 1)[-1]: f"gs://demo-bucket/{name}" for (_, name) in gcs.objects}
    assert {tuple(p["pythonPackageSpec"]["packageUris"]) for p in pools} == {
        (staged["mlkit-0.1.0-py3-none-any.whl"], staged["adanet-0.9.0-py3-none-any.whl"])
    }  # mlkit's, then AdaNet's


def test_a_package_already_in_cloud_storage_is_used_as_it_is(cloud, cli, monkeypatch):
    jobs, gcs = cloud
    monkeypatch.setenv("MLKIT_VERTEX_PACKAGE", "gs://team/mlkit-0.1.0-py3-none-any.whl")
    assert cli("train", IRIS, "--backend", "vertex").code == 0
    ((_, adanet),) = gcs.objects  # only AdaNet's wheel is staged
    (pool,) = _pools(jobs)
    assert pool["pythonPackageSpec"]["packageUris"] == [
        "gs://team/mlkit-0.1.0-py3-none-any.whl",
        f"gs://demo-bucket/{adanet}",
    ]


def test_an_own_image_is_used_when_given_in_the_experiment_or_the_environment(
    cloud, cli, mlkit_home, monkeypatch
):
    jobs, gcs = cloud
    experiment = mlkit_home / "iris.toml"
    experiment.write_text(IRIS.read_text() + '\n[vertex]\nimage = "eu.gcr.io/team/mlkit:3"\n')
    assert cli("train", experiment, "--backend", "vertex").code == 0
    monkeypatch.setenv("MLKIT_VERTEX_IMAGE", "us-docker.pkg.dev/team/mlkit/train:4")
    assert cli("train", experiment, "--backend", "vertex").code == 0
    first, second = (r[2]["jobSpec"]["workerPoolSpecs"][0] for r in jobs.requests if r[0] == "POST")
    assert "pythonPackageSpec" not in first and not gcs.objects
    assert first["containerSpec"]["imageUri"] == "eu.gcr.io/team/mlkit:3"
    assert second["containerSpec"]["imageUri"] == "us-docker.pkg.dev/team/mlkit/train:4"
    env = {e["name"]: e["value"] for e in second["containerSpec"]["env"]}
    assert env["MLKIT_VERTEX_RUN_IMAGE"] == "us-docker.pkg.dev/team/mlkit/train:4"
    assert "MLKIT_VERTEX_RUN_PACKAGE" not in env


def test_bad_settings_are_one_line(cloud, cli, mlkit_home, monkeypatch):
    jobs, gcs = cloud
    monkeypatch.setenv("MLKIT_VERTEX_PACKAGE", str(mlkit_home / "mlkit.zip"))
    result = cli("train", IRIS, "--backend", "vertex")
    assert result.code == 2
    assert result.err.strip() == (
        f"Error: MLKIT_VERTEX_PACKAGE: expected a built mlkit wheel or sdist (a .whl or .tar.gz "
        f"file, or a gs:// URI), got '{mlkit_home / 'mlkit.zip'}'"
    )
    monkeypatch.delenv("MLKIT_VERTEX_PACKAGE")
    experiment = mlkit_home / "iris.toml"
    experiment.write_text(IRIS.read_text() + '\n[vertex]\nimage = "not an image"\n')
    result = cli("train", experiment, "--backend", "vertex")
    assert result.code == 2
    assert len(result.err.strip().splitlines()) == 1 and "vertex.image" in result.err
    monkeypatch.setenv("MLKIT_UV", str(mlkit_home / "no-uv"))
    result = cli("train", IRIS, "--backend", "vertex")
    assert result.code != 0 and result.err.startswith("Error: building mlkit's package")
    assert len(result.err.strip().splitlines()) == 1
    assert not [r for r in jobs.requests if r[0] == "POST"] and not gcs.objects


def test_the_prebuilt_image_follows_the_region_and_the_accelerator() -> None:
    assert prebuilt_image("us-central1", None) == CPU_IMAGE
    assert prebuilt_image("asia-northeast1", "NVIDIA_L4") == (
        "asia-docker.pkg.dev/vertex-ai/training/tf-gpu.2-15.py310:latest"
    )


def test_the_task_module_writes_the_experiment_and_runs_mlkit_train(mlkit_home) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MLKIT_EXPERIMENT_TOML": "[experiment\n"}
    done = subprocess.run(
        [sys.executable, "-m", MODULE, "--steps", "5"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    # mlkit train read the file the task wrote: its TOML error names that file.
    assert done.returncode == 2, done.stderr
    assert "experiment.toml" in done.stderr and "mlkit-job-" in done.stderr
    env.pop("MLKIT_EXPERIMENT_TOML")
    done = subprocess.run(
        [sys.executable, "-m", MODULE], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 1 and "MLKIT_EXPERIMENT_TOML is not set" in done.stderr


def test_the_run_stores_the_image_and_package_it_ran_with(monkeypatch) -> None:
    from mlkit.registry.environment import capture

    monkeypatch.delenv("MLKIT_VERTEX_RUN_IMAGE", raising=False)
    assert "vertex" not in capture()
    monkeypatch.setenv("MLKIT_VERTEX_RUN_IMAGE", CPU_IMAGE)
    monkeypatch.setenv("MLKIT_VERTEX_RUN_PACKAGE", "gs://b/mlkit-packages/x/mlkit.whl")
    monkeypatch.setenv("CLOUD_ML_JOB_ID", "1000")
    assert capture()["vertex"] == {
        "job": "1000",
        "image": CPU_IMAGE,
        "package": "gs://b/mlkit-packages/x/mlkit.whl",
    }


def test_adanets_wheel_asks_for_what_it_imports_not_its_stale_pins(tmp_path) -> None:
    """AdaNet 0.9.0 as published asks for protobuf<4 and absl-py<1.0, which TensorFlow 2.15
    refuses: pip could not install mlkit beside it. The staged wheel has the requirements that
    pyproject's [[tool.uv.dependency-metadata]] gives uv."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (override,) = [m for m in project["tool"]["uv"]["dependency-metadata"] if m["name"] == "adanet"]
    assert list(ADANET_REQUIRES) == override["requires-dist"]
    wheel = adanet_wheel(tmp_path)
    assert wheel.name == "adanet-0.9.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as whl:
        names = whl.namelist()
        meta = whl.read("adanet-0.9.0.dist-info/METADATA").decode()
        record = whl.read("adanet-0.9.0.dist-info/RECORD").decode()
    requires = [
        line.split(": ", 1)[1] for line in meta.splitlines() if line.startswith("Requires-")
    ]
    assert requires == list(ADANET_REQUIRES)
    assert "Name: adanet" in meta and "Version: 0.9.0" in meta
    assert "adanet/__init__.py" in names and not [n for n in names if "__pycache__" in n]
    assert sorted(line.split(",")[0] for line in record.splitlines()) == sorted(names)
