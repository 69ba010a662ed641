"""Digits stored as BYTES, end to end through the real CLI: load → train → compare (promotion
evaluates through ``features`` and smoke-tests ``serving_default`` with ``{"b64": ...}``) →
deploy → the registry-driven local endpoint over HTTP → ``mlkit predict`` with stored values."""

from __future__ import annotations

import base64
import json
import threading

import pytest

from mlkit.config import load_settings

pytestmark = pytest.mark.slow

EXPERIMENT = """
[experiment]
name = "digits-bytes"
model = "digits_bytes"

[data]
source = "digits_bytes"
label = "label"
key = "id"
features = [{ name = "pixels", shape = [64] }]

[data.split]
eval = 0.1
test = 0.2

[search]
generator = "dnn"
layer_size = 16
iterations = 1
steps_per_iteration = 60
batch_size = 32
reference_models = false

[promotion]
metric = "accuracy"
smoke = { requests = 2, instances = 3, max_latency_ms = 60000 }
"""


def test_a_bytes_model_trains_evaluates_deploys_and_serves_stored_values(mlkit_home, cli, tmp_path):
    from mlkit.registry import open_store
    from mlkit.serving.server import make_server
    from mlkit.workflows.serve import RegistryResolver

    loaded = cli("data", "load", "digits", "--pixels", "bytes", "-t", "digits_bytes")
    assert loaded.code == 0, loaded.err
    spec = tmp_path / "digits-bytes.toml"
    spec.write_text(EXPERIMENT)
    trained = cli("train", spec, "--json")
    assert trained.code == 0, trained.err
    settings = load_settings()
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        version = store.get_version("digits_bytes", 1)
    assert version.signature["storage_forms"] == {"pixels": "bytes"}
    assert version.signature["inputs"] == {"pixels": [64]}

    compared = cli("compare", "digits_bytes", "--json")
    assert compared.code == 0, compared.err
    details = json.loads(compared.out)["verdict"]["details"]
    checks = {c["name"]: c for c in details["checks"]}
    assert checks["smoke test"]["status"] == "pass", checks["smoke test"]
    assert "through 'serving_default'" in checks["smoke test"]["reason"]
    assert details["smoke"]["signature"] == "serving_default"
    assert details["candidate"]["signature"] == "features"  # the evaluation rows, decoded

    deployed = cli("deploy", "digits_bytes", "--force", "--reason", "first version")
    assert deployed.code == 0, deployed.err

    resolver = RegistryResolver(settings, poll_s=0)
    server = make_server(resolver.resolve, resolver.deployed, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        rows = [bytes([0] * 20 + [16] * 8 + [0] * 36), bytes(range(0, 64, 1))]
        instances = tmp_path / "instances.json"
        instances.write_text(
            json.dumps(
                {"instances": [{"pixels": {"b64": base64.b64encode(r).decode()}} for r in rows]}
            )
        )
        url = f"http://127.0.0.1:{server.server_address[1]}"
        answer = cli("predict", "digits_bytes", "-i", instances, "--url", url, "--json")
        assert answer.code == 0, answer.err
        predictions = json.loads(answer.out)["predictions"]
        assert len(predictions) == 2
        assert all(abs(sum(p["probabilities"]) - 1) < 1e-4 for p in predictions)
        instances.write_text(json.dumps({"instances": [{"pixels": "0,1,2"}]}))
        refused = cli("predict", "digits_bytes", "-i", instances, "--url", url)
        assert refused.code == 7
        assert "instance 0: feature 'pixels' must be {\"b64\"" in refused.err
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
