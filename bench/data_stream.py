"""make bench-data-stream: train on a table larger than a memory cap, streamed into tf.data.

A local-warehouse table of 1,000,000 synthetic MNIST-like rows (28x28 pixels stored as BYTES) is
about 3 GiB once decoded to float32: more than the cap this bench sets on the training process
(1.5 GiB resident, TensorFlow included). The training process streams record batches from DuckDB,
splits them by key (FARM_FINGERPRINT buckets), decodes them batch by batch and feeds a small Keras
classifier through ``mlkit.data.stream.tf_dataset``; a watchdog thread samples its resident memory
every 20 ms and kills it (exit 137) the moment it passes the cap. The kernel's high-water mark
(VmHWM) is reported at the end.

The last line printed is one JSON object of figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CAP_BYTES = 1536 * 2**20
PIXELS = 28 * 28


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(field)


def _watchdog(cap: int, peak: list[int]) -> None:
    while True:
        rss = _status("VmRSS")
        peak[0] = max(peak[0], rss)
        if rss > cap:
            print(json.dumps({"killed": True, "rss": rss, "cap": cap}), flush=True)
            os._exit(137)
        time.sleep(0.02)


def train(path: str, rows: int, cap: int, batch_size: int, epochs: int) -> dict:
    peak = [0]
    threading.Thread(target=_watchdog, args=(cap, peak), daemon=True).start()
    from mlkit.config import quiet_tensorflow

    quiet_tensorflow()
    import tensorflow as tf

    from mlkit.data import FeatureSpec, LocalWarehouse
    from mlkit.data.stream import tf_dataset

    tf.random.set_seed(0)
    warehouse = LocalWarehouse(path)
    features = [FeatureSpec("pixels", (PIXELS,))]

    def split(name: str, shuffle: int = 0):
        return tf_dataset(
            warehouse,
            "big",
            label="label",
            features=features,
            key="id",
            split=name,
            eval_fraction=0.0,
            test_fraction=0.05,
            batch_size=batch_size,
            n_classes=10,
            shuffle_buffer=shuffle,
            batch_rows=8192,
        ).map(lambda x, y: (x["pixels"], y))

    model = tf.keras.Sequential(
        [
            tf.keras.layers.Input((PIXELS,)),
            tf.keras.layers.Rescaling(1 / 255),
            tf.keras.layers.Dense(64, activation="relu"),
            tf.keras.layers.Dense(10),
        ]
    )
    model.compile(
        optimizer=tf.keras.optimizers.Adam(1e-3),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    after_setup = _status("VmRSS")
    started = time.perf_counter()
    history = model.fit(split("train", shuffle=20_000), epochs=epochs, verbose=2)
    train_seconds = time.perf_counter() - started
    loss, accuracy = model.evaluate(split("test"), verbose=0)
    return {
        "killed": False,
        "train_seconds": round(train_seconds, 1),
        "train_rows_per_s": round(rows * 0.95 * epochs / train_seconds),
        "train_accuracy": round(float(history.history["accuracy"][-1]), 4),
        "test_accuracy": round(float(accuracy), 4),
        "test_loss": round(float(loss), 4),
        "rss_after_setup": after_setup,
        "peak_rss_sampled": peak[0],
        "vm_hwm": _status("VmHWM"),
    }


def make_table(path: Path, rows: int) -> float:
    import numpy as np
    import pyarrow as pa
    from rich.progress import Progress

    from bench.data import synthetic_mnist
    from mlkit.data import LocalWarehouse
    from mlkit.data.ingest import pixels_column

    warehouse = LocalWarehouse(path)
    chunk = 100_000
    started = time.perf_counter()
    with Progress(transient=True) as progress:
        task = progress.add_task("writing the table", total=rows)
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            images, labels = synthetic_mnist(n, seed=start)
            table = pa.table(
                {
                    "id": pa.array(np.arange(start, start + n, dtype=np.int64)),
                    "label": pa.array(labels),
                    "pixels": pixels_column(images, "bytes"),
                }
            )
            warehouse.write_table("big", table, replace=start == 0)
            progress.advance(task, n)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cap-mib", type=int, default=CAP_BYTES // 2**20)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--train", metavar="PATH")
    args = parser.parse_args()
    cap = args.cap_mib * 2**20
    if args.train:
        result = train(args.train, args.rows, cap, args.batch_size, args.epochs)
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory() as home:
        path = Path(home) / "warehouse.duckdb"
        write_seconds = make_table(path, args.rows)
        decoded = args.rows * PIXELS * 4
        stored = path.stat().st_size
        print(
            f"table 'big': {args.rows:,} rows, {stored / 2**20:,.0f} MiB on disk, "
            f"{decoded / 2**30:.2f} GiB decoded (float32); training under a "
            f"{cap / 2**30:.2f} GiB cap",
            flush=True,
        )
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--train",
                str(path),
                "--rows",
                str(args.rows),
                "--cap-mib",
                str(args.cap_mib),
                "--batch-size",
                str(args.batch_size),
                "--epochs",
                str(args.epochs),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        sys.stderr.write(out.stderr[-2000:])
        result = json.loads(out.stdout.strip().splitlines()[-1])
        if out.returncode != 0 or result.get("killed"):
            raise SystemExit(f"the training process went over the cap or failed: {result}")
        peak = max(result["vm_hwm"], result["peak_rss_sampled"])
        figures = {
            "rows": args.rows,
            "decoded_gib": round(decoded / 2**30, 2),
            "cap_gib": round(cap / 2**30, 2),
            "peak_rss_gib": round(peak / 2**30, 2),
            "peak_over_decoded": round(peak / decoded, 3),
            "write_seconds": round(write_seconds, 1),
            **{k: v for k, v in result.items() if k not in ("killed",)},
        }
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
