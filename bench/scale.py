"""make bench-scale: what leaning on the engines buys, in one run.

(a) Statistics of an N-row table (default 1,000,000: a float column with missing values, an integer
    column, an ARRAY<INT64> of 4 values per row, a label), on the local warehouse (DuckDB) and on
    BigQuery (the bqemulator on loopback): pushed down into the warehouse
    (:func:`mlkit.data.stats_sql.pushdown_stats`, two SQL queries) against the streamed pass
    (:func:`mlkit.data.stats.relation_stats`, every row through this process, twice). Seconds, and
    table rows transferred to the client (counted at ``iter_batches``).
(b) Streamed training (``[data] stream = true``, digits) by ``mlkit train`` in one process against a
    ``TF_CONFIG`` cluster of a chief, two workers and a parameter server on this machine
    (``mlkit.workflows.launch.local_cluster``), the same experiment and the same wall-clock budget:
    examples/s (global steps x batch size / seconds of training) and each process's peak resident
    memory (``ru_maxrss``).
(c) Batch prediction of an N-row local table by ``mlkit predict NAME --table T --output P``
    (read, decode, predict, write) against ``SavedModelRunner.predict_arrays`` on the same rows
    already in memory, same batch size: rows/s, the medians of three runs of each taken
    alternately, and the median job's seconds per stage (``BatchOutcome.stages``).

The last line printed is one JSON object of figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _table(rows: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    a = rng.normal(10, 2, rows)
    mask = np.zeros(rows, dtype=bool)
    mask[::10] = True
    arr = rng.integers(0, 256, size=(rows, 4))
    offsets = np.arange(0, arr.size + 1, 4, dtype=np.int32)
    return pa.table(
        {
            "id": pa.array(np.arange(rows)),
            "a": pa.array(a, mask=mask),
            "b": pa.array(rng.integers(0, 100, rows)),
            "arr": pa.ListArray.from_arrays(pa.array(offsets), pa.array(arr.reshape(-1))),
            "label": pa.array(rng.integers(0, 10, rows)),
        }
    )


def _counting(warehouse: Any) -> dict[str, int]:
    """Count the table rows the warehouse hands to this process."""
    counter = {"rows": 0}
    original = warehouse.iter_batches

    def iter_batches(*args: Any, **kwargs: Any):
        for batch in original(*args, **kwargs):
            counter["rows"] += batch.num_rows
            yield batch

    warehouse.iter_batches = iter_batches
    return counter


def _stats_case(warehouse: Any, table: str) -> dict[str, Any]:
    from mlkit.data.stats import relation_stats
    from mlkit.data.stats_sql import pushdown_stats

    counter = _counting(warehouse)
    started = time.perf_counter()
    streamed = relation_stats(warehouse, table, label="label", skip=["id"])
    streamed_s = time.perf_counter() - started
    streamed_rows = counter["rows"]
    counter["rows"] = 0
    started = time.perf_counter()
    pushed = pushdown_stats(warehouse, table, label="label", skip=["id"])
    pushed_s = time.perf_counter() - started
    worst = max(
        abs(pushed["features"][n][f] - streamed["features"][n][f])
        / max(abs(streamed["features"][n][f]), 1e-12)
        for n in streamed["features"]
        for f in ("mean", "std", "min", "max")
    )
    return {
        "streamed_s": round(streamed_s, 2),
        "pushdown_s": round(pushed_s, 2),
        "streamed_rows_transferred": streamed_rows,
        "pushdown_rows_transferred": counter["rows"],
        "speedup": round(streamed_s / pushed_s, 2),
        "max_relative_difference": float(f"{worst:.2g}"),
        "histograms_equal": all(
            pushed["features"][n]["histogram"]["counts"]
            == streamed["features"][n]["histogram"]["counts"]
            for n in streamed["features"]
        ),
    }


def bench_stats(rows: int, bq_rows: int) -> dict[str, Any]:
    from mlkit.data.bigquery import BigQueryWarehouse
    from mlkit.data.local import LocalWarehouse
    from tests.bq_emulator import BigQueryEmulator

    out: dict[str, Any] = {"rows": rows, "bigquery_rows": bq_rows}
    with tempfile.TemporaryDirectory() as home:
        local = LocalWarehouse(Path(home) / "w.duckdb")
        local.write_table("big", _table(rows))
        out["local"] = _stats_case(local, "big")
        print("stats local", out["local"], flush=True)
    with BigQueryEmulator() as emulator:
        bq = BigQueryWarehouse(emulator.config(dataset="scale"))
        started = time.perf_counter()
        bq.write_table("big", _table(bq_rows))
        out["bigquery_load_s"] = round(time.perf_counter() - started, 1)
        out["bigquery"] = _stats_case(bq, "big")
        print("stats emulator", out["bigquery"], flush=True)
    return out


def _mlkit(args: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``mlkit ARGS`` as a child; its peak resident memory (MiB) from wait4."""
    child = subprocess.Popen(
        [sys.executable, "-m", "mlkit", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout, stderr = child.communicate()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)
    return done, usage.ru_maxrss / 1024


def bench_cluster(home: Path, seconds: int) -> dict[str, Any]:
    from mlkit.workflows.launch.local_cluster import launch_local_cluster
    from mlkit.workflows.train import checkpoint_step

    env = {**os.environ, "MLKIT_HOME": str(home), "PYTHONPATH": str(ROOT)}
    experiment = ROOT / "experiments" / "digits-stream.toml"
    batch = 64
    budget = ["--iterations", "1", "--steps", "1000000", "--max-seconds", str(seconds)]
    loaded = subprocess.run(
        [sys.executable, "-m", "mlkit", "data", "load", "digits"], env=env, capture_output=True
    )
    assert loaded.returncode == 0, loaded.stderr
    started = time.perf_counter()
    single, single_peak = _mlkit(["train", str(experiment), *budget, "--json"], env)
    single_wall = time.perf_counter() - started
    assert single.returncode == 0, single.stderr[-2000:]
    result = json.loads(single.stdout)
    run_dir = home / "runs" / str(result["run"]["id"])
    single_steps = checkpoint_step(run_dir)
    single_train_s = float(result.get("seconds") or single_wall)
    old = {k: os.environ.get(k) for k in ("MLKIT_HOME", "PYTHONPATH")}
    os.environ.update({"MLKIT_HOME": str(home), "PYTHONPATH": str(ROOT)})
    try:
        started = time.perf_counter()
        summary = launch_local_cluster(
            experiment, home / "cluster", workers=2, ps=1, train_args=budget
        )
        cluster_wall = time.perf_counter() - started
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    tasks = summary["tasks"]
    chief = tasks["chief0"]["result"] or {}
    cluster_steps = checkpoint_step(Path(summary["model_dir"]))
    cluster_train_s = float(chief.get("seconds") or cluster_wall)
    peaks = {
        name: (t["result"] or {}).get("peak_rss_mb")
        for name, t in tasks.items()
        if name.startswith("worker")
    }
    peaks["chief_or_any_child_max"] = round(
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
    )
    single_rate = single_steps * batch / single_train_s
    cluster_rate = cluster_steps * batch / cluster_train_s
    return {
        "budget_s": seconds,
        "single": {
            "steps": single_steps,
            "train_s": round(single_train_s, 1),
            "examples_per_s": round(single_rate, 1),
            "peak_rss_mb": round(single_peak, 1),
        },
        "cluster": {
            "exits": {n: t["exit"] for n, t in tasks.items()},
            "steps": cluster_steps,
            "train_s": round(cluster_train_s, 1),
            "examples_per_s": round(cluster_rate, 1),
            "peak_rss_mb": peaks,
            "shards": {n: (t["result"] or {}).get("shard") for n, t in tasks.items()},
            # rows each worker read before training: 0, it takes the chief's constants
            "rows_read_at_start": {
                n: (t["result"] or {}).get("rows_read_at_start")
                for n, t in tasks.items()
                if n.startswith("worker")
            },
        },
        "ratio": round(cluster_rate / single_rate, 3) if single_rate else None,
    }


def bench_batch_predict(home: Path, rows: int, repeats: int = 3) -> dict[str, Any]:
    os.environ["MLKIT_HOME"] = str(home)
    from mlkit.config import load_settings
    from mlkit.data.decode import decode_column
    from mlkit.data.ingest import pixels_column
    from mlkit.data.local import LocalWarehouse
    from mlkit.registry import open_store
    from mlkit.savedmodel import SavedModelRunner
    from mlkit.workflows.batch_predict import BATCH_ROWS, BatchRequest, batch_predict

    settings = load_settings()
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        registered = any(m.name == "digits" for m in store.list_models())
    if not registered:  # (b) did not run: the DNN (b) registers, trained briefly
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        for args in (
            ["data", "load", "digits"],
            [
                "train",
                str(ROOT / "experiments" / "digits-stream.toml"),
                "--iterations",
                "1",
                "--steps",
                "200",
            ],
        ):
            done = subprocess.run(
                [sys.executable, "-m", "mlkit", *args], env=env, capture_output=True
            )
            assert done.returncode == 0, done.stderr[-2000:]
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 17, size=(rows, 64))
    table = pa.table({"id": np.arange(rows), "pixels": pixels_column(pixels, "string")})
    LocalWarehouse(settings.warehouse_path).write_table("scans", table)
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        path = store.artifact_path(store.resolve("digits"))
    runner = SavedModelRunner(path)
    arrays = {"pixels": decode_column(table.column("pixels"), "pixels", (64,), "scans")}
    runner.predict_arrays({"pixels": arrays["pixels"][:BATCH_ROWS]}, batch_size=BATCH_ROWS)
    inprocess_s, outcomes = [], []
    for _ in range(repeats):  # each side alternately, so both see the machine's same moments
        started = time.perf_counter()
        runner.predict_arrays(arrays, batch_size=BATCH_ROWS)
        inprocess_s.append(time.perf_counter() - started)
        request = BatchRequest("digits", "scans", "scans_pred", replace=True)
        outcomes.append(batch_predict(request, settings))
    outcome = sorted(outcomes, key=lambda o: o.seconds)[len(outcomes) // 2]  # the median job
    inprocess = rows / float(np.median(inprocess_s))
    end_to_end = outcome.written / outcome.seconds
    written = LocalWarehouse(settings.warehouse_path).count_rows("scans_pred")
    return {
        "rows": rows,
        "written": written,
        "repeats": repeats,
        "end_to_end_s": [round(o.seconds, 3) for o in outcomes],
        "inprocess_s": [round(s, 3) for s in inprocess_s],
        "end_to_end_rows_per_s": round(end_to_end, 1),
        "inprocess_rows_per_s": round(inprocess, 1),
        "ratio": round(end_to_end / inprocess, 3),
        "stages_of_median_job": outcome.stages,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000, help="stats table rows (local)")
    parser.add_argument("--bq-rows", type=int, default=1_000_000, help="stats rows (emulator)")
    parser.add_argument("--predict-rows", type=int, default=200_000)
    parser.add_argument(
        "--predict-repeats", type=int, default=3, help="(c): medians of this many runs each"
    )
    parser.add_argument("--train-seconds", type=int, default=90)
    parser.add_argument("--skip", nargs="*", default=[], choices=["stats", "cluster", "predict"])
    parser.add_argument(
        "--home",
        help="MLKIT_HOME to use (and keep) instead of a temporary one: a quick (c) with "
        "--skip stats cluster reuses the digits model registered there",
    )
    args = parser.parse_args()
    figures: dict[str, Any] = {}
    if "stats" not in args.skip:
        figures["stats"] = bench_stats(args.rows, args.bq_rows)
    with tempfile.TemporaryDirectory() as scratch:
        home = args.home or scratch
        if "cluster" not in args.skip:
            figures["cluster"] = bench_cluster(Path(home), args.train_seconds)
            print("cluster", json.dumps(figures["cluster"]), flush=True)
        if "predict" not in args.skip:
            figures["predict"] = bench_batch_predict(
                Path(home), args.predict_rows, args.predict_repeats
            )
            print("predict", json.dumps(figures["predict"]), flush=True)
    stats = figures.get("stats", {})
    last = {
        "stats_rows": stats.get("rows"),
        "stats_bigquery_rows": stats.get("bigquery_rows"),
        "stats_rows_transferred": (stats.get("bigquery") or {}).get("pushdown_rows_transferred"),
        "stats_streamed_rows_transferred": (stats.get("bigquery") or {}).get(
            "streamed_rows_transferred"
        ),
        "stats_speedup": (stats.get("bigquery") or {}).get("speedup"),
        "stats_speedup_local": (stats.get("local") or {}).get("speedup"),
        "distributed_examples_per_s_ratio": (figures.get("cluster") or {}).get("ratio"),
        "batch_predict_rows_per_s": (figures.get("predict") or {}).get("end_to_end_rows_per_s"),
        "batch_predict_vs_inprocess": (figures.get("predict") or {}).get("ratio"),
    }
    print(json.dumps(last))


if __name__ == "__main__":
    main()
