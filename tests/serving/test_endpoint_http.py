"""The local endpoint over real HTTP on loopback, driven through the real client."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mlkit.errors import EndpointUnavailable, InvalidPayload, ServingError
from mlkit.serving import client


def _default_sigint() -> None:
    """Ctrl-C's default in the child: a shell that started the tests in the background (``&``,
    ``nohup``) makes SIGINT ignored, and a child inherits that, so SIGINT would not stop it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def pixels_for(cls: int) -> list[float]:
    pixels = [0.0] * 64
    pixels[cls] = 16.0
    return pixels


def raw_request(
    server, method: str, path: str, body: bytes | None = None, headers: dict | None = None
) -> tuple[int, dict]:
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        payload = json.loads(response.read())
        assert response.getheader("Content-Type") == "application/json"
        return response.status, payload
    finally:
        conn.close()


def assert_still_serving(server) -> None:
    assert client.health(server.url)
    answer = client.predict(server.url, "digits", [pixels_for(4)])
    assert answer["predictions"][0]["class_id"] == 4


def test_health_and_listing(endpoint, deployments) -> None:
    assert client.health(endpoint.url) is True
    assert raw_request(endpoint, "GET", "/health") == (200, {"status": "ok"})
    assert raw_request(endpoint, "GET", "/v1/models") == (
        200,
        {"models": [{"model": "digits", "version": 1}]},
    )
    assert client.models(endpoint.url) == [{"model": "digits", "version": 1}]


def test_predict_through_the_client(endpoint, deployments) -> None:
    answer = client.predict(endpoint.url, "digits", [{"pixels": pixels_for(3)}, pixels_for(8)])
    assert answer["model"] == "digits" and answer["version"] == 1
    assert [p["class_id"] for p in answer["predictions"]] == [3, 8]
    assert len(answer["predictions"][0]["probabilities"]) == 10


def test_a_new_deployment_serves_the_next_request_without_restart(
    endpoint, deployments, digits_v2: Path
) -> None:
    assert client.predict(endpoint.url, "digits", [pixels_for(3)])["version"] == 1
    deployments.active["digits"] = (2, digits_v2)
    answer = client.predict(endpoint.url, "digits", [pixels_for(3)])
    assert answer["version"] == 2
    assert answer["predictions"][0]["class_id"] == 7  # version 2 always answers 7


def test_concurrent_first_requests_load_a_version_once(endpoint, deployments, regressor) -> None:
    deployments.active["houses"] = (5, regressor)
    before = endpoint.cache.load_count
    results: list[dict] = []
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            results.append(client.predict(endpoint.url, "houses", [{"x": [1, 1, 1], "age": 2}]))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert [r["predictions"] for r in results] == [[{"value": pytest.approx(5.0)}]] * 8
    assert endpoint.cache.load_count == before + 1


def test_old_versions_are_dropped_from_memory(digits_v1: Path, digits_v2: Path) -> None:
    from mlkit.serving.pool import ModelPool

    pool = ModelPool(keep_versions=1)
    first = pool.get("digits", 1, digits_v1)
    assert pool.get("digits", 1, digits_v1) is first
    pool.get("digits", 2, digits_v2)
    assert pool.loaded() == [("digits", 2)]
    assert pool.load_count == 2 and pool.unload_count == 1
    pool.close()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "the body is not valid JSON"),
        (b"\xff\xfe", "the body is not valid JSON"),
        (b"[1, 2]", "the body must be a JSON object with an 'instances' list"),
        (b'{"inputs": []}', "the body must be a JSON object with an 'instances' list"),
        (b'{"instances": []}', "'instances' must be a non-empty list"),
        (
            json.dumps({"instances": [{"pixel": [0] * 64}]}).encode(),
            "instance 0: unknown feature 'pixel' (expected: pixels)",
        ),
        (
            json.dumps({"instances": [[0] * 64, [0] * 63]}).encode(),
            "instance 1: feature 'pixels' has 63 values, expected 64",
        ),
        (
            json.dumps({"instances": [["abc"] * 64]}).encode(),
            "instance 0: feature 'pixels' must be numbers, got 'abc'",
        ),
        (
            json.dumps({"instances": [0] * 10_001}).encode(),
            "'instances' has 10001 items; at most 10000 per request",
        ),
    ],
)
def test_bad_requests_get_400_and_the_server_keeps_serving(
    endpoint, deployments, body: bytes, message: str
) -> None:
    status, answer = raw_request(
        endpoint,
        "POST",
        "/v1/models/digits:predict",
        body,
        {"Content-Type": "application/json"},
    )
    assert status == 400
    assert answer["error"].startswith(message)
    assert "\n" not in answer["error"] and set(answer) == {"error"}
    assert_still_serving(endpoint)


def test_bad_payload_through_the_client_is_invalid_payload(endpoint, deployments) -> None:
    with pytest.raises(InvalidPayload) as info:
        client.predict(endpoint.url, "digits", [[0] * 63])
    assert str(info.value) == "instance 0: feature 'pixels' has 63 values, expected 64"


def test_oversized_body_gets_400(endpoint, deployments) -> None:
    big = [[0.0] * 64] * 80_000  # about 26 MB of JSON, over the 8 MiB limit
    with pytest.raises(InvalidPayload, match="at most 8388608 are accepted") as info:
        client.predict(endpoint.url, "digits", big)
    assert "the body has" in str(info.value)
    body = json.dumps({"instances": big}).encode()
    status, answer = raw_request(endpoint, "POST", "/v1/models/digits:predict", body)
    assert status == 400 and answer["error"].startswith(f"the body has {len(body)} bytes")
    assert_still_serving(endpoint)


def test_undeployed_model_is_404(endpoint, deployments) -> None:
    status, answer = raw_request(endpoint, "POST", "/v1/models/mnist:predict", b'{"instances":[1]}')
    assert (status, answer) == (404, {"error": "model 'mnist' is not deployed on this endpoint"})
    with pytest.raises(ServingError) as info:
        client.predict(endpoint.url, "mnist", [pixels_for(1)])
    assert not isinstance(info.value, InvalidPayload | EndpointUnavailable)
    assert str(info.value) == "model 'mnist' is not deployed on this endpoint"


def test_unknown_routes_and_methods(endpoint, deployments) -> None:
    assert raw_request(endpoint, "GET", "/nope") == (404, {"error": "no route /nope"})
    status, answer = raw_request(endpoint, "GET", "/v1/models/digits:predict")
    assert status == 405 and "use POST" in answer["error"]
    status, answer = raw_request(endpoint, "PUT", "/v1/models/digits:predict", b"{}")
    assert status == 501 and answer == {"error": "Unsupported method ('PUT')"}
    assert_still_serving(endpoint)


def test_a_model_that_fails_to_load_is_500(endpoint, deployments, tmp_path: Path) -> None:
    (tmp_path / "broken").mkdir()
    deployments.active["broken"] = (3, tmp_path / "broken")
    with pytest.raises(ServingError) as info:
        client.predict(endpoint.url, "broken", [pixels_for(1)])
    assert str(info.value).startswith("model 'broken' version 3 failed: cannot load the SavedModel")
    assert "\n" not in str(info.value)
    assert_still_serving(endpoint)


def test_keep_alive_connection_serves_several_requests(endpoint, deployments) -> None:
    host, port = endpoint.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=30)
    body = json.dumps({"instances": [pixels_for(2)]})
    try:
        for _ in range(3):
            conn.request("POST", "/v1/models/digits:predict", body=body)
            response = conn.getresponse()
            assert response.status == 200
            assert json.loads(response.read())["predictions"][0]["class_id"] == 2
    finally:
        conn.close()


def free_closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_client_against_a_closed_port() -> None:
    url = f"http://127.0.0.1:{free_closed_port()}"
    with pytest.raises(EndpointUnavailable) as info:
        client.predict(url, "digits", [[0] * 64], timeout=5)
    assert str(info.value) == f"no endpoint is listening at {url}"
    assert info.value.hint == "start one with `mlkit serve` (or set MLKIT_ENDPOINT_URL)"
    assert client.health(url) is False


def test_make_server_on_a_taken_port(endpoint) -> None:
    from mlkit.serving.server import make_server

    with pytest.raises(ServingError, match="cannot listen on 127.0.0.1:"):
        make_server(lambda name: None, list, port=endpoint.server_address[1])


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_serve_runs_until_interrupted_and_stops_cleanly(stop: int) -> None:
    code = (
        "import sys\n"
        "from mlkit.serving.server import serve\n"
        "serve(lambda name: None, list, port=0,"
        " on_ready=lambda address: print('http://%s:%d' % address, flush=True))\n"
        "print('stopped', flush=True)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert client.health(url)
        with pytest.raises(ServingError, match="model 'digits' is not deployed"):
            client.predict(url, "digits", [[0] * 64])
        proc.send_signal(stop)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out.strip() == "stopped"
    assert err == ""  # access logging goes through `logging`, not to stderr
    assert client.health(url) is False
