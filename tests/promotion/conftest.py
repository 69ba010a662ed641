"""Versions built to win and to lose on purpose, registered through the store API.

Each model is a real SavedModel (a ``tf.Module`` with a ``serving_default`` signature shaped like
mlkit's exports: one float input per feature; ``probabilities`` + ``class_ids`` for classification,
``predictions`` for regression). Its answer for a row is looked up by the row's id, which is the
feature ``x``; so a test decides exactly which rows a version gets right.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from mlkit.config import load_settings
from mlkit.data import open_warehouse
from mlkit.registry import open_store

ROWS = 2000
IDS = np.arange(ROWS)
HASH = (IDS * 7919 + 13) % 100  # a fixed "difficulty" per row, independent of the split
SOUTH = IDS % 4 == 0  # a quarter of the rows
LABELS = np.random.default_rng(7).integers(0, 2, size=ROWS)
TARGETS = np.random.default_rng(8).normal(50.0, 10.0, size=ROWS)

POLICY = """
[promotion]
{metric}significance = {{ alpha = 0.05, resamples = 400 }}
smoke = {{ requests = 3, instances = 4, max_latency_ms = 60000 }}
{extra}
"""


def spec_text(
    table: str = "events", label: str = "label", extra: str = "", metric: str | None = "accuracy"
) -> str:
    return f"""
[experiment]
name = "promo"

[data]
source = "{table}"
label = "{label}"
key = "id"
split = {{ eval = 0.1, test = 0.5 }}
""" + POLICY.format(extra=extra, metric=f'metric = "{metric}"\n' if metric else "")


def probabilities(correct: np.ndarray, labels: np.ndarray = LABELS, scale: float = 1.0):
    """Binary probabilities: 0.9 on the true class where ``correct``, 0.3 where not."""
    p_true = np.where(correct, 0.9, 0.3)
    p_one = np.where(labels == 1, p_true, 1.0 - p_true)
    return (np.stack([1.0 - p_one, p_one], axis=1) * scale).astype(np.float32)


def save_classifier(path: Path, table: np.ndarray) -> Path:
    import tensorflow as tf

    class Lookup(tf.Module):
        def __init__(self):
            super().__init__()
            self.table = tf.constant(table)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def serve(self, x):
            probs = tf.gather(self.table, tf.cast(x, tf.int32))
            return {
                "probabilities": probs,
                "class_ids": tf.argmax(probs, axis=1, output_type=tf.int64)[:, None],
            }

    module = Lookup()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def save_regressor(path: Path, values: np.ndarray) -> Path:
    import tensorflow as tf

    class Lookup(tf.Module):
        def __init__(self):
            super().__init__()
            self.values = tf.constant(values.astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def serve(self, x):
            return {"predictions": tf.gather(self.values, tf.cast(x, tf.int32))[:, None]}

    module = Lookup()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


@dataclass
class Project:
    home: Path
    store: object

    def register(self, predictions: np.ndarray, *, spec: str | None = None, task=None) -> int:
        """Register a lookup model as the next version of ``promo``; return its number."""
        task = task or ("classification" if predictions.ndim == 2 else "regression")
        folder = self.home / "exports" / f"m{len(list((self.home / 'exports').glob('*')))}"
        folder.parent.mkdir(exist_ok=True)
        if task == "classification":
            save_classifier(folder, predictions)
        else:
            save_regressor(folder, predictions)
        if spec is None:
            regression = task == "regression"
            spec = spec_text("houses" if regression else "events", metric=None)
        text = spec
        run = self.store.create_run("promo", spec_text=text, params={})
        self.store.finish_run(run.id, status="finished")
        signature = {"inputs": {"x": []}, "task": task}
        if task == "classification":
            signature["n_classes"] = int(predictions.shape[1])
        mv = self.store.register_version("promo", folder, run_id=run.id, signature=signature)
        return mv.version


@pytest.fixture
def project(mlkit_home) -> Project:
    """A warehouse with a binary table ``events`` and a regression table ``houses`` (id, x,
    region, label), and the registry of this home."""
    settings = load_settings()
    warehouse = open_warehouse(settings.warehouse_path)
    region = pa.array(np.where(SOUTH, "south", "north"))
    warehouse.write_table(
        "events",
        pa.table(
            {
                "id": pa.array(IDS, pa.int64()),
                "x": pa.array(IDS.astype(np.float32)),
                "region": region,
                "label": pa.array(LABELS, pa.int64()),
            }
        ),
    )
    warehouse.write_table(
        "houses",
        pa.table(
            {
                "id": pa.array(IDS, pa.int64()),
                "x": pa.array(IDS.astype(np.float32)),
                "region": region,
                "label": pa.array(TARGETS, pa.float64()),
            }
        ),
    )
    store = open_store(settings.registry_url, settings.artifacts_dir)
    yield Project(mlkit_home, store)
    store.close()
