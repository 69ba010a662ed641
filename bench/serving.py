"""Serving benchmark: the local endpoint under 1, 16 and 64 clients against three baselines
measured in the same run, promotions/rollbacks under load, and cold starts.

1. **in-process floor**: the SavedModel called directly in this process (one instance per call;
   with 16 and 64 threads calling it at once);
2. **plain server**: a one-request-one-call HTTP server on the standard library (own process);
3. **plain server on the endpoint's stack**: the same, on Starlette/uvicorn (own process);
4. **mlkit endpoint**: ``mlkit serve``'s registry-driven endpoint with adaptive batching (own
   process); every server gets the same load: N keep-alive connections sending one instance
   each for ``--seconds``;
5. **swaps**: 20 promotions and rollbacks recorded in the registry while 16 clients load it;
6. **heavy model**: the 16-client comparison on a compute-heavier model;
7. **cold start**: seconds from starting ``mlkit serve`` to its first answer, and from the first
   request after an idle unload (scale from zero) to its answer.

The last line printed is one JSON object of the figures. Run with ``make bench-serving``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
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


def inprocess(runner, instances: list, clients: int, seconds: float) -> dict:
    """The floor: ``clients`` threads calling the SavedModel directly, one instance per call."""
    if clients == 1:
        times = []
        for i in range(1000):
            started = time.perf_counter()
            runner.predict_instances(instances[i % len(instances)])
            times.append((time.perf_counter() - started) * 1000)
        return {"p50_ms": round(pct(times, 50), 3), "p99_ms": round(pct(times, 99), 3)}
    records: list[tuple[float, float, bool, str]] = []
    stop = threading.Event()
    lock = threading.Lock()

    def call(seed: int) -> None:
        i = seed
        while not stop.is_set():
            started = time.perf_counter()
            runner.predict_instances(instances[i % len(instances)])
            ended = time.perf_counter()
            i += 1
            with lock:
                records.append((ended, (ended - started) * 1000, True, ""))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(60)
    return summarize(records, warmup_s=0.5)


def server_phase(kind: str, where: Path, path: str, bodies, env: dict, args) -> dict:
    """One server under 1, 16 and 64 clients: {clients: figures}."""
    proc, url = start_server(kind, where, env)
    out: dict[int, dict] = {}
    try:
        Load(url, path, bodies[:5], 1).run(1.0)  # warm up (the endpoint loads the version)
        for clients in args.client_counts:
            before = batching(url) if kind == "mlkit" else None
            sub = argparse.Namespace(clients=clients, seconds=args.seconds)
            out[clients] = measure(proc, url, path, bodies, sub)
            if before is not None:
                after = batching(url)
                calls = max(1, after["model_calls"] - before["model_calls"])
                out[clients]["mean_batch"] = round(
                    (after["requests"] - before["requests"]) / calls, 2
                )
            print(f"  {kind:13s} {clients:3d} clients: {out[clients]}", flush=True)
    finally:
        proc.kill()
        proc.wait()
    return out


def swaps_phase(home: Path, target, bodies, env: dict, args) -> dict:
    """``--swaps`` promotions and rollbacks while 16 clients load the endpoint."""
    proc, url = start_server("mlkit", home, env)
    path = "/v1/endpoints/digits:predict"
    try:
        Load(url, path, bodies[:5], 1).run(1.0)
        load = Load(url, path, bodies, 16)
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
    print("promotions and rollbacks under load (16 clients):", flush=True)
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
    during = [r for r in records if swaps[0][0] <= r[0] <= swaps[-1][0] + args.swap_every]
    return {
        "swaps": len(swaps),
        "requests_during_swaps": len(during),
        "failed_requests_during_swaps": sum(1 for r in records if not r[2]),
        "versions_served_during_swaps": sorted({r[3] for r in during if r[2]}),
    }


def _post(url: str, body: bytes, timeout: float = 120) -> int:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request(
            "POST", "/v1/models/digits:predict", body, {"Content-Type": "application/json"}
        )
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _state(url: str) -> str:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("GET", "/v1/models/digits")
    state = json.loads(conn.getresponse().read())["model_version_status"][0]["state"]
    conn.close()
    return state


def cold_start(home: Path, body: bytes, env: dict, idle_unload_s: float = 1.0) -> dict:
    """Seconds from starting ``mlkit serve`` to its first answer (process start, imports,
    TensorFlow, the version's check and load), and from the first request after an idle
    unload to its answer (scale from zero)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlkit", "serve", "--port", "0",
         "--idle-unload", str(idle_unload_s)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    try:
        line = proc.stdout.readline()
        url = "http://" + line.split("http://", 1)[1].split(" ", 1)[0]
        status = _post(url, body)
        first = time.perf_counter() - started
        deadline = time.monotonic() + 60
        while _state(url) != "START" and time.monotonic() < deadline:
            time.sleep(0.1)
        unloaded = time.perf_counter()
        again = _post(url, body)
        from_zero = time.perf_counter() - unloaded
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    ok = status == 200 and again == 200 and proc.returncode == 0
    print(f"cold start: first answer {first:.2f} s after `mlkit serve` started; after an "
          f"idle unload {from_zero:.3f} s (exit {proc.returncode})", flush=True)  # fmt: skip
    return {"cold_start_s": round(first, 3), "scale_from_zero_s": round(from_zero, 3),
            "cold_start_ok": ok}  # fmt: skip


def table(rows: dict[str, dict[int, dict]]) -> None:
    print(f"{'':16s}{'clients':>8s}{'p50 ms':>10s}{'p99 ms':>10s}{'req/s':>10s}{'batch':>7s}")
    for name, by_clients in rows.items():
        for clients, f in by_clients.items():
            rps = f.get("throughput_rps", "")
            print(f"{name:16s}{clients:8d}{f['p50_ms']:10.3f}{f['p99_ms']:10.3f}"
                  f"{rps!s:>10}{f.get('mean_batch', '')!s:>7}")  # fmt: skip


def heavy_phase(work: Path, x: np.ndarray, bodies: list[bytes], env: dict, args) -> dict:
    """The 16-client comparison on a compute-heavier model, where batching has more to save."""
    from mlkit.registry import open_store
    from mlkit.savedmodel import SavedModelRunner

    model = build_heavy(work)
    floor = inprocess(SavedModelRunner(model), [[row.tolist()] for row in x[:200]], 1, 0)
    home = work / "home-heavy"
    settings = load_settings(home)
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        store.register_version("digits", model)
        store.deploy("digits", 1)
    heavy_args = argparse.Namespace(seconds=args.seconds, client_counts=[16])
    figures = {}
    print("heavy model:", flush=True)
    for kind, where, path in (
        ("plain", model, "/"),
        ("plain-uvicorn", model, "/"),
        ("mlkit", home, "/v1/endpoints/digits:predict"),
    ):
        runs = server_phase(kind, where, path, bodies, {**env, "MLKIT_HOME": str(home)}, heavy_args)
        figures[kind] = runs[16]
    mlkit, plain = (
        figures["mlkit"],
        max((figures["plain"], figures["plain-uvicorn"]), key=lambda f: f["throughput_rps"]),
    )
    return {
        "heavy_inprocess_p50_ms": floor["p50_ms"],
        "heavy_p50_ms": mlkit["p50_ms"],
        "heavy_p99_ms": mlkit["p99_ms"],
        "heavy_p99_over_p50": round(mlkit["p99_ms"] / mlkit["p50_ms"], 2),
        "heavy_server_cpu_ms_per_request": mlkit["server_cpu_ms_per_request"],
        "heavy_plain_server_cpu_ms_per_request": plain["server_cpu_ms_per_request"],
        "heavy_throughput_rps": mlkit["throughput_rps"],
        "heavy_mean_batch": mlkit.get("mean_batch"),
        "heavy_plain_server_p50_ms": plain["p50_ms"],
        "heavy_plain_server_throughput_rps": plain["throughput_rps"],
        "heavy_throughput_vs_plain": round(mlkit["throughput_rps"] / plain["throughput_rps"], 2),
        "failed_requests_heavy": sum(f["failed"] for f in figures.values()),
    }


PARTS = ("servers", "swaps", "heavy", "cold")


def registry(work: Path, v1: Path, v2: Path):
    """A project home under ``work`` with both digits versions registered and version 1
    deployed on the local endpoint; its home, the servers' environment and the endpoint."""
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
    return home, env, target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="per load phase")
    parser.add_argument("--clients", default="1,16,64", help="client counts, comma-separated")
    parser.add_argument("--swaps", type=int, default=20)
    parser.add_argument("--swap-every", type=float, default=0.3)
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help=f"what to run, comma-separated (default all: {','.join(PARTS)}); the full JSON "
        "line needs all of them, a subset prints its own figures (for quick iterations)",
    )
    args = parser.parse_args()
    args.client_counts = [int(c) for c in args.clients.split(",")]
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part {unknown[0]!r}: expected some of {', '.join(PARTS)}")
    quiet_tensorflow()

    work = Path(tempfile.mkdtemp(prefix="mlkit-bench-serving-"))
    print(f"building two digits SavedModels in {work}", flush=True)
    (v1, v2), x, _ = build(work)
    bodies = [json.dumps({"instances": [row.tolist()]}).encode() for row in x[:200]]
    if parts != list(PARTS):
        return partial(parts, work, v1, v2, x, bodies, args)

    # -- 1. the floor: the SavedModel in this process -----------------------------------------
    from mlkit.savedmodel import SavedModelRunner

    runner = SavedModelRunner(v1)
    instances = [[row.tolist()] for row in x[:200]]
    for inst in instances[:20]:
        runner.predict_instances(inst)
    floor = {c: inprocess(runner, instances, c, args.seconds) for c in args.client_counts}
    print(f"  {'in-process':13s}: {floor}", flush=True)

    # -- registry: both versions registered, version 1 deployed -------------------------------
    home, env, target = registry(work, v1, v2)

    # -- 2-4. the servers under 1, 16, 64 clients ----------------------------------------------
    rows = {"in-process": floor}
    rows["plain (stdlib)"] = server_phase("plain", v1, "/", bodies, env, args)
    rows["plain (uvicorn)"] = server_phase("plain-uvicorn", v1, "/", bodies, env, args)
    rows["mlkit endpoint"] = server_phase(
        "mlkit", home, "/v1/endpoints/digits:predict", bodies, env, args
    )
    # -- 5. swaps, 6. heavy model, 7. cold start ----------------------------------------------
    swapped = swaps_phase(home, target, bodies, env, args)
    heavy = heavy_phase(work, x, bodies, env, args)
    cold = cold_start(home, bodies[0], env)
    table(rows)

    many = 16 if 16 in args.client_counts else max(args.client_counts)
    one = min(args.client_counts)
    endpoint, plains = rows["mlkit endpoint"], (rows["plain (stdlib)"], rows["plain (uvicorn)"])
    best_plain = max(p[many]["throughput_rps"] for p in plains)
    figures = {
        "single_client_p50_ms": endpoint[one]["p50_ms"],
        "single_client_p99_ms": endpoint[one]["p99_ms"],
        "inprocess_p50_ms": floor[one]["p50_ms"],
        "single_client_over_inprocess_ms": round(endpoint[one]["p50_ms"] - floor[one]["p50_ms"], 3),
        "throughput_rps": endpoint[many]["throughput_rps"],
        "p50_ms": endpoint[many]["p50_ms"],
        "p99_ms": endpoint[many]["p99_ms"],
        "p99_over_p50": round(endpoint[many]["p99_ms"] / endpoint[many]["p50_ms"], 2),
        "plain_server_throughput_rps": best_plain,
        "plain_stdlib_throughput_rps": plains[0][many]["throughput_rps"],
        "plain_uvicorn_throughput_rps": plains[1][many]["throughput_rps"],
        "throughput_vs_plain": round(endpoint[many]["throughput_rps"] / best_plain, 2),
        "mean_batch": endpoint[many].get("mean_batch"),
        "server_cpu_ms_per_request": endpoint[many]["server_cpu_ms_per_request"],
        "plain_server_cpu_ms_per_request": plains[0][many]["server_cpu_ms_per_request"],
        "inprocess_throughput_rps": floor[many].get("throughput_rps"),
        **{
            f"clients_{c}_{k}": v
            for c in args.client_counts
            if c not in (one, many)
            for k, v in (
                ("rps", endpoint[c]["throughput_rps"]),
                ("p50_ms", endpoint[c]["p50_ms"]),
                ("p99_ms", endpoint[c]["p99_ms"]),
                ("plain_rps", max(p[c]["throughput_rps"] for p in plains)),
            )
        },  # fmt: skip
        "failed_requests": sum(
            f["failed"] for r in rows.values() for f in r.values() if "failed" in f
        ),
        **swapped,
        **heavy,
        **cold,
        "clients": args.client_counts,
        "seconds_per_phase": args.seconds,
        "cpus": os.cpu_count(),
        "load_1min": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(figures))


def partial(parts: list[str], work: Path, v1: Path, v2: Path, x, bodies, args) -> None:
    """Some of the parts (``--parts``): their own figures on the last line, with the load."""
    home, env, target = registry(work, v1, v2)
    figures: dict = {"parts": parts}
    if "servers" in parts:
        rows = {
            "plain (stdlib)": server_phase("plain", v1, "/", bodies, env, args),
            "plain (uvicorn)": server_phase("plain-uvicorn", v1, "/", bodies, env, args),
            "mlkit endpoint": server_phase(
                "mlkit", home, "/v1/endpoints/digits:predict", bodies, env, args
            ),
        }
        table(rows)
        many = 16 if 16 in args.client_counts else max(args.client_counts)
        endpoint = rows["mlkit endpoint"][many]
        best = max(rows[k][many]["throughput_rps"] for k in ("plain (stdlib)", "plain (uvicorn)"))
        figures.update(
            throughput_rps=endpoint["throughput_rps"],
            plain_server_throughput_rps=best,
            throughput_vs_plain=round(endpoint["throughput_rps"] / best, 2),
            p99_over_p50=round(endpoint["p99_ms"] / endpoint["p50_ms"], 2),
            mean_batch=endpoint.get("mean_batch"),
        )
    if "swaps" in parts:
        figures.update(swaps_phase(home, target, bodies, env, args))
    if "heavy" in parts:
        figures.update(heavy_phase(work, x, bodies, env, args))
    if "cold" in parts:
        figures.update(cold_start(home, bodies[0], env))
    figures.update(cpus=os.cpu_count(), load_1min=round(os.getloadavg()[0], 2))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
