"""`mlkit train --backend vertex`: the real aiplatform SDK against a fake CustomJob server."""

from __future__ import annotations

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


def test_backend_vertex_without_settings_is_one_line(mlkit_home, cli, monkeypatch):
    for name in ("MLKIT_VERTEX_PROJECT", "MLKIT_VERTEX_IMAGE"):
        monkeypatch.delenv(name, raising=False)
    result = cli("train", "experiments/iris.toml", "--backend", "vertex")
    assert result.code == 2
    assert result.err.startswith("Error: --backend vertex needs MLKIT_VERTEX_PROJECT")
    assert len(result.err.strip().splitlines()) == 2  # the error and its hint


def test_unknown_backend_is_refused(mlkit_home, cli):
    result = cli("train", "experiments/iris.toml", "--backend", "sagemaker")
    assert result.code == 2
    assert "--backend: unknown backend 'sagemaker'; expected 'local' or 'vertex'" in result.err
