"""Serving benchmark: the local endpoint under concurrent load, against two baselines measured in
the same run, and promotions/rollbacks under steady load.

1. **in-process floor**: the SavedModel called directly in this process, one instance per call;
2. **plain server**: a one-request-one-call HTTP server on the same model (own process);
3. **mlkit endpoint**: ``mlkit serve``'s registry-driven endpoint with server-side batching (own
   process), same load as 2: ``--clients`` keep-alive connections sending one instance each for
   ``--seconds``;
4. **swaps**: 20 promotions and rollbacks recorded in the registry while the load runs; every
   swap is logged with when the new version first answered and the failed requests around it.

The last line printed is one JSON object of the figures. Run with ``make bench-serving``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.serving_models import build, build_heavy  # noqa: E402
from mlkit.config import load_settings, quiet_tensorflow  # noqa: E402


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def start_server(kind: str, where: Path, env: dict) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "serving_servers.py"), kind, str(where)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    url = proc.stdout.readline().strip()
    if not url.startswith("http://"):
        proc.kill()
        raise SystemExit(f"the {kind} server did not start")
    return proc, url


_CONTENT_LENGTH = re.compile(rb"(?i)content-length:\s*(\d+)")
_VERSION = re.compile(rb'"modelVersionId":\s*"(\d+)"')


class Load:
    """``clients`` threads, each on a keep-alive connection, posting one instance per request."""

    def __init__(self, url: str, path: str, bodies: list[bytes], clients: int) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.host, self.port, self.path = host, int(port), path
        self.bodies, self.clients = bodies, clients
        self.records: list[tuple[float, float, bool, str]] = []  # (end time, ms, ok, version)
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=60)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _exchange(self, sock: socket.socket, request: bytes) -> tuple[int, bytes]:
        """One request on a keep-alive socket: a minimal HTTP/1.1 client, cheaper than
        http.client, so that the load generator is not what the benchmark measures."""
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = int(_CONTENT_LENGTH.search(head).group(1))
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            body += chunk
        return status, body

    def _client(self, seed: int) -> None:
        requests = [
            (
                f"POST {self.path} HTTP/1.1\r\nHost: {self.host}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(b)}\r\n\r\n"
            ).encode()
            + b
            for b in self.bodies
        ]
        sock = self._connect()
        i = seed
        while not self._stop.is_set():
            request = requests[i % len(requests)]
            i += 1
            started = time.perf_counter()
            ok, version = False, ""
            try:
                status, body = self._exchange(sock, request)
                ok = status == 200
                if ok:
                    found = _VERSION.search(body)
                    version = found.group(1).decode() if found else ""
                else:
                    sock.close()  # error answers may close the connection
                    sock = self._connect()
            except (OSError, ValueError, AttributeError):
                sock.close()
                sock = self._connect()
            ended = time.perf_counter()
            with self._lock:
                self.records.append((ended, (ended - started) * 1000, ok, version))
        sock.close()

    def run(self, seconds: float, during=None) -> list[tuple[float, float, bool, str]]:
        threads = [
            threading.Thread(target=self._client, args=(i * 7,)) for i in range(self.clients)
        ]
        for t in threads:
            t.start()
        try:
            if during is None:
                time.sleep(seconds)
            else:
                during()
        finally:
            self._stop.set()
            for t in threads:
                t.join(120)
        return self.records


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(proc: subprocess.Popen, url: str, path: str, bodies: list[bytes], args) -> dict:
    """The load on one server, with the server's CPU time per answered request."""
    before = cpu_seconds(proc.pid)
    figures = summarize(Load(url, path, bodies, args.clients).run(args.seconds), warmup_s=0.0)
    used = cpu_seconds(proc.pid) - before
    figures["server_cpu_ms_per_request"] = round(used * 1000 / max(1, figures["requests"]), 3)
    return figures


def summarize(records, warmup_s: float = 1.0) -> dict:
    start = min(r[0] for r in records) + warmup_s
    kept = [r for r in records if r[0] >= start]
    span = max(r[0] for r in kept) - min(r[0] for r in kept)
    ms = [r[1] for r in kept if r[2]]
    return {
        "p50_ms": round(pct(ms, 50), 3),
        "p99_ms": round(pct(ms, 99), 3),
        "throughput_rps": round(len(ms) / span, 1) if span > 0 else 0.0,
        "failed": sum(1 for r in kept if not r[2]),
        "requests": len(kept),
    }


def batching(url: str) -> dict:
    """The endpoint's batching counters for digits v1, from ``GET /ready``."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("GET", "/ready")
    loaded = json.loads(conn.getresponse().read())["loaded"]
    conn.close()
    return next(e for e in loaded if e["model"] == "digits" and e["version"] == 1)


def inprocess_p50(model_dir: Path, x: np.ndarray, calls: int) -> float:
    from mlkit.savedmodel import SavedModelRunner

    runner = SavedModelRunner(model_dir)
    instances = [[row.tolist()] for row in x[:200]]
    for inst in instances[:20]:
        runner.predict_instances(inst)
    times = []
    for i in range(calls):
        started = time.perf_counter()
        runner.predict_instances(instances[i % len(instances)])
        times.append((time.perf_counter() - started) * 1000)
    return round(pct(times, 50), 3)


def heavy_phase(work: Path, x: np.ndarray, bodies: list[bytes], env: dict, args) -> dict:
    """The same comparison on a compute-heavier model, where batching has something to save."""
    from mlkit.registry import open_store

    model = build_heavy(work)
    floor = inprocess_p50(model, x, 300)
    home = work / "home-heavy"
    settings = load_settings(home)
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        store.register_version("digits", model)
        store.deploy("digits", 1)
    figures = {}
    for kind, where, path in (
        ("plain", model, "/"),
        ("mlkit", home, "/v1/endpoints/digits:predict"),
    ):
        proc, url = start_server(kind, where, {**env, "MLKIT_HOME": str(home)})
        try:
            Load(url, path, bodies[:5], 1).run(1.0)
            before = batching(url) if kind == "mlkit" else None
            figures[kind] = measure(proc, url, path, bodies, args)
            if before is not None:
                after = batching(url)
                calls = after["model_calls"] - before["model_calls"]
                figures[kind]["mean_batch"] = round(
                    (after["requests"] - before["requests"]) / calls, 2
                )
        finally:
            proc.kill()
            proc.wait()
    print(f"heavy model, in-process p50 {floor} ms", flush=True)
    print(f"heavy model, plain server: {figures['plain']}", flush=True)
    print(f"heavy model, mlkit endpoint: {figures['mlkit']}", flush=True)
    mlkit, plain = figures["mlkit"], figures["plain"]
    return {
        "heavy_inprocess_p50_ms": floor,
        "heavy_p50_ms": mlkit["p50_ms"],
        "heavy_p99_ms": mlkit["p99_ms"],
        "heavy_throughput_rps": mlkit["throughput_rps"],
        "heavy_mean_batch": mlkit["mean_batch"],
        "heavy_server_cpu_ms_per_request": mlkit["server_cpu_ms_per_request"],
        "heavy_plain_server_cpu_ms_per_request": plain["server_cpu_ms_per_request"],
        "heavy_plain_server_p50_ms": plain["p50_ms"],
        "heavy_plain_server_p99_ms": plain["p99_ms"],
        "heavy_plain_server_throughput_rps": plain["throughput_rps"],
        "heavy_throughput_vs_plain": round(mlkit["throughput_rps"] / plain["throughput_rps"], 2),
        "failed_requests_heavy": mlkit["failed"] + plain["failed"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--swaps", type=int, default=20)
    parser.add_argument("--swap-every", type=float, default=0.3)
    args = parser.parse_args()
    quiet_tensorflow()

    work = Path(tempfile.mkdtemp(prefix="mlkit-bench-serving-"))
    print(f"building two digits SavedModels in {work}", flush=True)
    (v1, v2), x, _ = build(work)
    bodies = [json.dumps({"instances": [row.tolist()]}).encode() for row in x[:200]]

    # -- 1. the floor: the SavedModel in this process -----------------------------------------
    from mlkit.savedmodel import SavedModelRunner

    runner = SavedModelRunner(v1)
    instances = [[row.tolist()] for row in x[:200]]
    for inst in instances[:20]:
        runner.predict_instances(inst)
    floor = []
    for i in range(1000):
        started = time.perf_counter()
        runner.predict_instances(instances[i % len(instances)])
        floor.append((time.perf_counter() - started) * 1000)
    inprocess = {"p50_ms": round(pct(floor, 50), 3), "p99_ms": round(pct(floor, 99), 3)}
    print(f"in-process SavedModel: {inprocess}", flush=True)

    # -- registry: both versions registered, version 1 deployed -------------------------------
    from mlkit.registry import open_store
    from mlkit.serving.endpoints import LocalEndpoint

    home = work / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLKIT_")}
    env.update(MLKIT_HOME=str(home), TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    settings = load_settings(home)
    store = open_store(settings.registry_url, settings.artifacts_dir)
    store.register_version("digits", v1)
    store.register_version("digits", v2)
    target = LocalEndpoint(store)
    target.deploy("digits", 1)

    # -- 2. the plain server ------------------------------------------------------------------
    proc, url = start_server("plain", v1, env)
    try:
        Load(url, "/", bodies[:5], 1).run(1.0)  # warm up
        plain = measure(proc, url, "/", bodies, args)
    finally:
        proc.kill()
        proc.wait()
    print(f"plain one-request-one-call server: {plain}", flush=True)

    # -- 3. the mlkit endpoint, then 4. swaps under load ---------------------------------------
    proc, url = start_server("mlkit", home, env)
    path = "/v1/endpoints/digits:predict"
    try:
        Load(url, path, bodies[:5], 1).run(1.0)  # loads version 1 (first request waits)
        before = batching(url)
        endpoint = measure(proc, url, path, bodies, args)
        after = batching(url)
        calls = after["model_calls"] - before["model_calls"]
        endpoint["mean_batch"] = round((after["requests"] - before["requests"]) / calls, 2)
        print(f"mlkit endpoint: {endpoint}", flush=True)

        load = Load(url, path, bodies, args.clients)
        swaps: list[tuple[float, int]] = []

        def swap_loop() -> None:
            time.sleep(1.0)
            for i in range(args.swaps):
                promoted = 2 if i % 2 == 0 else 1
                if promoted == 2:
                    target.deploy("digits", 2)
                else:
                    target.rollback("digits")
                swaps.append((time.perf_counter(), promoted))
                time.sleep(args.swap_every)
            time.sleep(1.0)

        records = load.run(0, during=swap_loop)
    finally:
        proc.kill()
        proc.wait()
    print("promotions and rollbacks under load:", flush=True)
    start = swaps[0][0] - 1.0
    for n, (at, promoted) in enumerate(swaps):
        until = swaps[n + 1][0] if n + 1 < len(swaps) else at + args.swap_every + 1.0
        window = [r for r in records if at <= r[0] < until]
        first = next((r[0] for r in window if r[2] and r[3] == str(promoted)), None)
        took = f"{(first - at) * 1000:7.1f} ms" if first else "    n/a"
        print(
            f"  swap {n + 1:2d} at {at - start:6.2f} s: "
            f"{'promote to' if promoted == 2 else 'roll back to'} v{promoted}, "
            f"first answer from v{promoted} after {took}, "
            f"{len(window):4d} requests, {sum(1 for r in window if not r[2])} failed",
            flush=True,
        )
    heavy = heavy_phase(work, x, bodies, env, args)
    during = [r for r in records if swaps[0][0] <= r[0] <= swaps[-1][0] + args.swap_every]
    failed_during = sum(1 for r in records if not r[2])
    served = sorted({r[3] for r in during if r[2]})

    figures = {
        "p50_ms": endpoint["p50_ms"],
        "p99_ms": endpoint["p99_ms"],
        "throughput_rps": endpoint["throughput_rps"],
        "inprocess_p50_ms": inprocess["p50_ms"],
        "inprocess_p99_ms": inprocess["p99_ms"],
        "plain_server_p50_ms": plain["p50_ms"],
        "plain_server_p99_ms": plain["p99_ms"],
        "plain_server_throughput_rps": plain["throughput_rps"],
        "mean_batch": endpoint["mean_batch"],
        "server_cpu_ms_per_request": endpoint["server_cpu_ms_per_request"],
        "plain_server_cpu_ms_per_request": plain["server_cpu_ms_per_request"],
        "throughput_vs_plain": round(endpoint["throughput_rps"] / plain["throughput_rps"], 2),
        "p50_vs_inprocess": round(endpoint["p50_ms"] / inprocess["p50_ms"], 1),
        "p50_vs_plain": round(endpoint["p50_ms"] / plain["p50_ms"], 2),
        "failed_requests": endpoint["failed"] + plain["failed"],
        "swaps": len(swaps),
        "requests_during_swaps": len(during),
        "failed_requests_during_swaps": failed_during,
        "versions_served_during_swaps": served,
        **heavy,
        "clients": args.clients,
        "seconds_per_phase": args.seconds,
        "cpus": os.cpu_count(),
        "load_1min": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
