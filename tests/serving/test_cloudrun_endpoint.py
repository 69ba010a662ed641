"""`mlkit deploy/predict/rollback/endpoints --target cloudrun`: the real google-cloud-run client
(REST) and google-cloud-storage against fake Cloud Run and Cloud Storage APIs on loopback, whose
service URL is a real mlkit local endpoint speaking TensorFlow Serving's REST API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlkit.config import load_settings
from mlkit.errors import UsageError
from mlkit.registry import open_store
from mlkit.serving.cloudrun import cloudrun_settings, service_id
from tests.fakes.cloud_run import running_cloud_run
from tests.serving.test_endpoint_http import pixels_for

SERVICE = "projects/proj-cloudrun/locations/us-central1/services/mlkit-digits"


@pytest.fixture
def registered(mlkit_home: Path, digits_v1: Path, digits_v2: Path) -> Path:
    settings = load_settings()
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        store.register_version("digits", digits_v1)  # the brightest pixel's class
        store.register_version("digits", digits_v2)  # always 7
    return mlkit_home


@pytest.fixture
def cloud(monkeypatch, registered):
    with running_cloud_run(monkeypatch) as run:
        yield run


def split_of(run) -> dict[str, int]:
    return {s["revision"]: s["percent"] for s in run.services[SERVICE]["trafficStatuses"]}


def revisions(run) -> list[str]:
    return sorted(n.rsplit("/", 1)[-1] for n in run.revisions)


def test_deploy_canary_rollback_traffic_undeploy_and_predict(cli, cloud, tmp_path: Path) -> None:
    instances = tmp_path / "instances.json"
    instances.write_text(json.dumps({"instances": [pixels_for(3), pixels_for(8)]}))

    # versions registered without a run have no verdict: `mlkit deploy` is in
    # tests/promotion/test_promotion_endpoints.py; here the split is set directly
    first = cli("endpoints", "traffic", "digits", "1=100", "--target", "cloudrun")
    assert first.code == 0, first.err
    assert revisions(cloud) == ["mlkit-digits-v1"]
    template = cloud.services[SERVICE]["template"]
    assert template["scaling"].get("minInstanceCount", 0) == 0  # scales to zero
    assert template["scaling"]["maxInstanceCount"] == 4
    assert template["maxInstanceRequestConcurrency"] == 16
    (container,) = template["containers"]
    assert container["image"] == "docker.io/tensorflow/serving:2.15.0"
    assert {e["name"]: e["value"] for e in container["env"]} == {
        "MODEL_NAME": "digits",
        "MODEL_BASE_PATH": "/models",
    }
    assert container["volumeMounts"] == [{"name": "model", "mountPath": "/models/digits"}]
    (volume,) = template["volumes"]
    assert volume["gcs"]["bucket"] == "mlkit-models"
    assert volume["gcs"]["mountOptions"] == ["only-dir=serving/mlkit-digits/v1"]
    assert ("mlkit-models", "serving/mlkit-digits/v1/1/saved_model.pb") in cloud.gcs.objects

    predicted = cli("predict", "digits", "-i", instances, "--target", "cloudrun", "--json")
    assert predicted.code == 0, predicted.err
    answer = json.loads(predicted.out)
    assert answer["version"] == 1
    assert [p["class_id"] for p in answer["predictions"]] == [3, 8]

    canary = cli("endpoints", "traffic", "digits", "1=80,2=20", "--target", "cloudrun")
    assert canary.code == 0, canary.err
    assert split_of(cloud) == {"mlkit-digits-v1": 80, "mlkit-digits-v2": 20}
    assert revisions(cloud) == ["mlkit-digits-v1", "mlkit-digits-v2"]
    listed = json.loads(cli("endpoints", "list", "--target", "cloudrun", "--json").out)
    assert {d["version"]: d["traffic_percent"] for d in listed} == {1: 80, 2: 20}
    assert {d["resources"]["revision"] for d in listed} == {"mlkit-digits-v1", "mlkit-digits-v2"}
    pinned = cli("predict", "digits", "-i", instances, "--target", "cloudrun", "--version", "2",
                 "--json")  # fmt: skip
    assert pinned.code == 0, pinned.err
    assert [p["class_id"] for p in json.loads(pinned.out)["predictions"]] == [7, 7]

    moved = cli("endpoints", "traffic", "digits", "1=50,2=50", "--target", "cloudrun")
    assert moved.code == 0, moved.err
    assert split_of(cloud) == {"mlkit-digits-v1": 50, "mlkit-digits-v2": 50}
    assert len(revisions(cloud)) == 2, "moving traffic creates no revision"

    rolled = cli("rollback", "digits", "--target", "cloudrun", "--reason", "canary misbehaves")
    assert rolled.code == 0, rolled.err
    assert split_of(cloud) == {"mlkit-digits-v1": 100}
    patches = [b for (method, _), b in zip(cloud.calls, cloud.bodies, strict=True)
               if method == "PATCH"]  # fmt: skip
    assert patches[-1]["template"]["revision"] == "mlkit-digits-v2", "template left as it was"

    gone = cli("endpoints", "undeploy", "digits", "--target", "cloudrun")
    assert gone.code == 0, gone.err
    assert cloud.services == {} and cloud.revisions == {}
    missing = cli("predict", "digits", "-i", instances, "--target", "cloudrun")
    assert missing.code == 7 and "not deployed on Cloud Run" in missing.err


def test_a_damaged_artifact_moves_no_traffic(cli, cloud) -> None:
    assert cli("endpoints", "traffic", "digits", "1=100", "--target", "cloudrun").code == 0
    settings = load_settings()
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        path = store.artifact_path(store.get_version("digits", 2), verify=False)
    (path / "saved_model.pb").write_bytes(b"tampered")
    calls = len(cloud.calls)
    result = cli("endpoints", "traffic", "digits", "1=90,2=10", "--target", "cloudrun")
    assert result.code == 5 and "artifact" in result.err
    assert split_of(cloud) == {"mlkit-digits-v1": 100}
    assert all(method == "GET" for method, _ in cloud.calls[calls:])


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "needs a Google Cloud project: set GOOGLE_CLOUD_PROJECT"),
        ({"GOOGLE_CLOUD_PROJECT": "Bad_Project"}, "is not a valid Google Cloud project id"),
        ({"GOOGLE_CLOUD_PROJECT": "proj-one", "MLKIT_CLOUDRUN_REGION": "mars"}, "not a region"),
        ({"GOOGLE_CLOUD_PROJECT": "proj-one", "MLKIT_CLOUDRUN_BUCKET": "s3://x"}, "gs://BUCKET"),
        ({"GOOGLE_CLOUD_PROJECT": "proj-one", "MLKIT_CLOUDRUN_MAX_INSTANCES": "0"}, "from 1 to"),
    ],
)
def test_settings_are_checked_up_front(env: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        cloudrun_settings(env)


def test_settings_and_names() -> None:
    settings = cloudrun_settings(
        {"MLKIT_CLOUDRUN_PROJECT": "proj-one", "GOOGLE_CLOUD_PROJECT": "x"}
    )
    assert settings.project == "proj-one" and settings.region == "us-central1"
    assert settings.max_instances == 3 and settings.concurrency == 80
    assert service_id("Digits_v2.Beta") == "mlkit-digits-v2-beta"
    from mlkit.serving.vertex import vertex_settings

    assert vertex_settings({"GOOGLE_CLOUD_PROJECT": "proj-one"}).project == "proj-one"
