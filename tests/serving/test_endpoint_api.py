"""The endpoint's API over real HTTP: Vertex AI and TF Serving shapes, status, metadata,
readiness, bearer tokens and bad requests."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from mlkit.errors import InvalidPayload, ServingError
from mlkit.serving import client
from mlkit.serving.routing import Picker, Target
from tests.serving.test_endpoint_http import pixels_for, raw_request

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Registry:
    """What the registry would answer: digits v1 (90 %) and v2 (10 %), aliases as labels."""

    def __init__(self, v1: Path, v2: Path) -> None:
        self.targets = {"digits": [Target(1, v1, 90, "11"), Target(2, v2, 10, "12")]}
        self.aliases = {"digits": {"champion": 1, "challenger": 2, "old": 5}}
        self.broken = False

    def resolve(self, name: str) -> list[Target]:
        return self.targets.get(name, [])

    def labels(self, name: str) -> dict[str, int]:
        return self.aliases.get(name, {})

    def deployed(self) -> list[dict]:
        if self.broken:
            raise RuntimeError("database is locked")
        return [{"model": n, "version": t.version} for n, ts in self.targets.items() for t in ts]


@pytest.fixture(scope="module")
def api(digits_v1: Path, digits_v2: Path):
    from mlkit.serving.server import make_server

    registry = Registry(digits_v1, digits_v2)
    server = make_server(
        registry.resolve,
        registry.deployed,
        port=0,
        labels=registry.labels,
        token=TOKEN,
        max_instances=5,
        picker=Picker(seed=1),
    )
    server.registry = registry
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def post(server, path: str, body: object, headers: dict | None = None) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return raw_request(server, "POST", path, data, {**AUTH, **(headers or {})})


def get(server, path: str) -> tuple[int, dict]:
    return raw_request(server, "GET", path, None, AUTH)


def test_vertex_shape_predict(api) -> None:
    for path in (
        "/v1/endpoints/digits:predict",
        "/v1/projects/p/locations/us-central1/endpoints/digits:predict",
    ):
        status, answer = post(
            api, path, {"instances": [pixels_for(3)] * 2, "parameters": {"confidence": 0.5}}
        )
        assert status == 200
        assert set(answer) == {
            "predictions",
            "deployedModelId",
            "model",
            "modelDisplayName",
            "modelVersionId",
        }
        version = int(answer["modelVersionId"])
        assert answer["deployedModelId"] == {1: "11", 2: "12"}[version]
        expected = 3 if version == 1 else 7  # version 2 always answers 7
        assert [p["class_id"] for p in answer["predictions"]] == [expected, expected]


def test_the_traffic_split_is_followed(api) -> None:
    versions = [
        post(api, "/v1/endpoints/digits:predict", {"instances": [pixels_for(1)]})[1][
            "modelVersionId"
        ]
        for _ in range(200)
    ]
    share = versions.count("2") / len(versions)
    assert 0.03 <= share <= 0.2, f"version 2 should get about 10 %, got {share:.0%}"


def test_vertex_errors_are_google_shaped(api) -> None:
    status, answer = post(api, "/v1/endpoints/mnist:predict", {"instances": [[1]]})
    assert status == 404
    assert answer == {
        "error": {
            "code": 404,
            "message": "endpoint 'mnist' is not deployed on this endpoint",
            "status": "NOT_FOUND",
        }
    }
    status, answer = post(api, "/v1/endpoints/digits:predict", {"instances": [[1, 2]]})
    assert status == 400 and answer["error"]["status"] == "INVALID_ARGUMENT"
    assert answer["error"]["message"] == "instance 0: feature 'pixels' has 2 values, expected 64"


def test_tf_serving_versions_and_labels(api) -> None:
    status, answer = post(
        api, "/v1/models/digits/versions/2:predict", {"instances": [pixels_for(3)]}
    )
    assert status == 200 and answer["version"] == 2
    assert answer["predictions"][0]["class_id"] == 7
    status, answer = post(
        api, "/v1/models/digits/labels/champion:predict", {"instances": [pixels_for(3)]}
    )
    assert status == 200 and answer["version"] == 1 and answer["predictions"][0]["class_id"] == 3
    assert (
        client.predict(api.url, "digits", [pixels_for(4)], label="challenger", token=TOKEN)[
            "version"
        ]
        == 2
    )
    assert (
        client.predict(api.url, "digits", [pixels_for(4)], version=1, token=TOKEN)["predictions"][
            0
        ]["class_id"]
        == 4
    )


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        (
            "/v1/models/digits/versions/3:predict",
            404,
            "version 3 of model 'digits' is not deployed",
        ),
        ("/v1/models/digits/labels/nope:predict", 404, "model 'digits' has no label 'nope'"),
        ("/v1/models/digits/labels/old:predict", 404, "version 5 (label 'old') of model 'digits'"),
        ("/v1/models/digits/versions/two:predict", 400, "version must be a whole number"),
    ],
)
def test_versions_that_are_not_served(api, path: str, status: int, message: str) -> None:
    code, answer = post(api, path, {"instances": [pixels_for(3)]})
    assert code == status and answer["error"].startswith(message)


def test_model_status_and_metadata(api) -> None:
    post(api, "/v1/models/digits/versions/1:predict", {"instances": [pixels_for(3)]})
    status, answer = get(api, "/v1/models/digits")
    assert status == 200
    by_version = {s["version"]: s for s in answer["model_version_status"]}
    assert set(by_version) == {"1", "2"}
    assert by_version["1"]["state"] == "AVAILABLE" and by_version["1"]["traffic_percent"] == 90
    assert by_version["1"]["status"] == {"error_code": "OK", "error_message": ""}
    status, answer = get(api, "/v1/models/digits/versions/2")
    assert status == 200 and [s["version"] for s in answer["model_version_status"]] == ["2"]

    status, meta = get(api, "/v1/models/digits/labels/champion/metadata")
    assert status == 200
    assert meta["model_spec"] == {"name": "digits", "signature_name": "predict", "version": "1"}
    signature = meta["metadata"]["signature_def"]["signature_def"]["predict"]
    assert signature["inputs"]["pixels"]["dtype"] == "DT_FLOAT"
    assert signature["inputs"]["pixels"]["tensor_shape"]["dim"] == [{"size": "-1"}, {"size": "64"}]
    assert set(signature["outputs"]) == {"class_ids", "probabilities", "logits"}
    assert get(api, "/v1/models/mnist")[0] == 404


def test_health_and_readiness(api) -> None:
    assert raw_request(api, "GET", "/health") == (200, {"status": "ok"})  # no token needed
    status, answer = raw_request(api, "GET", "/ready")
    assert status == 200 and answer["status"] == "ready" and answer["deployed"] == 2
    api.registry.broken = True
    try:
        status, answer = raw_request(api, "GET", "/ready")
        assert status == 503
        assert answer == {"error": "not ready: cannot read the deployments: database is locked"}
    finally:
        api.registry.broken = False


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}],
)
def test_a_token_is_required(api, headers: dict) -> None:
    body = json.dumps({"instances": [pixels_for(3)]}).encode()
    status, answer = raw_request(api, "POST", "/v1/models/digits:predict", body, headers)
    assert status == 401
    why = "missing" if not headers else "invalid"
    assert answer == {
        "error": f"{why} bearer token: send the header 'Authorization: Bearer <token>'"
    }
    assert raw_request(api, "GET", "/v1/models", None, headers)[0] == 401
    with pytest.raises(ServingError, match="bearer token") as info:
        client.predict(api.url, "digits", [pixels_for(3)])
    assert "--token" in info.value.hint


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "the body is not valid JSON"),
        (
            {"inputs": {"pixels": [[0] * 64]}},
            "the body must be a JSON object with an 'instances' list (the columnar 'inputs'",
        ),
        ({"instances": [[0] * 64], "extra": 1}, "unknown field 'extra' in the body"),
        ({"instances": [[0] * 64], "parameters": [1]}, "'parameters' must be a JSON object"),
        ({"instances": [[0] * 64] * 6}, "'instances' has 6 items; at most 5 per request"),
        ({"instances": [{"pixels": [0] * 64, "age": 3}]}, "instance 0: unknown feature 'age'"),
        ({"instances": [[[0] * 8] * 8]}, "instance 0: feature 'pixels' has 8 values, expected 64"),
        ({"instances": [[True] * 64]}, "instance 0: feature 'pixels' must be numbers, got True"),
        ({"instances": "pixels"}, "'instances' must be a non-empty list"),
    ],
)
def test_bad_requests_name_what_is_wrong(api, body, message: str) -> None:
    for path in ("/v1/models/digits:predict", "/v1/endpoints/digits:predict"):
        status, answer = post(api, path, body)
        assert status == 400
        text = answer["error"]["message"] if isinstance(answer["error"], dict) else answer["error"]
        assert text.startswith(message), text
    with pytest.raises(InvalidPayload):
        client.predict(api.url, "digits", [[0] * 64] * 6, token=TOKEN)
    assert (
        post(api, "/v1/models/digits/versions/1:predict", {"instances": [pixels_for(5)]})[1][
            "predictions"
        ][0]["class_id"]
        == 5
    )
