"""``make bench-registry``: registry speed, with MLflow's registry measured in the same run.

1. Register 1,000 versions of one model through the store API (each a small SavedModel-shaped
   directory, copied into the artifact store and hashed, one transaction each) on SQLite, and the
   same 1,000 with MLflow's ``create_model_version`` on SQLite (``bench/registry_mlflow.py``, in an
   isolated uv environment: MLflow's pins clash with TensorFlow's).
2. Register more versions through the API until the model has 10,000.
3. Time ``mlkit models list`` and ``mlkit models versions bench`` as fresh processes (the installed
   ``mlkit`` script): one warm-up run that writes bytecode caches, as any first run does, then the
   median of ``--repeat`` runs. Also timed the same way: a bare ``python -c pass`` and the same
   listing through the full SQLAlchemy store, as baselines. Each listing is checked not to import
   TensorFlow (``python -X importtime``).

A bar chart of the figures goes to ``bench/results/registry.png``. The last line printed is one
JSON object of figures. Timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
MLKIT = VENV_BIN / "mlkit"
UV = ROOT / ".tools" / "bin" / "uv"
MLFLOW_SPEC = "mlflow-skinny==3.17.2"
TARGET_COLD_S = 0.3
PLOT = ROOT / "bench" / "results" / "registry.png"


def make_source(path: Path) -> Path:
    """A directory shaped like a small SavedModel (about 12 KiB)."""
    (path / "variables").mkdir(parents=True)
    (path / "assets").mkdir()
    (path / "saved_model.pb").write_bytes(os.urandom(4096))
    (path / "variables" / "variables.index").write_bytes(os.urandom(256))
    (path / "variables" / "variables.data-00000-of-00001").write_bytes(os.urandom(8192))
    return path


def register(store, source: Path, count: int, label: str) -> float:
    from rich.progress import Progress

    start = time.perf_counter()
    with Progress(transient=True) as progress:
        task = progress.add_task(label, total=count)
        for i in range(count):
            store.register_version(
                "bench",
                source,
                metrics={"accuracy": 0.9 + (i % 100) / 1000},
                tags={"team": ("vision", "ml")[i % 2]},
            )
            progress.advance(task)
    return time.perf_counter() - start


def cold(argv: list[str], env: dict[str, str], repeat: int) -> float:
    """Median wall time of ``argv`` as a fresh process, after one warm-up run."""
    warm_env = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(argv, env=warm_env, check=True, capture_output=True)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, env=warm_env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def imports_of(argv: list[str], env: dict[str, str]) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", *argv], env=env, capture_output=True, text=True
    )
    return {line.split("|")[-1].strip().split(".")[0] for line in out.stderr.splitlines()}


def mlflow_register(workdir: Path, source: Path, count: int) -> dict:
    argv = [
        str(UV),
        "run",
        "--isolated",
        "--no-project",
        "--python",
        "python3.11",
        "--with",
        MLFLOW_SPEC,
        "--with",
        "sqlalchemy",
        "--with",
        "alembic",
        "python",
        str(ROOT / "bench" / "registry_mlflow.py"),
        str(workdir),
        str(source),
        str(count),
    ]
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    out = subprocess.run(argv, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"MLflow run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.bar(["mlkit", "MLflow"], [result["register_1000_s"], result["mlflow_register_1000_s"]])
    left.set_title("register 1,000 versions (SQLite)")
    left.set_ylabel("seconds")
    labels = ["python -c pass", "models list", "models versions", "versions via SQLAlchemy"]
    keys = ["python_startup_s", "list_cold_s", "versions_cold_s", "store_versions_cold_s"]
    right.bar(labels, [result[k] for k in keys])
    right.axhline(TARGET_COLD_S, color="red", linestyle="--", label=f"target {TARGET_COLD_S} s")
    right.set_title(f"cold process, {result['versions']:,} versions")
    right.tick_params(axis="x", labelrotation=20)
    right.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=10_000)
    parser.add_argument("--register", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from mlkit.registry import open_store

    tmp = Path(tempfile.mkdtemp(prefix="mlkit-bench-registry-"))
    try:
        home = tmp / "home"
        home.mkdir()
        source = make_source(tmp / "export")
        url = f"sqlite:///{home / 'registry.db'}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLKIT_")}
        env |= {"MLKIT_HOME": str(home), "COLUMNS": "200"}

        with open_store(url, home / "artifacts") as store:
            register_s = register(store, source, args.register, "mlkit: registering")
            print(f"mlkit registered {args.register} versions in {register_s:.2f} s")
            print(f"MLflow ({MLFLOW_SPEC}): registering {args.register} versions ...")
            (tmp / "mlflow").mkdir()
            mlflow = mlflow_register(tmp / "mlflow", source, args.register)
            print(f"MLflow registered {args.register} versions in {mlflow['register_s']:.2f} s")
            rest = args.versions - args.register
            fill_s = register(store, source, rest, f"filling up to {args.versions} versions")
            print(f"registered {rest} more in {fill_s:.1f} s")
            store.deploy("bench", args.versions // 2)  # champion moves only with a deployment

        list_argv = [str(MLKIT), "models", "list"]
        versions_argv = [str(MLKIT), "models", "versions", "bench"]
        store_argv = [
            sys.executable,
            "-c",
            "import os, sys; from pathlib import Path; from mlkit.registry import open_store; "
            "s = open_store(sys.argv[1], Path(sys.argv[2])); print(len(s.list_versions('bench')))",
            url,
            str(home / "artifacts"),
        ]
        figures = {
            "python_startup_s": cold([sys.executable, "-c", "pass"], env, args.repeat),
            "list_cold_s": cold(list_argv, env, args.repeat),
            "versions_cold_s": cold(versions_argv, env, args.repeat),
            "store_versions_cold_s": cold(store_argv, env, args.repeat),
        }
        heavy = {"tensorflow", "sqlalchemy", "alembic"}
        loaded = imports_of(list_argv, env) | imports_of(versions_argv, env)
        result = {
            "versions": args.versions,
            **{k: round(v, 3) for k, v in figures.items()},
            "target_cold_s": TARGET_COLD_S,
            "cold_under_target": max(figures["list_cold_s"], figures["versions_cold_s"])
            < TARGET_COLD_S,
            "versions_cold_vs_store": round(
                figures["versions_cold_s"] / figures["store_versions_cold_s"], 3
            ),
            "listing_imports": sorted(heavy & loaded),
            "tensorflow_imported": "tensorflow" in loaded,
            "register_1000_s": round(register_s * 1000 / args.register, 3),
            "mlflow_register_1000_s": round(mlflow["register_s"] * 1000 / args.register, 3),
            "register_vs_mlflow": round(register_s / mlflow["register_s"], 3),
            "register_per_version_ms": round(register_s / args.register * 1000, 2),
            "mlflow_version": mlflow["mlflow_version"],
            "mlflow_copies_artifacts": False,
            "mlkit_copies_and_hashes_artifacts": True,
        }
        print(
            f"cold: models list {figures['list_cold_s']:.3f} s, models versions "
            f"{figures['versions_cold_s']:.3f} s (python alone {figures['python_startup_s']:.3f} s,"
            f" the same listing through SQLAlchemy {figures['store_versions_cold_s']:.3f} s)"
        )
        plot(result, PLOT)
        print(f"plot: {PLOT.relative_to(ROOT)}")
        print(json.dumps(result))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
