"""The endpoint under hostile or heavy clients, over real sockets on loopback: slow and dripping
clients, many idle connections, overload, deep JSON, numbers out of range, HEAD, the token on
/ready, and one log line per dropped client."""

from __future__ import annotations

import http.client
import json
import logging
import socket
import threading
import time
from pathlib import Path

import pytest

from mlkit.errors import UsageError
from mlkit.serving import client
from mlkit.serving.app import Limits
from mlkit.serving.pool import ModelPool, load_runner
from mlkit.serving.server import make_server
from mlkit.workflows.predict import read_instances
from tests.serving.test_endpoint_http import pixels_for

TOKEN = "t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LIMITS = Limits(
    max_connections=40,
    header_timeout_s=1.0,
    body_timeout_s=1.0,
    max_queue=4,
    max_json_depth=16,
)


class Slow:
    """A runner whose model calls take ``delay`` seconds (requests pile up behind it)."""

    delay = 0.0

    def __init__(self, path: Path) -> None:
        self.runner = load_runner(path)

    def __getattr__(self, name: str):
        return getattr(self.runner, name)

    def predict_arrays(self, features):
        time.sleep(Slow.delay)
        return self.runner.predict_arrays(features)


@pytest.fixture(scope="module")
def guarded(digits_v1: Path):
    server = make_server(
        lambda name: (1, digits_v1) if name == "digits" else None,
        lambda: [{"model": "digits", "version": 1}],
        port=0,
        token=TOKEN,
        limits=LIMITS,
        pool=ModelPool(Slow, batch_wait_s=0.0),
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client.predict(server.url, "digits", [pixels_for(1)], token=TOKEN)  # loaded
    yield server
    server.shutdown()
    server.server_close()
    thread.join(10)


def good_request_seconds(server) -> float:
    started = time.perf_counter()
    answer = client.predict(server.url, "digits", [pixels_for(6)], token=TOKEN, timeout=5)
    assert answer["predictions"][0]["class_id"] == 6
    return time.perf_counter() - started


def connect(server) -> socket.socket:
    return socket.create_connection(server.server_address, timeout=10)


def read_answer(sock: socket.socket) -> tuple[int, dict, dict]:
    response = http.client.HTTPResponse(sock)
    response.begin()
    body = response.read()
    return response.status, dict(response.getheaders()), json.loads(body) if body else {}


def test_a_body_dripped_slowly_gets_408_and_good_requests_still_pass(guarded) -> None:
    slow = connect(guarded)
    head = (
        "POST /v1/models/digits:predict HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Length: 400\r\n\r\n"
    )
    slow.sendall(head.encode() + b'{"inst')
    started = time.perf_counter()
    assert good_request_seconds(guarded) < 1.0
    status, headers, body = read_answer(slow)  # the deadline ends it, not the client
    waited = time.perf_counter() - started
    assert status == 408 and headers.get("connection") == "close"
    assert body == {"error": "the body did not arrive within 1 s (6 of 400 bytes)"}
    assert 0.8 < waited < 3.0
    slow.close()


def test_headers_dripped_slowly_are_cut_off(guarded) -> None:
    slow = connect(guarded)
    slow.sendall(b"POST /v1/models/digits:predict HTTP/1.1\r\nHost: x\r\n")
    assert good_request_seconds(guarded) < 1.0
    time.sleep(0.5)
    slow.sendall(b"X-Slow: 1\r\n")  # still dripping: the deadline counts from the first byte
    status, _, body = read_answer(slow)
    assert status == 408 and "headers did not arrive within 1 s" in body["error"]
    slow.close()


def test_many_idle_connections_do_not_starve_a_good_request(guarded) -> None:
    idle = [connect(guarded) for _ in range(150)]  # far over the cap of 40
    try:
        time.sleep(0.2)
        assert good_request_seconds(guarded) < 1.0
        assert len(guarded.guard.open) <= LIMITS.max_connections + 1
        closed = 0
        for sock in idle:  # the idle ones made room: the server closed them
            sock.settimeout(3)
            try:
                closed += sock.recv(1) == b""
            except (ConnectionError, TimeoutError):
                closed += 1
        assert closed >= 150 - LIMITS.max_connections
    finally:
        for sock in idle:
            sock.close()


def test_overload_is_503_with_retry_after(guarded) -> None:
    Slow.delay = 0.3
    statuses: list[tuple[int, str | None]] = []

    def ask() -> None:
        conn = http.client.HTTPConnection(*guarded.server_address, timeout=30)
        body = json.dumps({"instances": [pixels_for(2)]})
        conn.request("POST", "/v1/models/digits:predict", body, AUTH)
        response = conn.getresponse()
        response.read()
        statuses.append((response.status, response.getheader("Retry-After")))
        conn.close()

    try:
        threads = [threading.Thread(target=ask) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        Slow.delay = 0.0
    assert {s for s, _ in statuses} == {200, 503}
    assert all(retry == "1" for s, retry in statuses if s == 503)
    assert sum(s == 200 for s, _ in statuses) >= LIMITS.max_queue


@pytest.mark.parametrize("depth", [17, 100_000])
def test_deep_json_is_400(guarded, depth: int) -> None:
    body = b'{"instances": ' + b"[" * depth + b"]" * depth + b"}"
    conn = http.client.HTTPConnection(*guarded.server_address, timeout=30)
    conn.request("POST", "/v1/models/digits:predict", body, AUTH)
    response = conn.getresponse()
    assert response.status == 400
    assert json.loads(response.read()) == {"error": "the body is nested more than 16 levels deep"}
    assert good_request_seconds(guarded) < 1.0


@pytest.mark.parametrize(
    ("value", "shown"),
    [("NaN", "NaN"), ("Infinity", "Infinity"), ("-Infinity", "-Infinity"), ("1e39", "1e+39")],
)
def test_numbers_out_of_range_get_the_same_answer_as_mlkit_predict(
    guarded, tmp_path: Path, value: str, shown: str
) -> None:
    text = '{"instances": [[' + ", ".join(["0"] * 5 + [value] + ["0"] * 58) + "]]}"
    conn = http.client.HTTPConnection(*guarded.server_address, timeout=30)
    conn.request("POST", "/v1/models/digits:predict", text, AUTH)
    response = conn.getresponse()
    answer = json.loads(response.read())
    expected = (
        f"instance 0: value {shown} at [5] is out of range: "
        "numbers must be finite and within ±3.4e38 (32-bit floats)"
    )
    assert (response.status, answer) == (400, {"error": expected})
    path = tmp_path / "instances.json"
    path.write_text(text)
    with pytest.raises(UsageError) as info:
        read_instances(str(path))
    assert info.value.message == f"{path}: {expected}"


def test_head_is_get_without_a_body(guarded) -> None:
    conn = http.client.HTTPConnection(*guarded.server_address, timeout=30)
    conn.request("GET", "/health")
    get = conn.getresponse()
    body = get.read()
    conn.request("HEAD", "/health")
    head = conn.getresponse()
    assert head.status == 200 and head.read() == b""
    assert head.getheader("Content-Length") == str(len(body))
    conn.request("HEAD", "/v1/models/digits:predict", headers=AUTH)
    refused = conn.getresponse()
    assert refused.status == 405 and refused.getheader("Allow") == "POST"
    conn.close()


def test_ready_shows_loaded_versions_only_with_the_token(guarded) -> None:
    conn = http.client.HTTPConnection(*guarded.server_address, timeout=30)
    conn.request("GET", "/ready")
    open_answer = json.loads(conn.getresponse().read())
    conn.request("GET", "/ready", headers=AUTH)
    full = json.loads(conn.getresponse().read())
    conn.close()
    assert open_answer == {"status": "ready", "deployed": 1, "refused": 0}
    assert full["status"] == "ready" and full["refused"] == []
    assert [(e["model"], e["version"]) for e in full["loaded"]] == [("digits", 1)]


def test_a_dropped_client_is_one_log_line(guarded, caplog) -> None:
    caplog.set_level(logging.INFO, logger="mlkit.serving")
    sock = connect(guarded)
    sock.sendall(
        b"POST /v1/models/digits:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n"
        + f"Authorization: Bearer {TOKEN}\r\n\r\n{{".encode()
    )
    port = sock.getsockname()[1]
    time.sleep(0.2)
    sock.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any(str(port) in r.message for r in caplog.records):
        time.sleep(0.05)
    mine = [r for r in caplog.records if str(port) in r.getMessage()]
    assert len(mine) == 1, [r.getMessage() for r in mine]
    assert "dropped the connection" in mine[0].getMessage() and mine[0].exc_info is None
    assert "\n" not in mine[0].getMessage()
