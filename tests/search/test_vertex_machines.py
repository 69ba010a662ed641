"""The ``[vertex]`` section of an experiment: machine type, accelerators and replica pools of the
Vertex AI job, overridden by the environment, stored with the run (its parameters)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.vertex_jobs import FakeVertexJobs

IRIS = Path(__file__).resolve().parents[2] / "experiments" / "iris.toml"
SECTION = """
[vertex]
machine_type = "n1-highmem-8"
accelerator_type = "NVIDIA_TESLA_T4"
accelerator_count = 2
workers = 2
ps = 1
"""


@pytest.fixture
def vertex(monkeypatch):
    with FakeVertexJobs() as fake:
        monkeypatch.setenv("MLKIT_VERTEX_PROJECT", "demo-project")
        monkeypatch.setenv("MLKIT_VERTEX_LOCATION", "us-central1")
        monkeypatch.setenv("MLKIT_VERTEX_STAGING_BUCKET", "gs://demo-bucket")
        monkeypatch.setenv("MLKIT_VERTEX_IMAGE", "us-docker.pkg.dev/demo/mlkit/train:1")
        monkeypatch.setenv("MLKIT_VERTEX_API_ENDPOINT", fake.url)
        yield fake


def _pools(fake) -> list[dict]:
    (body,) = [r[2] for r in fake.requests if r[0] == "POST"]
    return body["jobSpec"]["workerPoolSpecs"]


def test_the_vertex_section_sizes_the_pools_and_puts_accelerators_on_chief_and_workers(
    vertex, mlkit_home, cli
):
    experiment = mlkit_home / "iris.toml"
    experiment.write_text(IRIS.read_text() + SECTION)
    result = cli("train", experiment, "--backend", "vertex")
    assert result.code == 0, result.err
    pools = _pools(vertex)
    assert [int(p["replicaCount"]) for p in pools] == [1, 2, 1]
    chief, workers, ps = (p["machineSpec"] for p in pools)
    from google.cloud.aiplatform_v1.types import AcceleratorType

    t4 = AcceleratorType.NVIDIA_TESLA_T4
    for spec in (chief, workers):  # the SDK sends enums as numbers
        assert spec == {"machineType": "n1-highmem-8", "acceleratorType": t4, "acceleratorCount": 2}
    assert ps == {"machineType": "n1-highmem-8"}
    # The job trains the file's text: its run stores the [vertex] section with its parameters.
    env = {e["name"]: e["value"] for e in pools[0]["containerSpec"]["env"]}
    assert 'accelerator_type = "NVIDIA_TESLA_T4"' in env["MLKIT_EXPERIMENT_TOML"]


def test_the_environment_overrides_the_section_and_flags_override_both(
    vertex, mlkit_home, cli, monkeypatch
):
    experiment = mlkit_home / "iris.toml"
    experiment.write_text(IRIS.read_text() + SECTION)
    monkeypatch.setenv("MLKIT_VERTEX_MACHINE_TYPE", "n1-standard-16")
    monkeypatch.setenv("MLKIT_VERTEX_WORKERS", "5")
    result = cli("train", experiment, "--backend", "vertex", "--workers", "3")
    assert result.code == 0, result.err
    pools = _pools(vertex)
    assert [int(p["replicaCount"]) for p in pools] == [1, 3, 1]
    assert {p["machineSpec"]["machineType"] for p in pools} == {"n1-standard-16"}


def test_a_bad_vertex_section_is_one_line_per_error(mlkit_home, cli):
    experiment = mlkit_home / "iris.toml"
    experiment.write_text(
        IRIS.read_text() + '[vertex]\naccelerator_type = "GTX_1080"\nworkers = -1\ngpus = 1\n'
    )
    result = cli("train", experiment, "--backend", "vertex")
    assert result.code == 2
    errors = [line for line in result.err.splitlines() if line.startswith("Error:")]
    assert len(errors) == 3
    assert "vertex.accelerator_type: must be 'NVIDIA_TESLA_T4'" in errors[0]
    assert "vertex.workers: must be at least 0 (got -1)" in errors[1]
    assert "vertex.gpus: unknown key" in errors[2]
