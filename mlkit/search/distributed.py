"""Distributed estimator training through ``TF_CONFIG``: chief, workers, parameter servers.

Vertex AI (and any cluster manager) starts one process per task with ``TF_CONFIG`` describing the
cluster; ``tf.estimator.train_and_evaluate`` then makes the parameter servers serve variables,
the workers train (AdaNet replicates every candidate on every worker) and the chief also does
AdaNet's bookkeeping between iterations and writes checkpoints. ``launch_local_cluster`` shows it
on one machine: it starts every task as a local process on loopback ports.

    python -m mlkit.search.distributed --workers 2 --out /tmp/cluster
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def cluster_spec(workers: int, ps: int = 1) -> dict[str, list[str]]:
    ports = _free_ports(1 + workers + ps)
    hosts = [f"127.0.0.1:{p}" for p in ports]
    cluster = {"chief": hosts[:1], "ps": hosts[1 + workers :]}
    if workers:
        cluster["worker"] = hosts[1 : 1 + workers]
    return cluster


def task_main(data_file: Path, spec_json: str, model_dir: Path, steps_file: Path) -> None:
    """One task of the cluster (its role from ``TF_CONFIG``)."""
    from mlkit.experiment import SearchSpec
    from mlkit.search.compat import apply

    apply()
    import tensorflow as tf

    from mlkit.search.estimators import build_estimator
    from mlkit.search.inputs import input_fn
    from mlkit.search.runner import labels_for

    spec = SearchSpec.model_validate_json(spec_json)
    arrays = np.load(data_file)
    train = {"x": arrays["train_x"]}
    evaluation = input_fn(
        {"x": arrays["eval_x"]},
        labels_for(spec, arrays["eval_y"]),
        batch_size=256,
        training=False,
    )
    config = tf.estimator.RunConfig(  # reads TF_CONFIG
        model_dir=str(model_dir),
        tf_random_seed=spec.seed,
        save_checkpoints_steps=spec.steps_per_iteration,
        log_step_count_steps=None,
    )
    estimator = build_estimator(
        spec, train, int(arrays["n_classes"]), model_dir, evaluation, config=config
    )
    counter = _StepCounter()
    train_spec = tf.estimator.TrainSpec(
        input_fn(
            train,
            labels_for(spec, arrays["train_y"]),
            batch_size=spec.batch_size,
            training=True,
            seed=spec.seed + config.task_id,
        ),
        max_steps=spec.total_steps,
        hooks=[counter],
    )
    eval_spec = tf.estimator.EvalSpec(evaluation, steps=None, start_delay_secs=0, throttle_secs=1)
    tf.estimator.train_and_evaluate(estimator, train_spec, eval_spec)
    result: dict[str, Any] = {"task": config.task_type, "steps_run_here": counter.steps}
    if config.is_chief:
        metrics = estimator.evaluate(evaluation, name="final")
        result["accuracy"] = float(metrics["accuracy"])
        result["global_step"] = int(metrics["global_step"])
    steps_file.write_text(json.dumps(result))


class _StepCounter:
    """Counts the training steps this process ran (a SessionRunHook, built lazily)."""

    def __new__(cls):
        import tensorflow as tf

        class Counter(tf.compat.v1.train.SessionRunHook):
            steps = 0

            def after_run(self, run_context, run_values):
                type(self).steps += 1

        return Counter()


def launch_local_cluster(
    out: Path, *, workers: int = 1, spec_overrides: dict[str, Any] | None = None, timeout=600
) -> dict[str, Any]:
    """Start a chief, ``workers`` workers and one parameter server as local processes on the
    iris data; wait for the chief and the workers; stop the parameter server. Returns each
    task's result (steps it ran, and the chief's accuracy and global step)."""
    from mlkit.data.bundled import bundled_table
    from mlkit.experiment import SearchSpec

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = bundled_table("iris")
    x = np.stack(
        [table[c].to_numpy() for c in table.column_names if c not in ("id", "label")], axis=1
    ).astype(np.float32)
    y = table["label"].to_numpy()
    order = np.random.default_rng(0).permutation(len(y))
    cut = int(0.7 * len(y))
    np.savez(
        out / "data.npz",
        train_x=x[order[:cut]],
        train_y=y[order[:cut]],
        eval_x=x[order[cut:]],
        eval_y=y[order[cut:]],
        n_classes=3,
    )
    spec = SearchSpec(
        **{
            "generator": ["dnn"],
            "layer_size": 16,
            "iterations": 2,
            "steps_per_iteration": 100,
            "batch_size": 16,
            "learning_rate": 0.01,
            **(spec_overrides or {}),
        }
    )
    cluster = cluster_spec(workers)
    processes: dict[str, subprocess.Popen] = {}
    logs = {}
    for task_type, hosts in cluster.items():
        for index in range(len(hosts)):
            name = f"{task_type}{index}"
            env = {
                **os.environ,
                "TF_CONFIG": json.dumps(
                    {"cluster": cluster, "task": {"type": task_type, "index": index}}
                ),
                "TF_CPP_MIN_LOG_LEVEL": "2",
            }
            logs[name] = open(out / f"{name}.log", "w")  # noqa: SIM115 - closed below
            processes[name] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "mlkit.search.distributed",
                    "--task",
                    "--data",
                    str(out / "data.npz"),
                    "--spec",
                    spec.model_dump_json(),
                    "--model-dir",
                    str(out / "model"),
                    "--result",
                    str(out / f"{name}.json"),
                ],
                env=env,
                stdout=logs[name],
                stderr=subprocess.STDOUT,
            )
    deadline = time.monotonic() + timeout
    try:
        for name, process in processes.items():
            if name.startswith("ps"):
                continue
            process.wait(timeout=max(1.0, deadline - time.monotonic()))
            if process.returncode != 0:
                raise RuntimeError(
                    f"task {name} failed (exit {process.returncode}); see {name}.log"
                )
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.terminate()  # parameter servers serve until stopped
                process.wait(timeout=30)
        for f in logs.values():
            f.close()
    results = {
        name: json.loads((out / f"{name}.json").read_text())
        for name in processes
        if (out / f"{name}.json").is_file()
    }
    return {"cluster": cluster, "results": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", action="store_true", help="run one task (TF_CONFIG set)")
    parser.add_argument("--data")
    parser.add_argument("--spec")
    parser.add_argument("--model-dir")
    parser.add_argument("--result")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", default="distributed-demo")
    args = parser.parse_args(argv)
    if args.task:
        task_main(Path(args.data), args.spec, Path(args.model_dir), Path(args.result))
        return 0
    summary = launch_local_cluster(Path(args.out), workers=args.workers)
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
