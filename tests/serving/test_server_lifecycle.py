"""The endpoint's life: SIGTERM under load loses no accepted request, /metrics parsed with the
Prometheus client's own parser, the artifact checked on every load (also after an idle unload),
the token from a file, and the warning for an open address on stderr."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mlkit.config import load_settings
from mlkit.errors import UsageError
from mlkit.registry import open_store
from mlkit.serving import client
from mlkit.serving.metrics import EndpointMetrics
from mlkit.serving.pool import ModelPool
from mlkit.serving.server import make_server
from mlkit.workflows.serve import RegistryResolver, read_token
from tests.serving.test_endpoint_http import _default_sigint, pixels_for

REPO = Path(__file__).resolve().parents[2]

_SLOW_SERVER = """
import sys, time
from pathlib import Path
from mlkit.serving import logs
from mlkit.serving.pool import ModelPool, load_runner
from mlkit.serving.server import serve

class Slow:
    def __init__(self, path):
        self.runner = load_runner(path)
    def __getattr__(self, name):
        return getattr(self.runner, name)
    def predict_arrays(self, features):
        time.sleep(0.25)
        return self.runner.predict_arrays(features)

logs.configure("info")
model = Path(sys.argv[1])
serve(lambda name: (1, model), list, port=0, pool=ModelPool(Slow, batch_wait_s=0.0),
      on_ready=lambda a: print("http://%s:%d" % a, flush=True))
print("stopped", flush=True)
"""


def test_sigterm_under_load_answers_every_accepted_request(digits_v1: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_SERVER, str(digits_v1)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        preexec_fn=_default_sigint,
    )
    outcomes: list[tuple[float, float, str]] = []  # (sent, done, "200" | error kind)
    stop = threading.Event()
    try:
        url = proc.stdout.readline().strip()
        host, port = url.removeprefix("http://").split(":")
        client.predict(url, "digits", [pixels_for(1)], timeout=60)  # loaded

        def hammer() -> None:
            body = json.dumps({"instances": [pixels_for(4)]})
            while not stop.is_set():
                sent = time.monotonic()
                conn = http.client.HTTPConnection(host, int(port), timeout=30)
                try:
                    conn.request("POST", "/v1/models/digits:predict", body)
                    response = conn.getresponse()
                    response.read()
                    kind = str(response.status)
                except (ConnectionError, http.client.RemoteDisconnected) as exc:
                    kind = type(exc).__name__  # not accepted: refused or reset on connect
                    time.sleep(0.05)
                finally:
                    conn.close()
                outcomes.append((sent, time.monotonic(), kind))

        threads = [threading.Thread(target=hammer) for _ in range(6)]
        for t in threads:
            t.start()
        time.sleep(1.2)
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        stop.set()
        for t in threads:
            t.join(30)
    finally:
        stop.set()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out.strip() == "stopped"
    kinds = {k for _, _, k in outcomes}
    assert kinds <= {"200", "ConnectionRefusedError", "ConnectionResetError", "RemoteDisconnected"}
    drained = [o for o in outcomes if o[0] < signalled < o[1] and o[2] == "200"]
    assert drained, "some requests were in flight at SIGTERM and were answered"
    answered = sum(1 for _, _, k in outcomes if k == "200")
    access = [json.loads(line) for line in err.splitlines() if '"status"' in line]
    # every request the server accepted (its access log) reached its client as a 200
    assert sum(1 for a in access if a["route"] == "predict") == answered + 1  # + the first
    assert {a["status"] for a in access} == {200}
    assert "Traceback" not in err


@pytest.fixture
def registry_home(tmp_path: Path, digits_v1: Path):
    settings = load_settings(tmp_path)
    work = tmp_path / "export"
    import shutil

    shutil.copytree(digits_v1, work)
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        store.register_version("digits", work)
        store.deploy("digits", 1)
    return settings


def start(settings, **pool_options):
    """The endpoint as `mlkit serve` wires it: the registry's check and metrics."""
    resolver = RegistryResolver(settings)
    metrics = EndpointMetrics()
    resolver.on_refresh = metrics.refreshed
    pool = ModelPool(verify=resolver.verify, events=metrics, **pool_options)
    server = make_server(
        resolver.resolve, resolver.deployed, port=0, pool=pool, metrics=metrics, token="tok"
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


def get(server, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection(*server.server_address, timeout=30)
    conn.request("GET", path, headers={"Authorization": "Bearer tok"})
    response = conn.getresponse()
    text = response.read().decode()
    conn.close()
    return response.status, text


def test_metrics_parse_with_the_prometheus_parser(registry_home) -> None:
    server, thread = start(registry_home)
    try:
        for i in range(5):
            client.predict(server.url, "digits", [pixels_for(i)], token="tok")
        with pytest.raises(Exception, match="not deployed"):
            client.predict(server.url, "mnist", [pixels_for(1)], token="tok")
        status, text = get(server, "/metrics")
        assert status == 200
        samples = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
        ok = (("code", "200"), ("model", "digits"), ("route", "predict"), ("version", "1"))
        assert samples[("mlkit_endpoint_requests_total", ok)] == 5
        missing = (("code", "404"), ("model", "mnist"), ("route", "predict"), ("version", ""))
        assert samples[("mlkit_endpoint_errors_total", missing)] == 1
        latency = (("model", "digits"), ("route", "predict"), ("version", "1"))
        assert samples[("mlkit_endpoint_request_seconds_count", latency)] == 5
        version = (("model", "digits"), ("version", "1"))
        assert samples[("mlkit_endpoint_batch_requests_count", version)] == 5
        assert samples[("mlkit_endpoint_model_loads_total", version)] == 1
        assert samples[("mlkit_endpoint_model_load_seconds_count", version)] == 1
        assert samples[("mlkit_endpoint_queue_depth", version)] == 0
        assert samples[("mlkit_endpoint_registry_refreshes_total", ())] >= 1
        assert ("mlkit_endpoint_requests_in_flight", ()) in samples
        conn = http.client.HTTPConnection(*server.server_address, timeout=30)
        conn.request("GET", "/metrics")
        assert conn.getresponse().status == 401  # the token guards the metrics too
        conn.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_a_modified_artifact_is_refused_on_reload_after_an_idle_unload(registry_home) -> None:
    server, thread = start(registry_home, idle_unload_s=0.3)
    try:
        assert client.predict(server.url, "digits", [pixels_for(3)], token="tok")["version"] == 1
        deadline = time.monotonic() + 15
        while server.pool.loaded() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.pool.loaded() == [], "scaled to zero"
        with open_store(registry_home.registry_url, registry_home.artifacts_dir) as store:
            path = store.artifact_path(store.get_version("digits", 1), verify=False)
        (path / "saved_model.pb").write_bytes((path / "saved_model.pb").read_bytes() + b"\0")
        with pytest.raises(Exception, match="version 1 cannot be served: .*artifact") as info:
            client.predict(server.url, "digits", [pixels_for(3)], token="tok")
        assert "\n" not in str(info.value)
        assert server.pool.loaded() == [], "nothing unverified was loaded"
        status, text = get(server, "/ready")
        ready = json.loads(text)
        assert status == 200 and ready["status"] == "degraded"
        assert [(r["model"], r["version"]) for r in ready["refused"]] == [("digits", 1)]
        assert "artifact" in ready["refused"][0]["reason"]
        status, text = get(server, "/v1/models/digits")
        assert json.loads(text)["model_version_status"][0]["status"]["error_code"] == (
            "FAILED_PRECONDITION"
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_the_token_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("s3cret\n")
    assert read_token(None, str(path)) == "s3cret"
    assert read_token("given", None) == "given"
    with pytest.raises(UsageError, match="not both"):
        read_token("given", str(path))
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(UsageError, match="is empty"):
        read_token(None, str(tmp_path / "empty"))
    with pytest.raises(UsageError, match="cannot read the token file"):
        read_token(None, str(tmp_path / "nope"))


def test_mlkit_serve_warns_on_stderr_and_takes_the_token_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("from-file\n")
    code = "import sys\nfrom mlkit.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    args = ["serve", "--host", "0.0.0.0", "--port", "0", "--idle-unload", "0"]
    env = {**os.environ, "MLKIT_HOME": str(tmp_path), "COLUMNS": "300", "PYTHONPATH": str(REPO)}
    env.pop("MLKIT_ENDPOINT_TOKEN", None)
    runs = {}
    for name, extra in (("open", []), ("file", ["--token-file", str(tmp_path / "token")])):
        proc = subprocess.Popen(
            [sys.executable, "-c", code, *args, *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO,
            preexec_fn=_default_sigint,
        )
        try:
            line = proc.stdout.readline()
            port = int(line.split("http://0.0.0.0:", 1)[1].split(" ", 1)[0])
            url = f"http://127.0.0.1:{port}"
            assert client.health(url)
            status = None
            try:
                client.models(url)
            except Exception as exc:  # 401 without the token
                status = str(exc)
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        runs[name] = (proc.returncode, line + out, err, status)
    code_open, out_open, err_open, status_open = runs["open"]
    assert code_open == 0 and status_open is None
    assert "Warning: serving on 0.0.0.0 without a token" in err_open
    assert "Warning" not in out_open
    code_file, _, err_file, status_file = runs["file"]
    assert code_file == 0 and "Warning" not in err_file
    assert status_file is not None and "missing bearer token" in status_file


class Recording:
    """An observer that keeps what it is told (the seam of mlkit/serving/observe.py)."""

    def __init__(self) -> None:
        self.records: list = []
        self.closed: float | None = None

    def answered(self, record) -> None:
        self.records.append(record)

    def close(self, timeout_s: float) -> None:
        self.closed = timeout_s


class Second:
    """A picker that always answers with the highest version (the seam's ``picker``)."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, int]] = []

    def pick(self, model, targets):
        self.asked.append((model, len(targets)))
        return max(targets, key=lambda t: t.version)


def test_observers_are_told_each_predict_answer_and_the_picker_chooses(
    digits_v1: Path, digits_v2: Path
) -> None:
    from mlkit.serving.routing import Target

    observer, picker = Recording(), Second()
    targets = [Target(1, digits_v1, 90, "11"), Target(2, digits_v2, 10, "12")]
    server = make_server(
        lambda name: targets if name == "digits" else None,
        list,
        port=0,
        observers=[observer],
        picker=picker,
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        answer = client.predict(server.url, "digits", [pixels_for(3)], vertex=True)
        assert answer["modelVersionId"] == "2" and picker.asked == [("digits", 2)]
        with pytest.raises(Exception, match="has 2 values"):
            client.predict(server.url, "digits", [[1, 2]])
        client.health(server.url)
        deadline = time.monotonic() + 5
        while len(observer.records) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
    ok, bad = observer.records
    assert (ok.model, ok.version, ok.route, ok.status) == ("digits", 2, "vertex_predict", 200)
    assert ok.instances == [pixels_for(3)] and ok.predictions[0]["class_id"] == 7
    assert ok.latency_s > 0 and ok.request_id and ok.at > 0
    assert (bad.route, bad.status, bad.predictions) == ("predict", 400, [])
    assert observer.closed == 5.0, "flushed on shutdown"
