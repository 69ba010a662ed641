"""A deployed model to watch: two real SavedModels of a ``shop`` classifier registered with a
training run whose data statistics the registry holds, and the local endpoint serving them with
the prediction log and the bandit, as ``mlkit serve`` wires it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from mlkit.config import load_settings
from mlkit.data import open_warehouse
from mlkit.data.stats import relation_stats
from mlkit.registry import open_store

ROWS = 2000
SPEC = """
[experiment]
name = "shop"

[data]
source = "shop_train"
label = "label"
key = "id"

[monitoring]
max_psi = 0.2
min_instances = 100
min_accuracy = 0.97
max_error_rate = 0.01
"""


def shop_rows(rows: int = ROWS, shift: float = 0.0, seed: int = 0) -> dict[str, np.ndarray]:
    """``x`` uniform in 0..100 (plus ``shift``), ``y`` normal; the label is ``x > 50``."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 100, rows) + shift
    y = rng.normal(0.0, 1.0, rows)
    return {"id": np.arange(rows), "x": x, "y": y, "label": (x > 50).astype(np.int64)}


def save_threshold_model(path: Path, threshold: float) -> Path:
    """Answers class 1 when ``x > threshold`` (version 1: 50, right on every row)."""
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


@pytest.fixture(scope="session")
def shop_models(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    folder = tmp_path_factory.mktemp("shop")
    return {
        1: save_threshold_model(folder / "v1", 50.0),
        2: save_threshold_model(folder / "v2", 60.0),
    }


@dataclass
class Shop:
    home: Path
    url: str
    server: object
    watch: object


def register_shop(home: Path, models: dict[int, Path]) -> None:
    """The training table, a run with its statistics, versions 1 and 2 (1 serves)."""
    settings = load_settings()
    warehouse = open_warehouse(settings.warehouse_path)
    rows = shop_rows()
    warehouse.write_table("shop_train", pa.table(rows))
    stats = relation_stats(warehouse, "shop_train", label="label", skip=["id"])
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        run = store.create_run("shop", spec_text=SPEC, params={})
        store.record_run_data_stats(run.id, stats)
        store.finish_run(run.id, status="finished")
        signature = {"inputs": {"x": [], "y": []}, "task": "classification", "n_classes": 2}
        for version in (1, 2):
            store.register_version("shop", models[version], run_id=run.id, signature=signature)
        store.deploy("shop", 1, action="forced", actor="test", reason="first")


@pytest.fixture
def shop(mlkit_home: Path, shop_models: dict[int, Path]) -> Iterator[Shop]:
    """The shop model deployed (version 1) and the local endpoint serving it, logging every
    answer (flushed every 50 ms) to the local warehouse."""
    from mlkit.serving.server import make_server
    from mlkit.workflows.serve import RegistryResolver, observing

    register_shop(mlkit_home, shop_models)
    settings = load_settings()
    resolver = RegistryResolver(settings, poll_s=0)
    watch = observing(settings, resolver, log_flush_s=0.05, seed=1)
    server = make_server(
        resolver.resolve,
        resolver.deployed,
        port=0,
        labels=resolver.labels,
        picker=watch.picker,
        observers=watch.observers,
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Shop(mlkit_home, f"http://127.0.0.1:{server.server_address[1]}", server, watch)
    finally:
        server.shutdown()
        server.server_close()
        watch.events.close()
        resolver.close()
        thread.join(5)
