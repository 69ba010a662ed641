"""A model trained on pixels stored as STRING or BYTES serves the stored values as they are.

One real (tiny) AdaNet search on the bundled digits; its ensemble is exported twice, for a STRING
and for a BYTES feature (the export decodes the stored form in the graph). The stored values are
made by the same code that ingests tables (``mlkit.data.ingest.pixels_column``). Predictions
through ``serving_default`` (TensorFlow directly, the runner, and the local endpoint over real
HTTP) must equal the estimator's on the decoded arrays.
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from mlkit.experiment import SearchSpec
from tests.search.test_serving_export import digits_split, estimator_outputs

pytestmark = pytest.mark.slow
WIDTH = 64


def stored(pixels: np.ndarray, form: str) -> list:
    from mlkit.data.ingest import pixels_column

    return pixels_column(pixels.astype(np.int64), form).to_pylist()


def b64(raw: bytes) -> dict:
    return {"b64": base64.b64encode(raw).decode("ascii")}


def old_style_export(estimator, base: Path, shapes: dict) -> Path:
    """What mlkit exported before stored forms: float ``serving_default`` and ``predict`` only."""
    import tensorflow as tf

    from mlkit.search.inputs import serving_input_receiver_fn

    raw = estimator.export_saved_model(str(base / "estimator"), serving_input_receiver_fn(shapes))
    loaded = tf.saved_model.load(raw.decode() if isinstance(raw, bytes) else raw)
    predict = loaded.signatures["predict"]
    module = tf.Module()
    module.model = loaded

    @tf.function
    def serve(**features):
        return predict(**features)

    specs = {n: tf.TensorSpec([None, *s], tf.float32, name=n) for n, s in shapes.items()}
    fn = serve.get_concrete_function(**specs)
    target = base / "old"
    tf.saved_model.save(module, str(target), signatures={"serving_default": fn, "predict": fn})
    return target


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from mlkit.search.export import export_for_serving
    from mlkit.search.runner import run_search

    root = tmp_path_factory.mktemp("stored")
    spec = SearchSpec(
        generator="dnn", layer_size=16, iterations=1, steps_per_iteration=40, batch_size=32
    )
    train = digits_split(slice(0, 1200))
    test = digits_split(slice(1500, 1560))
    result = run_search(
        spec,
        train,
        digits_split(slice(1200, 1500)),
        test,
        n_classes=10,
        model_dir=root / "run",
        storage_forms={"pixels": "string"},
    )
    bytes_dir = export_for_serving(
        result.estimator, root / "bytes", train.features, {"pixels": "bytes"}
    )
    return SimpleNamespace(
        result=result,
        test=test,
        string_dir=result.export_dir,
        bytes_dir=bytes_dir,
        old_dir=old_style_export(result.estimator, root / "old", {"pixels": (WIDTH,)}),
        expected=estimator_outputs(result, test.features, "probabilities"),
    )


def test_serving_default_decodes_strings_and_bytes_like_the_estimator(trained):
    import tensorflow as tf

    pixels = trained.test.features["pixels"]
    for path, form in ((trained.string_dir, "string"), (trained.bytes_dir, "bytes")):
        loaded = tf.saved_model.load(str(path))
        assert set(loaded.signatures) == {"serving_default", "predict", "features"}
        serving = loaded.signatures["serving_default"]
        spec = serving.structured_input_signature[1]["pixels"]
        assert spec.dtype == tf.string and spec.shape.as_list() == [None]
        features = loaded.signatures["features"].structured_input_signature[1]["pixels"]
        assert features.dtype == tf.float32 and features.shape.as_list() == [None, WIDTH]
        served = serving(pixels=tf.constant(stored(pixels, form)))["probabilities"].numpy()
        np.testing.assert_allclose(served, trained.expected, rtol=1e-5, atol=1e-6)
        decoded = loaded.signatures["features"](pixels=tf.constant(pixels))["probabilities"]
        np.testing.assert_allclose(decoded.numpy(), trained.expected, rtol=1e-5, atol=1e-6)
        meta = json.loads((path / "assets.extra" / "mlkit_inputs.json").read_text())
        assert meta == {"pixels": {"form": form, "shape": [WIDTH]}}


def test_a_stored_value_of_the_wrong_length_fails_naming_the_feature(trained):
    import tensorflow as tf

    string = tf.saved_model.load(str(trained.string_dir)).signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="feature pixels expects 64 comma"):
        string(pixels=tf.constant(["1,2,3"]))
    raw = tf.saved_model.load(str(trained.bytes_dir)).signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="feature pixels expects 64 bytes"):
        raw(pixels=tf.constant([bytes(WIDTH), bytes(3)]))


def test_the_runner_takes_json_strings_and_b64_and_evaluates_through_features(trained):
    from mlkit.errors import InvalidPayload
    from mlkit.savedmodel import SavedModelRunner

    pixels = trained.test.features["pixels"]
    for path, form in ((trained.string_dir, "string"), (trained.bytes_dir, "bytes")):
        runner = SavedModelRunner(path)
        assert runner.signature_name == "serving_default"
        assert runner.features_signature == "features"
        assert runner.input_spec == {"pixels": (WIDTH,)}
        assert runner.serving_spec == {"pixels": ((), "string")}
        values = stored(pixels, form)
        instances = values if form == "string" else [b64(v) for v in values]
        answers = runner.predict_instances([{"pixels": v} for v in instances])
        probabilities = np.array([a["probabilities"] for a in answers])
        np.testing.assert_allclose(probabilities, trained.expected, rtol=1e-5, atol=1e-6)
        # a single-feature model also takes bare instances, as TF Serving does
        bare = runner.predict_instances(instances[:2])
        assert [a["class_id"] for a in bare] == [a["class_id"] for a in answers[:2]]
        # promotion's evaluation: the loader's decoded arrays through `features`
        arrays = runner.predict_arrays({"pixels": pixels})["probabilities"]
        np.testing.assert_allclose(arrays, trained.expected, rtol=1e-5, atol=1e-6)
        # the smoke test's instances: decoded rows encoded back to the stored form
        assert runner.stored_instances({"pixels": pixels}, [0, 1]) == [
            {"pixels": v} for v in instances[:2]
        ]
    string = SavedModelRunner(trained.string_dir)
    with pytest.raises(InvalidPayload) as info:
        string.predict_instances([{"pixels": 3}])
    assert info.value.message == (
        "instance 0: feature 'pixels' must be a string of 64 comma-separated numbers, got 3"
    )


def test_the_models_own_length_check_reaches_the_caller_as_a_bad_payload(trained):
    """Stored values that skip the runner's JSON checks meet the graph's assertion: one line."""
    from mlkit.errors import InvalidPayload
    from mlkit.savedmodel import SavedModelRunner

    runner = SavedModelRunner(trained.bytes_dir)
    values = np.empty(2, dtype=object)
    values[:] = [bytes(WIDTH), bytes(3)]
    with pytest.raises(InvalidPayload) as info:
        runner.predict_arrays({"pixels": values})
    assert info.value.message == (
        "rows 0..: feature pixels expects 64 bytes per instance (one byte per value)"
    )


BAD_STRING = [
    ([{"pixels": 3}], "instance 0: feature 'pixels' must be a string of 64 comma-separated"),
    ([{"pixels": "1,2,3"}], "instance 0: feature 'pixels' has 3 comma-separated values, expected"),
    (
        [{"pixels": ",".join(["0"] * 63 + ["x"])}],
        "instance 0: feature 'pixels' has 'x' at position 63, not a number",
    ),
    ([{"pixel": "0"}], "instance 0: unknown feature 'pixel' (expected: pixels)"),
]
BAD_BYTES = [
    ([{"pixels": "0,0"}], 'instance 0: feature \'pixels\' must be {"b64": "<base64 of 64 bytes>"}'),
    ([b64(bytes(3))], "instance 0: feature 'pixels' has 3 bytes, expected 64 (one byte per value)"),
    ([{"pixels": {"b64": "@@@"}}], "instance 0: feature 'pixels' has a 'b64' value that is not"),
]


@pytest.fixture(scope="module")
def endpoint(trained):
    from mlkit.serving.server import make_server

    models = {
        "digits-string": (1, trained.string_dir),
        "digits-bytes": (1, trained.bytes_dir),
        "digits-old": (1, trained.old_dir),
    }
    deployed = [{"model": n, "version": 1} for n in models]
    server = make_server(models.get, lambda: deployed, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def post(server, path: str, body: object) -> tuple[int, dict]:
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=60)
    try:
        data = json.dumps(body).encode()
        conn.request("POST", path, body=data, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def get(server, path: str) -> dict:
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=60)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        assert response.status == 200
        return json.loads(response.read())
    finally:
        conn.close()


def probabilities_of(answer: dict) -> np.ndarray:
    return np.array([p["probabilities"] for p in answer["predictions"]])


def test_the_endpoint_serves_stored_values_over_http(trained, endpoint):
    pixels = trained.test.features["pixels"]
    strings = stored(pixels, "string")
    status, answer = post(endpoint, "/v1/models/digits-string:predict", {"instances": strings})
    assert status == 200, answer
    np.testing.assert_allclose(probabilities_of(answer), trained.expected, rtol=1e-5, atol=1e-6)
    # Vertex AI's route, BYTES as {"b64": ...}
    instances = [{"pixels": b64(v)} for v in stored(pixels, "bytes")]
    status, answer = post(endpoint, "/v1/endpoints/digits-bytes:predict", {"instances": instances})
    assert status == 200, answer
    np.testing.assert_allclose(probabilities_of(answer), trained.expected, rtol=1e-5, atol=1e-6)
    meta = get(endpoint, "/v1/models/digits-bytes/metadata")["metadata"]["signature_def"]
    pixels_input = meta["signature_def"]["serving_default"]["inputs"]["pixels"]
    assert pixels_input["dtype"] == "DT_STRING"
    assert pixels_input["tensor_shape"] == {"dim": [{"size": "-1"}]}


@pytest.mark.parametrize(
    ("model", "instances", "message"),
    [("digits-string", i, m) for i, m in BAD_STRING]
    + [("digits-bytes", i, m) for i, m in BAD_BYTES],
)
def test_bad_stored_values_get_a_400_with_one_line(endpoint, model, instances, message):
    status, answer = post(endpoint, f"/v1/models/{model}:predict", {"instances": instances})
    assert status == 400
    assert answer["error"].startswith(message)
    assert "\n" not in answer["error"]


def test_an_old_float_export_still_serves(trained, endpoint):
    from mlkit.savedmodel import SavedModelRunner

    runner = SavedModelRunner(trained.old_dir)
    assert runner.signature_name == "serving_default"
    assert runner.features_signature == "serving_default"
    assert runner.serving_spec == {"pixels": ((WIDTH,), "float32")}
    pixels = trained.test.features["pixels"]
    status, answer = post(endpoint, "/v1/models/digits-old:predict", {"instances": pixels.tolist()})
    assert status == 200, answer
    np.testing.assert_allclose(probabilities_of(answer), trained.expected, rtol=1e-5, atol=1e-6)
    status, answer = post(endpoint, "/v1/models/digits-old:predict", {"instances": ["0,0"]})
    assert status == 400 and "must be a list of 64 numbers" in answer["error"]
    meta = get(endpoint, "/v1/models/digits-old/metadata")["metadata"]["signature_def"]
    assert meta["signature_def"]["serving_default"]["inputs"]["pixels"]["dtype"] == "DT_FLOAT"


def test_vertex_ai_serves_the_stored_form_export_as_it_is(trained, tmp_path, monkeypatch):
    """Deployed with the real SDK to the fake Vertex AI, whose prediction route feeds
    `serving_default` the way TF Serving's REST API does (strings, {"b64": ...})."""
    from mlkit.registry import open_store
    from mlkit.serving.endpoints import open_endpoint
    from tests.fakes.vertex_endpoints import FakeVertex

    fake = FakeVertex(seed=1)
    url = fake.serve()
    for key, value in {
        "MLKIT_VERTEX_PROJECT": "proj-1",
        "MLKIT_VERTEX_LOCATION": "us-central1",
        "MLKIT_VERTEX_STAGING_BUCKET": "gs://mlkit-staging",
        "MLKIT_VERTEX_API_ENDPOINT": url,
        "MLKIT_VERTEX_CREDENTIALS": "anonymous",
        "STORAGE_EMULATOR_HOST": url,
    }.items():
        monkeypatch.setenv(key, value)
    pixels = trained.test.features["pixels"][:5]
    try:
        with open_store(f"sqlite:///{tmp_path / 'r.db'}", tmp_path / "artifacts") as store:
            store.register_version("digits", trained.string_dir)
            store.register_version("digits", trained.bytes_dir)
            target = open_endpoint("vertex", store)
            target.deploy("digits", 1)
            strings = [{"pixels": v} for v in stored(pixels, "string")]
            answer = target.predict("digits", strings)
            got = np.array([p["probabilities"] for p in answer["predictions"]])
            np.testing.assert_allclose(got, trained.expected[:5], rtol=1e-5, atol=1e-6)
            target.deploy("digits", 2)
            raw = [{"pixels": b64(v)} for v in stored(pixels, "bytes")]
            answer = target.predict("digits", raw)
            assert answer["modelVersionId"] != ""
            got = np.array([p["probabilities"] for p in answer["predictions"]])
            np.testing.assert_allclose(got, trained.expected[:5], rtol=1e-5, atol=1e-6)
    finally:
        fake.close()
