"""Per-call cost of the serving bench's heavy model in process, by rows per call.

``python bench/serving_percall.py [--threads N] [--rows 1,4,8,16,32,64] [--busy-thread]``: builds
the heavy digits SavedModel (``bench/serving_models.py``), then calls its serving signature for
``--seconds`` at each batch size and prints wall and CPU milliseconds per call and rows per
second. ``--threads`` sets TensorFlow's intra- and inter-op threads (default: TensorFlow's own);
``--busy-thread`` runs a pure-Python thread beside the calls, as the endpoint's event loop is
beside its batcher, to show what waiting for the GIL adds. docs/serving.md has the figures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.serving_models import build_heavy, digits  # noqa: E402
from mlkit.config import quiet_tensorflow  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=0, help="0: TensorFlow's default")
    parser.add_argument("--rows", default="1,2,4,8,16,32,64")
    parser.add_argument("--seconds", type=float, default=1.0, help="per batch size")
    parser.add_argument("--busy-thread", action="store_true")
    args = parser.parse_args()
    quiet_tensorflow()
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from mlkit.savedmodel import SavedModelRunner

    runner = SavedModelRunner(build_heavy(Path(tempfile.mkdtemp(prefix="mlkit-percall-"))))
    x, _ = digits()
    stop = threading.Event()
    if args.busy_thread:

        def busy() -> None:
            while not stop.is_set():
                sum(range(200))

        threading.Thread(target=busy, daemon=True).start()
    threads = args.threads or "default"
    for rows in (int(r) for r in args.rows.split(",")):
        features = {"pixels": x[:rows].copy()}
        for _ in range(10):
            runner.predict_arrays(features)
        calls, started, cpu = 0, time.perf_counter(), time.process_time()
        while time.perf_counter() - started < args.seconds:
            runner.predict_arrays(features)
            calls += 1
        wall = time.perf_counter() - started
        used = time.process_time() - cpu
        print(f"threads {threads} busy {args.busy_thread} rows {rows:3d}: "
              f"{wall / calls * 1000:7.3f} ms/call wall, {used / calls * 1000:7.3f} ms CPU, "
              f"{rows * calls / wall:6.0f} rows/s", flush=True)  # fmt: skip
    stop.set()


if __name__ == "__main__":
    main()
