"""`mlkit serve` in its own process: SIGTERM writes the prediction log's queue before exiting (the
flush interval here is a minute, so only the shutdown can have written the rows)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.monitoring.conftest import register_shop

pytest.importorskip("tensorflow")
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _predict(port: int, x: float) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/models/shop:predict",
        data=json.dumps({"instances": [{"x": x, "y": 0.0}]}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


@pytest.mark.slow  # a process of its own that loads TensorFlow
def test_sigterm_flushes_the_prediction_log(mlkit_home, shop_models) -> None:
    from mlkit.config import load_settings
    from mlkit.data import open_warehouse
    from mlkit.monitoring.served import read_served

    register_shop(mlkit_home, shop_models)
    port = _free_port()
    env = {**os.environ, "MLKIT_HOME": str(mlkit_home), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlkit", "serve", "--port", str(port), "--log-flush-s", "60"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                _predict(port, 1.0)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        ids = [_predict(port, float(x))["request_id"] for x in range(20)]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
    warehouse = open_warehouse(load_settings().warehouse_path)
    logged = read_served(warehouse, "prediction_log", "shop").rows
    assert logged.num_rows == 21
    assert set(ids) <= set(logged.column("request_id").to_pylist())
