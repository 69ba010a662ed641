"""Monitoring benchmark: what watching the local endpoint costs and how fast it sees things.

A ``shop`` classifier (two real SavedModels: class 1 when ``x > 50``, and when ``x > 60``) is
registered with a training run whose statistics the registry holds, in a throw-away mlkit home,
and served by the registry-driven local endpoint wired as ``mlkit serve`` wires it (prediction log
into the local warehouse, the bandit as picker).

(a) **logging**: requests/s from ``--clients`` keep-alive clients with every request logged,
    against logging off, on the same server (alternating, best of ``--rounds`` each); then after
    a flush, the instances logged against the instances answered. Also **kill**: ``mlkit serve``
    in its own process under steady load, killed with SIGKILL: the records lost against one flush
    interval's worth of requests.
(b) **drift**: rows from the training distribution replayed through the endpoint, first
    unchanged, then with ``x`` shifted; ``mlkit monitor``'s drift is computed every 100 requests:
    requests until the shift is flagged, and flags on the unchanged replay.
(c) **bandit**: two deployed versions with known accuracies (0.90 and 0.95: the truth sent as
    feedback after each answer agrees with the answer with that probability), 10,000 requests
    under ``--policy bandit``: expected regret against a fixed 50/50 split, and the better
    version's share of the last 1,000 requests; the allocation over time.

The last line printed is one JSON object. Run with ``make bench-monitoring``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mlkit.config import load_settings, quiet_tensorflow  # noqa: E402

SPEC = """
[experiment]
name = "shop"

[data]
source = "shop_train"
label = "label"
key = "id"
"""


def shop_rows(rows: int, shift: float = 0.0, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 100, rows) + shift
    y = rng.normal(0.0, 1.0, rows)
    return {"id": np.arange(rows), "x": x, "y": y, "label": (x > 50).astype(np.int64)}


def save_model(path: Path, threshold: float) -> Path:
    import tensorflow as tf

    class Threshold(tf.Module):
        @tf.function(
            input_signature=[
                tf.TensorSpec([None], tf.float32, name="x"),
                tf.TensorSpec([None], tf.float32, name="y"),
            ]
        )
        def serve(self, x, y):
            one = tf.cast(x > threshold, tf.float32)
            probs = tf.stack([1.0 - one, one], axis=1)
            return {"probabilities": probs, "class_ids": tf.cast(one, tf.int64)[:, None]}

    module = Threshold()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def set_up(home: Path) -> None:
    from mlkit.data import open_warehouse
    from mlkit.data.stats import relation_stats
    from mlkit.registry import open_store

    settings = load_settings()
    warehouse = open_warehouse(settings.warehouse_path)
    warehouse.write_table("shop_train", pa.table(shop_rows(5000)))
    stats = relation_stats(warehouse, "shop_train", label="label", skip=["id"])
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        run = store.create_run("shop", spec_text=SPEC, params={})
        store.record_run_data_stats(run.id, stats)
        store.finish_run(run.id, status="finished")
        signature = {"inputs": {"x": [], "y": []}, "task": "classification", "n_classes": 2}
        for version, threshold in ((1, 50.0), (2, 60.0)):
            model = save_model(home / f"export-v{version}", threshold)
            store.register_version("shop", model, run_id=run.id, signature=signature)
        store.deploy("shop", 1, action="forced", actor="bench", reason="first")


class Client:
    """One keep-alive connection."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def post(self, path: str, body: object) -> dict:
        self.conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        response = self.conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path}: {response.status} {data[:200]!r}")
        return json.loads(data)

    def predict(self, x: float, y: float) -> dict:
        return self.post("/v1/models/shop:predict", {"instances": [{"x": x, "y": y}]})


def load(port: int, clients: int, requests_each: int) -> float:
    """Requests per second from ``clients`` threads sending ``requests_each`` requests."""
    rows = shop_rows(requests_each, seed=11)
    start = threading.Barrier(clients + 1)

    def run() -> None:
        client = Client(port)
        client.predict(1.0, 0.0)
        start.wait()
        for x, y in zip(rows["x"], rows["y"], strict=True):
            client.predict(float(x), float(y))

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    return clients * requests_each / (time.perf_counter() - began)


def logging_cost(server, watch, port: int, clients: int, requests_each: int, rounds: int) -> dict:
    on_observers, off_observers = (
        tuple(server.app.observers),
        tuple(o for o in server.app.observers if o is not watch.log),
    )
    server.app.observers = off_observers
    load(port, clients, 50)  # warm up
    on, off = [], []
    for _ in range(rounds):
        server.app.observers = off_observers
        off.append(load(port, clients, requests_each))
        server.app.observers = on_observers
        on.append(load(port, clients, requests_each))
    answered_on = rounds * clients * (requests_each + 1)
    server.app.observers = off_observers  # nothing more to log while it is counted
    watch.log.flush()  # returns once everything queued is written
    from mlkit.monitoring.log import LOG_TABLE
    from mlkit.monitoring.served import read_served

    settings = load_settings()
    from mlkit.data import open_warehouse

    stored = read_served(open_warehouse(settings.warehouse_path), LOG_TABLE, "shop").rows.num_rows
    server.app.observers = on_observers  # the parts after this one log every answer
    return {
        "requests_per_s_logging_off": round(max(off), 1),
        "requests_per_s_logging_on": round(max(on), 1),
        "logging_throughput_ratio": round(max(on) / max(off), 3),
        "answered_with_logging": answered_on,
        "logged": stored,
        "logged_equals_served": stored == answered_on and watch.log.counts().dropped == 0,
    }


def drift(port: int, watch, chunk: int = 100, limit: int = 2000) -> dict:
    from mlkit.workflows.monitor import served_report

    settings = load_settings()
    client = Client(port)

    def replay(shift: float, seed: int) -> tuple[int | None, int]:
        since = datetime.fromtimestamp(time.time() - 0.001).isoformat()
        rows = shop_rows(limit, shift=shift, seed=seed)
        flags, first = 0, None
        for start in range(0, limit, chunk):
            for x, y in zip(rows["x"][start : start + chunk], rows["y"][start : start + chunk],
                            strict=True):  # fmt: skip
                client.predict(float(x), float(y))
            watch.log.flush()
            report = served_report(settings, "shop", since=since)
            served = sum(t.instances for t in report.traffic)
            drifted = [d for ds in report.drift.values() for d in ds if d.drifted]
            if served >= 200 and drifted:  # [monitoring] min_instances' default
                flags += 1
                if first is None:
                    first = start + chunk
                    if shift:
                        break
        return first, flags

    _, false_flags = replay(0.0, seed=21)
    detected_after, _ = replay(10.0, seed=22)
    return {
        "drift_detected_after": detected_after,
        "false_drift_flags": false_flags,
        "drift_shift": "x + 10 (0.35 training sd)",
    }


def bandit(port: int, watch, requests: int = 10_000, seed: int = 3) -> dict:
    from mlkit.workflows.serve import traffic

    settings = load_settings()
    traffic(settings, "shop", "1=50,2=50", policy="bandit", min_share=0.05, actor="bench")
    accuracy = {1: 0.90, 2: 0.95}
    rng = random.Random(seed)
    client = Client(port)
    served = []
    rows = shop_rows(requests, seed=31)
    began = time.perf_counter()
    for x, y in zip(rows["x"], rows["y"], strict=True):
        answer = client.predict(float(x), float(y))
        version = int(answer["version"])
        predicted = int(answer["predictions"][0]["class_id"])
        truth = predicted if rng.random() < accuracy[version] else 1 - predicted
        client.post(
            "/v1/models/shop:feedback",
            {"feedback": [{"request_id": answer["request_id"], "label": truth}]},
        )
        served.append(version)
    seconds = time.perf_counter() - began
    best = max(accuracy.values())
    regret = sum(best - accuracy[v] for v in served)
    fixed = requests * sum(best - a for a in accuracy.values()) / len(accuracy)
    history = [
        {"rewards": n, "shares": {str(v): round(s, 3) for v, s in shares.items()}}
        for n, model, shares in watch.picker.history
        if model == "shop"
    ]
    return {
        "bandit_regret": round(regret, 2),
        "fixed_split_regret": round(fixed, 2),
        "bandit_regret_ratio": round(regret / fixed, 4),
        "bandit_best_share": round(served[-1000:].count(2) / 1000, 3),
        "bandit_requests_per_s": round(requests / seconds, 1),
        "bandit_allocation_over_time": history,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kill_loss(home: Path, flush_s: float, seconds: float) -> dict:
    """`mlkit serve` in its own process under steady load, then SIGKILL: records lost."""
    from mlkit.data import open_warehouse
    from mlkit.monitoring.served import read_served

    port = free_port()
    env = {**os.environ, "MLKIT_HOME": str(home), "PYTHONPATH": str(ROOT)}
    table = "killed_log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlkit", "serve", "--port", str(port), "--log", table,
         "--log-flush-s", str(flush_s)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    client = None
    while time.monotonic() < deadline:
        try:
            client = Client(port)
            client.predict(1.0, 0.0)
            break
        except OSError:
            time.sleep(0.2)
    if client is None:
        proc.kill()
        raise SystemExit("mlkit serve did not start")
    answered, began = 1, time.monotonic()
    while time.monotonic() - began < seconds:
        client.predict(50.0, 0.0)
        answered += 1
    rate = answered / (time.monotonic() - began)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    settings = load_settings()
    logged = read_served(open_warehouse(settings.warehouse_path), table, "shop").rows.num_rows
    lost = answered - logged
    return {
        "kill_answered": answered,
        "kill_logged": logged,
        "kill_lost": lost,
        "kill_flush_interval_s": flush_s,
        "kill_one_interval_requests": round(rate * flush_s, 1),
        # what queued since the last write began: one interval, plus the write under way
        "kill_lost_within_one_interval": lost <= rate * flush_s * 1.5,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=400, help="per client per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bandit-requests", type=int, default=10_000)
    parser.add_argument("--parts", default="logging,drift,bandit,kill", help="which to run")
    args = parser.parse_args()
    quiet_tensorflow()
    with tempfile.TemporaryDirectory(prefix="mlkit-bench-monitoring-") as tmp:
        home = Path(tmp)
        os.environ["MLKIT_HOME"] = str(home)
        for key in ("MLKIT_REGISTRY_URL", "MLKIT_WAREHOUSE", "MLKIT_ARTIFACTS", "MLKIT_RUNS"):
            os.environ.pop(key, None)
        set_up(home)
        from mlkit.serving.server import make_server
        from mlkit.workflows.serve import RegistryResolver, observing

        settings = load_settings()
        resolver = RegistryResolver(settings)
        watch = observing(settings, resolver, log_flush_s=1.0, seed=7)
        server = make_server(resolver.resolve, resolver.deployed, port=0,
                             labels=resolver.labels, picker=watch.picker,
                             observers=watch.observers)  # fmt: skip
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]
        figures: dict = {}
        try:
            parts = set(args.parts.split(","))
            if "logging" in parts:
                figures |= logging_cost(
                    server, watch, port, args.clients, args.requests, args.rounds
                )
                print("logging:", json.dumps(figures), flush=True)
            if "drift" in parts:
                figures |= drift(port, watch)
                print("drift:", json.dumps({k: figures[k] for k in figures if "drift" in k}))
            if "bandit" in parts:
                result = bandit(port, watch, args.bandit_requests)
                over_time = result.pop("bandit_allocation_over_time")
                print("bandit allocation over time (rewards seen: shares):")
                for step in over_time:
                    print(f"  {step['rewards']:>6}: {step['shares']}")
                figures |= result
        finally:
            server.shutdown()
            server.server_close()
            watch.events.close()
            resolver.close()
        if "kill" in set(args.parts.split(",")):
            figures |= kill_loss(home, flush_s=1.0, seconds=5.0)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
