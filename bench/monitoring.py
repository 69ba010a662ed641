"""Monitoring benchmark: what watching the local endpoint costs and how fast it sees things.

A ``shop`` classifier (two real SavedModels: class 1 when ``x > 50``, and when ``x > 60``) is
registered with a training run whose statistics the registry holds, in a throw-away mlkit home,
and served by the registry-driven local endpoint wired as ``mlkit serve`` wires it (prediction log
into the local warehouse, the bandit as picker).

(a) **logging**: requests/s from ``--clients`` keep-alive connections of one client process
    with every request logged, against logging off, on the same server: ``--rounds`` pairs of
    ``--seconds`` each (after ``--lead`` seconds of load not timed), interleaved (off-on,
    on-off, ...) after a warm-up; the median of the pairs' ratios with a 95 % interval and its
    spread, the ratio of the medians, the server's CPU per request either way (and by thread),
    and the writer's cost per row; then the instances logged against the instances answered. Also
    **kill**: ``mlkit serve`` in its own process under steady load, killed with SIGKILL: the
    records lost, and whether every one of them was answered in the last flush interval (by
    request id).
(w) **writer**: the prediction log's writer alone, without a server: CPU per row to build the
    rows and to append them, on records as the endpoint hands them over (steadier than (a) on a
    loaded machine; ``--parts writer`` runs only this, in seconds).
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
import dataclasses
import http.client
import json
import math
import os
import random
import re
import signal
import socket
import statistics
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


def client_process(port: int, clients: int) -> None:
    """``--client``: the load generator, in its own process (its own interpreter, so the server's
    CPU is the server's). ``clients`` keep-alive connections, opened once and kept across rounds;
    each line ``LEAD SECONDS`` on stdin runs one round (every connection sends requests one after
    another for LEAD + SECONDS) and answers ``{"requests": N, "seconds": S, "total": T}``: the
    requests answered after the lead-in and the seconds from its end, and all of the round's."""
    rows = shop_rows(1000, seed=11)
    pairs = [(float(x), float(y)) for x, y in zip(rows["x"], rows["y"], strict=True)]
    conns = [Client(port) for _ in range(clients)]
    for conn in conns:
        conn.predict(1.0, 0.0)
    for line in sys.stdin:
        lead, seconds = (float(v) for v in line.split())
        counts, totals, ends = [0] * clients, [0] * clients, [0.0] * clients
        go = threading.Barrier(clients + 1)
        began = [0.0]
        threads = [
            threading.Thread(
                target=send_for,
                args=(conns[n], pairs, lead, seconds, go, began, (counts, totals, ends), n),
            )
            for n in range(clients)
        ]
        for t in threads:
            t.start()
        began[0] = time.perf_counter()
        go.wait()
        for t in threads:
            t.join()
        took = max(ends) - (began[0] + lead)
        print(json.dumps({"requests": sum(counts), "seconds": took, "total": sum(totals)}),
              flush=True)  # fmt: skip


def send_for(conn: Client, pairs: list, lead: float, seconds: float, go: threading.Barrier,
             began: list, out: tuple[list, list, list], n: int) -> None:  # fmt: skip
    """One connection's round: requests one after another until ``lead + seconds`` passed; those
    answered after the lead-in are counted."""
    k = counted = 0
    go.wait()
    start = began[0] + lead
    until = start + seconds
    while (now := time.perf_counter()) < until:
        conn.predict(*pairs[k % len(pairs)])
        k += 1
        counted += now >= start
    counts, totals, ends = out
    counts[n], totals[n], ends[n] = counted, k, time.perf_counter()


def logging_cost(
    server, watch, port: int, clients: int, seconds: float, rounds: int, lead: float
) -> dict:
    """Logging on against off on the same server, with the same client process: ``rounds``
    pairs of rounds, interleaved off-on, on-off, ... (so a drift of the machine's load falls on
    both), after a warm-up. A round is ``lead`` seconds of load, not timed, then ``seconds``
    timed: the lead-in lets the writer reach its steady cadence (its takes of the queue already
    under way, the queue as full as at any time), so the timed window sees the writer's work as
    a server that always logs does. What an "on" round leaves queued at its end is written then
    (a drain, with logging switched off, not timed: it is the lead-in's counterpart), so no
    write of an "on" round falls in the next round; its CPU is charged to the round. Figures:
    the median of the pairs' ratios with a distribution-free 95 % interval and their spread,
    the ratio of the medians, the server process's CPU per request (all its threads, the
    writer's and the drain's included) either way and by thread, the writer's cost per row."""
    from mlkit.data import open_warehouse
    from mlkit.monitoring.log import LOG_TABLE
    from mlkit.monitoring.served import read_served

    on_observers = tuple(server.app.observers)
    off_observers = tuple(o for o in server.app.observers if o is not watch.log)
    client = subprocess.Popen(
        [sys.executable, __file__, "--client", str(port), "--clients", str(clients)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert client.stdin is not None and client.stdout is not None

    drains: list[float] = []

    by_thread: dict[bool, list[dict[str, float]]] = {True: [], False: []}

    def round_(logging: bool, length: float) -> tuple[float, float, int]:
        server.app.observers = on_observers if logging else off_observers
        threads_before = thread_cpu()
        cpu = time.process_time()
        client.stdin.write(f"{lead} {length}\n")
        client.stdin.flush()
        result = json.loads(client.stdout.readline())
        if logging:  # the round's records written before the next round
            began = time.perf_counter()
            server.app.observers = off_observers
            watch.log.flush()
            drains.append(time.perf_counter() - began)
        cpu_s = time.process_time() - cpu
        spent = thread_cpu()
        spent = {k: v - threads_before.get(k, 0.0) for k, v in spent.items()}
        spent["(not a Python thread)"] = cpu_s - sum(spent.values())
        by_thread[logging].append({k: v / result["total"] for k, v in spent.items()})
        return result["requests"] / result["seconds"], cpu_s / result["total"], result["total"]

    try:
        round_(False, seconds)  # warm-up: connections, the model, the code paths
        answered_on = round_(True, seconds / 2)[2]  # (drained at its end)
        drains.clear()
        by_thread[True].clear()
        by_thread[False].clear()
        cost_before = dataclasses.replace(watch.log.cost)
        on, off, cpu_on, cpu_off, ratios = [], [], [], [], []
        for k in range(rounds):
            pair = {}
            for logging in (False, True) if k % 2 == 0 else (True, False):
                rate, cpu, requests = round_(logging, seconds)
                pair[logging] = rate
                (on if logging else off).append(rate)
                (cpu_on if logging else cpu_off).append(cpu)
                answered_on += requests if logging else 0
            ratios.append(pair[True] / pair[False])
    finally:
        client.stdin.close()
        client.wait()
    server.app.observers = off_observers
    watch.log.flush()  # returns once everything queued is written
    server.app.observers = on_observers  # the parts after this one log every answer
    stored = read_served(open_warehouse(load_settings().warehouse_path), LOG_TABLE, "shop")
    logged = watch.log.counts().logged
    cost = watch.log.cost
    rows = max(1, cost.rows - cost_before.rows)
    median = statistics.median
    low, high = median_interval(ratios)
    return {
        "logging_throughput_ratio": round(median(ratios), 3),
        "logging_ratio_ci95": [round(low, 3), round(high, 3)],
        "logging_ratio_of_medians": round(median(on) / median(off), 3),
        "logging_ratio_pairs": [round(r, 3) for r in ratios],
        "logging_ratio_min": round(min(ratios), 3),
        "logging_ratio_max": round(max(ratios), 3),
        "requests_per_s_logging_off": round(median(off), 1),
        "requests_per_s_logging_on": round(median(on), 1),
        "cpu_us_per_request_logging_off": round(median(cpu_off) * 1e6, 1),
        "cpu_us_per_request_logging_on": round(median(cpu_on) * 1e6, 1),
        "logging_cpu_ratio": round(median(cpu_off) / median(cpu_on), 3),
        "cpu_us_per_request_by_thread_off": per_thread_median(by_thread[False]),
        "cpu_us_per_request_by_thread_on": per_thread_median(by_thread[True]),
        "writer_convert_cpu_us_per_row": round(
            (cost.convert_cpu_s - cost_before.convert_cpu_s) / rows * 1e6, 1
        ),
        "writer_write_cpu_us_per_row": round(
            (cost.write_cpu_s - cost_before.write_cpu_s) / rows * 1e6, 1
        ),
        "writer_rows_per_write": round(rows / max(1, cost.writes - cost_before.writes), 1),
        "logging_drain_ms": round(median(drains) * 1000, 1),
        "enqueue_us": enqueue_cost(),
        "log_max_delay_s": round(watch.log.counts().max_delay_s, 3),
        "log_slowest_flush_s": round(cost.slowest_flush_s, 3),
        # the longest wait: the answer's age at the take, how late the take was, the flush
        "log_max_delay_parts_s": dict(
            zip(
                ("age_at_take", "take_late", "flush"),
                (round(v, 3) for v in cost.worst[1:]),
                strict=True,
            )
        ),  # fmt: skip
        "load_1min": round(os.getloadavg()[0], 2),
        "answered_with_logging": answered_on,
        "logged": logged,
        "logged_equals_served": logged == answered_on
        and stored.rows.num_rows == logged
        and watch.log.counts().dropped == 0,
    }


def median_interval(values: list[float]) -> tuple[float, float]:
    """A distribution-free interval of at least 95 % for the median of ``values``' population:
    the k-th smallest and k-th largest, k the largest with P(Binomial(n, 1/2) < k) <= 2.5 %
    (for 16 values: the 4th and the 13th); the whole range when n < 6."""
    ordered, n = sorted(values), len(values)
    k, below = 0, 0.0
    while k < n and below + math.comb(n, k) / 2**n <= 0.025:
        below += math.comb(n, k) / 2**n
        k += 1
    k = max(1, k)
    return ordered[k - 1], ordered[n - k]


def thread_cpu() -> dict[str, float]:
    """CPU seconds each Python thread of this process spent so far, by thread name (the
    thread's own CPU clock)."""
    spent: dict[str, float] = {}
    for thread in threading.enumerate():
        if thread.ident is None:
            continue
        try:
            clock = time.pthread_getcpuclockid(thread.ident)
            seconds = time.clock_gettime(clock)
        except OSError:  # ended meanwhile
            continue
        name = "bench main" if thread is threading.main_thread() else thread.name
        name = re.sub(r"[-_ ]?\d+(?: \(.*\))?$", "", name)  # Thread-3 (serve): Thread
        spent[name] = spent.get(name, 0.0) + seconds
    return spent


def per_thread_median(rounds: list[dict[str, float]]) -> dict[str, float]:
    names = sorted({k for r in rounds for k in r})
    return {k: round(statistics.median(r.get(k, 0.0) for r in rounds) * 1e6, 1) for k in names}


def enqueue_cost(calls: int = 20_000) -> float:
    """µs per ``PredictionLogger.answered`` (what logging adds on the request's thread: the row
    of a one-instance answer), on a logger whose writer never runs during the loop."""
    from mlkit.data import LocalWarehouse
    from mlkit.monitoring.log import PredictionLogger
    from mlkit.serving.observe import Answered

    with tempfile.TemporaryDirectory() as tmp:
        log = PredictionLogger(LocalWarehouse(Path(tmp) / "w.duckdb"), flush_interval_s=600.0,
                               batch_rows=10 * calls, max_queue=10 * calls)  # fmt: skip
        instances: list[object] = [{"x": 1.0, "y": 0.0}]
        predictions: list[object] = [{"probabilities": [0.0, 1.0], "class_ids": [1],
                                      "class_id": 1}]  # fmt: skip
        # as the server hands it over: the body and the answer's JSON (the log makes the row)
        record = Answered("r", "shop", 1, "predict", 200, 0.001, instances, predictions,
                          time.time(), json.dumps(predictions),
                          json.dumps({"instances": instances}).encode())  # fmt: skip
        began = time.perf_counter()
        for _ in range(calls):
            log.answered(record)
        took = time.perf_counter() - began
        log.close(0.0)
    return round(took / calls * 1e6, 2)


def writer_cost(rows: int = 2500, batches: int = 120) -> dict:
    """``--parts writer``: the writer's CPU per row, without a server (so steadier than (a) on a
    loaded machine): ``batches`` of ``rows`` records as the endpoint hands them over (random
    features, unique ids and times; the body and the answer's predictions JSON set), built into
    rows and appended to a local warehouse; the first 3 batches are a warm-up. The defaults are
    about two minutes of a server answering 2,500 requests a second with a 1-s flush: long
    enough for the table's storage to show what repeated appends cost (the slowest append is
    reported too)."""
    from mlkit.data import LocalWarehouse
    from mlkit.monitoring.log import log_rows
    from mlkit.serving.observe import Answered

    rng = random.Random(0)

    def record(k: int) -> Answered:
        x, y = rng.uniform(0, 100), rng.gauss(0, 1)
        one = int(x > 50)
        predictions: list[object] = [
            {"probabilities": [1.0 - one, float(one)], "class_ids": [one], "class_id": one}
        ]
        instance = {"x": x, "y": y}
        return Answered(f"0123456789ab-{k}", "shop", 1, "predict", 200, rng.uniform(5e-4, 2e-3),
                        [instance], predictions, time.time() + k * 1e-4,
                        predictions_json=json.dumps(predictions),
                        body=json.dumps({"instances": [instance]}).encode())  # fmt: skip

    work = [[record(b * rows + i) for i in range(rows)] for b in range(batches)]
    build = append = slowest = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        appender = LocalWarehouse(Path(tmp) / "w.duckdb").appender("prediction_log")
        for b, batch in enumerate(work):
            began = time.thread_time()
            table = log_rows(batch)
            built = time.thread_time()
            appender.append(table)
            if b >= 3:
                build += built - began
                append += time.thread_time() - built
                slowest = max(slowest, time.thread_time() - built)
        appender.close()
    counted = (batches - 3) * rows
    return {
        "writer_build_cpu_us_per_row_offline": round(build / counted * 1e6, 1),
        "writer_append_cpu_us_per_row_offline": round(append / counted * 1e6, 1),
        "writer_rows_per_append_offline": rows,
        "writer_slowest_append_ms_offline": round(slowest * 1e3, 1),
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
    answered: dict[str, float] = {}  # request id -> when its answer arrived (monotonic)
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        answer = client.predict(50.0, 0.0)
        answered[answer["request_id"]] = time.monotonic()
    killed = time.monotonic()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    settings = load_settings()
    rows = read_served(open_warehouse(settings.warehouse_path), table, "shop").rows
    lost = set(answered) - set(rows.column("request_id").to_pylist())
    last_interval = sum(1 for t in answered.values() if t > killed - flush_s)
    oldest = max((killed - answered[r] for r in lost), default=0.0)
    return {
        "kill_answered": len(answered),
        "kill_lost": len(lost),
        "kill_answered_last_interval": last_interval,
        "kill_oldest_lost_age_s": round(oldest, 3),
        "kill_flush_interval_s": flush_s,
        # the documented bound: only records answered in the last flush interval are lost
        "kill_lost_within_one_interval": oldest <= flush_s and len(lost) <= last_interval,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=2.0, help="per logging round")
    parser.add_argument("--rounds", type=int, default=16, help="pairs of logging rounds")
    parser.add_argument(
        "--lead", type=float, default=1.0, help="seconds of load before each timed round"
    )
    parser.add_argument("--client", type=int, help=argparse.SUPPRESS)  # the load generator
    parser.add_argument("--bandit-requests", type=int, default=10_000)
    parser.add_argument(
        "--parts",
        default="writer,logging,drift,bandit,kill",
        help="which to run, comma-separated (writer alone: no server, seconds)",
    )
    args = parser.parse_args()
    if args.client:
        client_process(args.client, args.clients)
        return
    quiet_tensorflow()
    if args.parts == "writer":  # no server needed
        print(json.dumps(writer_cost()))
        return
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
        threading.Thread(target=server.serve_forever, name="server", daemon=True).start()
        port = server.server_address[1]
        figures: dict = {}
        try:
            parts = set(args.parts.split(","))
            if "writer" in parts:
                figures |= writer_cost()
            if "logging" in parts:
                figures |= logging_cost(
                    server, watch, port, args.clients, args.seconds, args.rounds, args.lead
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
