"""The Vertex AI endpoint kind with the real google-cloud-aiplatform SDK against a fake Vertex REST
server.

The SDK is configured as a user would (``MLKIT_VERTEX_*``): its API endpoint is the fake on
loopback, over REST, with anonymous credentials; google-cloud-storage stages the SavedModel in the
fake's Cloud Storage through ``STORAGE_EMULATOR_HOST``. Nothing in mlkit is patched.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlkit.errors import ServingError, UsageError
from mlkit.registry import open_store
from mlkit.serving.endpoints import VertexEndpoint, open_endpoint
from mlkit.serving.vertex import VertexClient, vertex_settings
from tests.fakes.vertex_endpoints import FakeVertex
from tests.serving.test_endpoint_http import pixels_for

PARENT = "projects/proj-1/locations/us-central1"


@pytest.fixture
def fake(monkeypatch):
    vertex = FakeVertex(seed=3)
    url = vertex.serve()
    monkeypatch.setenv("MLKIT_VERTEX_PROJECT", "proj-1")
    monkeypatch.setenv("MLKIT_VERTEX_LOCATION", "us-central1")
    monkeypatch.setenv("MLKIT_VERTEX_STAGING_BUCKET", "gs://mlkit-staging")
    monkeypatch.setenv("MLKIT_VERTEX_API_ENDPOINT", url)
    monkeypatch.setenv("MLKIT_VERTEX_CREDENTIALS", "anonymous")
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", url)
    yield vertex
    vertex.close()


@pytest.fixture
def store(tmp_path, digits_v1: Path, digits_v2: Path):
    with open_store(f"sqlite:///{tmp_path / 'registry.db'}", tmp_path / "artifacts") as s:
        s.register_version("digits", digits_v1)
        s.register_version("digits", digits_v2)
        yield s


@pytest.fixture
def target(fake, store) -> VertexEndpoint:
    endpoint = open_endpoint("vertex", store)
    assert isinstance(endpoint, VertexEndpoint)
    return endpoint


def _endpoint(fake: FakeVertex) -> dict:
    (endpoint,) = fake.endpoints.values()
    return endpoint


def test_deploy_uploads_a_model_version_creates_an_endpoint_and_records_the_names(
    fake, target, store
) -> None:
    (d,) = target.deploy("digits", 1)
    assert d.version == 1 and d.traffic_percent == 100 and d.endpoint == "vertex"
    (model_id,) = fake.models
    model = fake.models[model_id]["versions"]["1"]
    assert model["displayName"] == "digits"
    assert set(model["versionAliases"]) >= {"default", "v1", "champion"}
    assert model["artifactUri"].startswith("gs://mlkit-staging/")
    assert ("mlkit-staging", model["artifactUri"].split("/", 3)[3] + "/saved_model.pb") in (
        fake.objects
    )
    endpoint = _endpoint(fake)
    assert endpoint["displayName"] == "digits"
    (deployed,) = endpoint["deployedModels"]
    assert endpoint["trafficSplit"] == {deployed["id"]: 100}
    assert d.resources == {
        "model": f"{PARENT}/models/{model_id}",
        "model_version": "1",
        "endpoint": endpoint["name"],
        "deployed_model_id": deployed["id"],
    }
    assert store.get_alias("digits", "champion") == 1


def test_predict_goes_through_the_sdk_to_the_deployed_version(fake, target) -> None:
    target.deploy("digits", 1)
    answer = target.predict("digits", [pixels_for(3), pixels_for(8)])
    assert [int(p["class_ids"][0]) for p in answer["predictions"]] == [3, 8]
    assert answer["version"] == 1 and answer["modelVersionId"] == "1"
    assert answer["deployedModelId"] == _endpoint(fake)["deployedModels"][0]["id"]
    assert ("POST", f"/v1/{_endpoint(fake)['name']}:predict") in fake.calls


def test_a_canary_then_promotion_then_rollback_then_undeploy(fake, target, store) -> None:
    target.deploy("digits", 1)
    canary = target.deploy("digits", 2, 10)
    assert {d.version: d.traffic_percent for d in canary} == {1: 90, 2: 10}
    endpoint = _endpoint(fake)
    ids = {d.version: d.resources["deployed_model_id"] for d in canary}
    assert endpoint["trafficSplit"] == {ids[1]: 90, ids[2]: 10}
    (model_id,) = fake.models
    assert len(fake.models[model_id]["versions"]) == 2, "version 2 went under the same parent"
    # About one request in ten goes to version 2 (always class 7), by the endpoint's split.
    answers = [target.predict("digits", [pixels_for(3)])["version"] for _ in range(60)]
    assert 1 <= answers.count(2) <= 20 and answers.count(1) >= 40

    (promoted,) = target.deploy("digits", 2)
    assert promoted.version == 2 and promoted.traffic_percent == 100
    assert [dm["id"] for dm in endpoint["deployedModels"]] == [ids[2]], "v1 was undeployed"
    assert endpoint["trafficSplit"] == {ids[2]: 100}
    assert store.get_alias("digits", "previous") == 1

    uploads = sum(1 for c in fake.calls if c == ("POST", f"/v1/{PARENT}/models:upload"))
    back = target.rollback("digits")
    assert back.version == 1 and back.traffic_percent == 100
    assert sum(1 for c in fake.calls if c == ("POST", f"/v1/{PARENT}/models:upload")) == uploads, (
        "the rollback reuses the uploaded model version"
    )
    assert back.resources["model_version"] == "1"
    assert endpoint["trafficSplit"] == {back.resources["deployed_model_id"]: 100}
    assert target.predict("digits", [pixels_for(3)])["predictions"][0]["class_ids"] == [3]

    assert target.undeploy("digits") == []
    assert endpoint["deployedModels"] == [] and endpoint["trafficSplit"] == {}
    assert store.traffic("digits", "vertex") == []
    with pytest.raises(ServingError, match="not deployed on Vertex AI"):
        target.predict("digits", [pixels_for(3)])


def test_an_existing_endpoint_and_model_are_reused(fake, store, tmp_path, digits_v1) -> None:
    open_endpoint("vertex", store).deploy("digits", 1)
    # Another registry (another machine) deploying the same model finds both by display name.
    with open_store(f"sqlite:///{tmp_path / 'other.db'}", tmp_path / "other") as other:
        other.register_version("digits", digits_v1)
        other.register_version("digits", digits_v1)
        open_endpoint("vertex", other).deploy("digits", 2)
    assert len(fake.endpoints) == 1
    (model_id,) = fake.models
    assert sorted(fake.models[model_id]["versions"]) == ["1", "2"]


def test_explicit_split_and_a_bad_split(fake, target) -> None:
    target.deploy("digits", 1)
    split = target.set_traffic("digits", {1: 70, 2: 30})
    assert {d.version: d.traffic_percent for d in split} == {1: 70, 2: 30}
    assert sorted(_endpoint(fake)["trafficSplit"].values()) == [30, 70]
    with pytest.raises(UsageError, match="must sum to 100, got 90"):
        target.set_traffic("digits", {1: 70, 2: 20})
    remaining = target.undeploy("digits", 2)
    assert [(d.version, d.traffic_percent) for d in remaining] == [(1, 100)]
    assert list(_endpoint(fake)["trafficSplit"].values()) == [100]


def test_service_errors_become_one_line(fake, target) -> None:
    fake.close()  # Vertex is unreachable
    with pytest.raises(ServingError) as err:
        target.deploy("digits", 1)
    assert "\n" not in err.value.message and "Vertex AI" in err.value.message


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"MLKIT_VERTEX_PROJECT": ""},
            "neither MLKIT_VERTEX_PROJECT nor GOOGLE_CLOUD_PROJECT is set",
        ),
        (
            {"MLKIT_VERTEX_PROJECT": "", "GOOGLE_CLOUD_PROJECT": "Bad"},
            "GOOGLE_CLOUD_PROJECT 'Bad' is not",
        ),
        ({"MLKIT_VERTEX_PROJECT": "Bad Project"}, "is not a valid project id"),
        ({"MLKIT_VERTEX_LOCATION": "moon"}, "is not a region"),
        ({"MLKIT_VERTEX_STAGING_BUCKET": "/tmp/x"}, "must be a gs://BUCKET[/PATH] URI"),
        ({"MLKIT_VERTEX_CREDENTIALS": "root"}, "must be 'default' or 'anonymous'"),
        ({"MLKIT_VERTEX_MAX_REPLICAS": "0"}, "must be a whole number of at least 1"),
    ],
)
def test_settings_are_checked(env: dict, message: str) -> None:
    base = {"MLKIT_VERTEX_PROJECT": "proj-1"}
    with pytest.raises(UsageError, match=message.replace("[", r"\[").replace("]", r"\]")):
        vertex_settings({**base, **env})


def test_google_cloud_project_is_the_vertex_project_when_mlkit_names_none() -> None:
    assert vertex_settings({"GOOGLE_CLOUD_PROJECT": "proj-2"}).project == "proj-2"
    both = {"GOOGLE_CLOUD_PROJECT": "proj-2", "MLKIT_VERTEX_PROJECT": "proj-1"}
    assert vertex_settings(both).project == "proj-1"


def test_upload_without_a_staging_bucket_is_refused(fake, store, monkeypatch) -> None:
    monkeypatch.delenv("MLKIT_VERTEX_STAGING_BUCKET")
    target = VertexEndpoint(store, VertexClient(vertex_settings()))
    with pytest.raises(UsageError, match="needs a staging bucket"):
        target.deploy("digits", 1)
