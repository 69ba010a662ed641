"""`mlkit train --backend vertex`: the real aiplatform SDK against a fake CustomJob server."""

from __future__ import annotations

import json

import pytest

from tests.fakes.vertex_jobs import FakeVertexJobs


@pytest.fixture
def vertex(monkeypatch):
    with FakeVertexJobs() as fake:
        monkeypatch.setenv("MLKIT_VERTEX_PROJECT", "demo-project")
        monkeypatch.setenv("MLKIT_VERTEX_LOCATION", "us-central1")
        monkeypatch.setenv("MLKIT_VERTEX_STAGING_BUCKET", "gs://demo-bucket")
        monkeypatch.setenv("MLKIT_VERTEX_IMAGE", "us-docker.pkg.dev/demo/mlkit/train:1")
        monkeypatch.setenv("MLKIT_VERTEX_API_ENDPOINT", fake.url)
        yield fake


def test_train_backend_vertex_submits_a_custom_job_with_the_experiment(
    vertex, mlkit_home, cli, monkeypatch
):
    monkeypatch.setenv("MLKIT_VERTEX_WORKERS", "2")
    result = cli("train", "experiments/iris.toml", "--backend", "vertex", "--steps", "50", "--json")
    assert result.code == 0, result.err
    creates = [r for r in vertex.requests if r[0] == "POST"]
    assert len(creates) == 1
    method, path, body = creates[0]
    assert path == "/v1/projects/demo-project/locations/us-central1/customJobs"
    assert body["displayName"] == "mlkit-iris"
    pools = body["jobSpec"]["workerPoolSpecs"]
    assert [int(p["replicaCount"]) for p in pools] == [1, 2, 1]  # chief, workers, ps
    container = pools[0]["containerSpec"]
    assert container["imageUri"] == "us-docker.pkg.dev/demo/mlkit/train:1"
    env = {e["name"]: e["value"] for e in container["env"]}
    with open("experiments/iris.toml", encoding="utf-8") as f:
        assert env["MLKIT_EXPERIMENT_TOML"] == f.read()
    script = container["command"][-1]
    assert "mlkit train /tmp/experiment.toml --steps 50" in script
    assert body["jobSpec"]["baseOutputDirectory"]["outputUriPrefix"].startswith("gs://demo-bucket")
    assert '"name": "projects/demo-project/locations/us-central1/customJobs/1000"' in result.out
    assert len(vertex.jobs) == 1


def test_cluster_flags_build_pools_whose_every_replica_trains_the_experiment(
    vertex, mlkit_home, cli, monkeypatch
):
    monkeypatch.setenv("MLKIT_VERTEX_WORKERS", "7")  # the flags win over the environment
    result = cli(
        "train",
        "experiments/iris.toml",
        "--backend",
        "vertex",
        "--workers",
        "3",
        "--ps",
        "2",
        "--max-seconds",
        "600",
    )
    assert result.code == 0, result.err
    assert "3 worker, 2 ps" in result.out
    (body,) = [r[2] for r in vertex.requests if r[0] == "POST"]
    pools = body["jobSpec"]["workerPoolSpecs"]
    # Vertex AI's pool order gives the roles in TF_CONFIG: chief, workers, parameter servers.
    assert [int(p["replicaCount"]) for p in pools] == [1, 3, 2]
    with open("experiments/iris.toml", encoding="utf-8") as f:
        text = f.read()
    for pool in pools:
        container = pool["containerSpec"]
        assert container["imageUri"] == "us-docker.pkg.dev/demo/mlkit/train:1"
        assert pool["machineSpec"]["machineType"] == "n1-standard-4"
        env = {e["name"]: e["value"] for e in container["env"]}
        assert env["MLKIT_EXPERIMENT_TOML"] == text
        # One command for every replica: each takes its role from the TF_CONFIG Vertex AI sets,
        # and they share AIP_CHECKPOINT_DIR (under the base output directory) as model dir.
        assert container["command"] == pools[0]["containerSpec"]["command"]
        assert container["command"][-1].endswith(
            "mlkit train /tmp/experiment.toml --max-seconds 600.0"
        )
    assert body["jobSpec"]["baseOutputDirectory"]["outputUriPrefix"].startswith("gs://demo-bucket")


def test_one_replica_job_has_one_pool(vertex, mlkit_home, cli, monkeypatch):
    monkeypatch.delenv("MLKIT_VERTEX_WORKERS", raising=False)
    result = cli("train", "experiments/iris.toml", "--backend", "vertex", "--json")
    assert result.code == 0, result.err
    (body,) = [r[2] for r in vertex.requests if r[0] == "POST"]
    assert [int(p["replicaCount"]) for p in body["jobSpec"]["workerPoolSpecs"]] == [1]
    assert json.loads(result.out)["replicas"] == {"chief": 1, "worker": 0, "ps": 0}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "2", "--ps", "0"], "Error: --ps 0: workers need at least one parameter"),
        (["--ps", "1"], "Error: --ps 1 without workers: the parameter servers are for a chief"),
    ],
)
def test_impossible_clusters_are_refused_before_submitting(vertex, mlkit_home, cli, args, message):
    result = cli("train", "experiments/iris.toml", "--backend", "vertex", *args)
    assert result.code == 2
    assert result.err.startswith(message)
    assert not [r for r in vertex.requests if r[0] == "POST"]


def test_a_bad_replica_count_in_the_environment_is_one_line(vertex, mlkit_home, cli, monkeypatch):
    monkeypatch.setenv("MLKIT_VERTEX_PS", "two")
    result = cli("train", "experiments/iris.toml", "--backend", "vertex")
    assert result.code == 2
    assert result.err.startswith("Error: MLKIT_VERTEX_PS: expected a whole number of replicas")


def test_backend_vertex_without_settings_is_one_line(mlkit_home, cli, monkeypatch):
    for name in ("MLKIT_VERTEX_PROJECT", "MLKIT_VERTEX_IMAGE", "GOOGLE_CLOUD_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    result = cli("train", "experiments/iris.toml", "--backend", "vertex")
    assert result.code == 2
    assert result.err.startswith("Error: --backend vertex needs MLKIT_VERTEX_PROJECT")
    assert len(result.err.strip().splitlines()) == 2  # the error and its hint


def test_unknown_backend_is_refused(mlkit_home, cli):
    result = cli("train", "experiments/iris.toml", "--backend", "sagemaker")
    assert result.code == 2
    assert "--backend: unknown backend 'sagemaker'; expected 'local' or 'vertex'" in result.err
