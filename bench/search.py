"""`make bench-search`: how good and how fast the default searches are, against reference models.

In one run, on the same deterministic splits the CLI uses (FARM_FINGERPRINT of the key):
1. bundled digits with experiments/digits.toml's search: test accuracy and wall-clock seconds
   (train + evaluate + export), against the best scikit-learn reference model on the same split;
2. the bundled tabular datasets (breast_cancer, wine, iris) with their experiment files: does
   the search at least equal the best reference model's test accuracy? (the issue asks for two)
3. AdaNet's training throughput (examples/s over the whole search, graph rebuilds and
   bookkeeping included) against a hand-written Keras model of the final digits architecture
   trained on the same data with the same batch size: the ratio.

The last line printed is one JSON object of the figures.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from mlkit.data import open_warehouse  # noqa: E402
from mlkit.data.bundled import load_bundled  # noqa: E402
from mlkit.data.experiment_data import load_experiment_data  # noqa: E402
from mlkit.experiment import load_experiment  # noqa: E402
from mlkit.search.reference_models import beats_reference_models, fit_reference_models  # noqa: E402

TABULAR = ("breast_cancer", "wine", "iris")


class _Settings:
    def __init__(self, warehouse: Path) -> None:
        self.warehouse_path = warehouse


def log(message: str) -> None:
    print(f"[bench-search] {message}", flush=True)


def search(name: str, home: Path):
    from mlkit.search.runner import run_search

    experiment, _ = load_experiment(REPO / "experiments" / f"{name}.toml")
    spec = experiment.search
    data = load_experiment_data(experiment.data, _Settings(home / "warehouse.duckdb"), spec.task)
    baseline = fit_reference_models(
        spec.task,
        data.train.features,
        data.train.labels,
        data.test.features,
        data.test.labels,
        seed=spec.seed,
    )
    started = time.perf_counter()
    result = run_search(
        spec,
        data.train,
        data.eval,
        data.test,
        n_classes=data.n_classes,
        model_dir=home / "runs" / name,
    )
    seconds = time.perf_counter() - started
    log(
        f"{name}: test accuracy {result.metrics['accuracy']:.4f} in {seconds:.1f} s "
        f"({' + '.join(result.architecture['subnetworks'])}); best reference model "
        f"{baseline['best']} {baseline['value']:.4f}"
    )
    return experiment, data, result, baseline, seconds


def keras_throughput(spec, data, members: list[dict], steps: int = 300) -> float:
    """Examples/s of a plain Keras model with the final ensemble's architecture."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(spec.seed)
    inputs = tf.keras.Input(shape=(64,), name="pixels")
    x = tf.keras.layers.Reshape((*spec.image_shape, 1))(inputs / spec.image_scale)
    logits = []
    for member in members:
        h = x
        filters = member.get("filters", spec.cnn_filters)
        for _ in range(member.get("blocks", 1)):
            for _ in range(2):
                h = tf.keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(h)
                h = tf.keras.layers.BatchNormalization()(h)
                h = tf.keras.layers.ReLU()(h)
            if min(h.shape[1], h.shape[2]) >= 2:
                h = tf.keras.layers.MaxPooling2D(2)(h)
            filters *= 2
        if min(h.shape[1], h.shape[2]) > 2:
            h = tf.keras.layers.GlobalAveragePooling2D()(h)
        else:
            h = tf.keras.layers.Flatten()(h)
        logits.append(tf.keras.layers.Dense(10)(h))
    out = logits[0] if len(logits) == 1 else tf.keras.layers.Add()(logits)
    model = tf.keras.Model(inputs, out)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(spec.learning_rate),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    dataset = (
        tf.data.Dataset.from_tensor_slices(
            (data.train.features["pixels"].astype(np.float32), data.train.labels)
        )
        .shuffle(len(data.train.labels), seed=spec.seed)
        .repeat()
        .batch(spec.batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    model.fit(dataset, steps_per_epoch=20, epochs=1, verbose=0)  # build and warm up
    started = time.perf_counter()
    model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    return steps * spec.batch_size / (time.perf_counter() - started)


def main() -> int:
    bench_started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        home = Path(tmp)
        warehouse = open_warehouse(home / "warehouse.duckdb")
        for name in ("digits", *TABULAR):
            load_bundled(name, warehouse)
        del warehouse

        experiment, data, result, baseline, seconds = search("digits", home)
        spec = experiment.search
        members = []
        candidates = {
            c["name"]: c["hparams"] for it in result.report["iterations"] for c in it["candidates"]
        }
        for member in result.report["final"]["members"]:
            members.append(candidates.get(member["name"], {}))
        adanet_rate = result.global_step * spec.batch_size / result.train_seconds
        keras_rate = keras_throughput(spec, data, members)
        log(
            f"throughput: AdaNet {adanet_rate:.0f} examples/s over the whole search "
            f"({result.global_step} steps in {result.train_seconds:.1f} s), Keras model of the "
            f"final architecture {keras_rate:.0f} examples/s"
        )

        tabular = {}
        for name in TABULAR:
            t_experiment, _, t_result, t_baseline, t_seconds = search(name, home)
            tabular[name] = {
                "accuracy": round(t_result.metrics["accuracy"], 4),
                "reference_accuracy": round(t_baseline["value"], 4),
                "reference_model": t_baseline["best"],
                "seconds": round(t_seconds, 1),
                "at_or_above_reference": bool(
                    beats_reference_models("classification", t_result.metrics, t_baseline)
                ),
            }
    figures = {
        "digits_accuracy": round(result.metrics["accuracy"], 4),
        "digits_seconds": round(seconds, 1),
        "digits_train_seconds": round(result.train_seconds, 1),
        "digits_reference_accuracy": round(baseline["value"], 4),
        "digits_reference_model": baseline["best"],
        "digits_test_rows": int(len(data.test.labels)),
        "digits_architecture": result.architecture["subnetworks"],
        "tabular": tabular,
        "tabular_datasets_at_or_above_reference": sum(
            1 for t in tabular.values() if t["at_or_above_reference"]
        ),
        "adanet_examples_per_second": round(adanet_rate, 1),
        "keras_examples_per_second": round(keras_rate, 1),
        "keras_throughput_ratio": round(adanet_rate / keras_rate, 3),
        "cpu_count": os.cpu_count(),
        "bench_seconds": round(time.perf_counter() - bench_started, 1),
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
