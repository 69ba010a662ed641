"""Two small digits SavedModels for the serving benchmark, built with TensorFlow in seconds.

A linear classifier on scikit-learn's 8x8 digits, fitted in closed form (ridge regression on
one-hot labels), exported the way AdaNet exports: a ``predict`` signature taking ``pixels``
[None, 64] and returning ``class_ids``, ``probabilities`` and ``logits``. Version 2 is the same
fit with a stronger ridge penalty, so the two versions differ a little.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    data = load_digits()
    return data.data.astype(np.float32), data.target.astype(np.int64)


def fit(x: np.ndarray, y: np.ndarray, ridge: float) -> tuple[np.ndarray, np.ndarray]:
    xb = np.hstack([x, np.ones((len(x), 1), np.float32)])
    onehot = np.eye(10, dtype=np.float32)[y]
    w = np.linalg.solve(xb.T @ xb + ridge * np.eye(xb.shape[1]), xb.T @ onehot)
    return w[:-1].astype(np.float32), w[-1].astype(np.float32)


def export(path: Path, weights: np.ndarray, bias: np.ndarray, hidden: int = 0) -> Path:
    """``hidden`` > 0 adds a residual branch of three ``hidden``-wide layers with small random
    weights: the answers barely change, but each call reads megabytes of weights (memory-bound
    for one row, about the same cost for a batch: where server-side batching pays)."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    sizes = [64, hidden, hidden, hidden, 10] if hidden else []
    layers = [
        (rng.normal(0, 1 / np.sqrt(a), (a, b)).astype(np.float32))
        for a, b in zip(sizes, sizes[1:], strict=False)
    ]

    class Linear(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = tf.Variable(weights)
            self.b = tf.Variable(bias)
            self.layers = [tf.Variable(w) for w in layers]

        @tf.function(input_signature=[tf.TensorSpec([None, 64], tf.float32, name="pixels")])
        def predict(self, pixels):
            logits = tf.matmul(pixels, self.w) * 10.0 + self.b
            if self.layers:
                h = pixels / 16.0
                for w in self.layers[:-1]:
                    h = tf.nn.relu(tf.matmul(h, w))
                logits += 1e-3 * tf.matmul(h, self.layers[-1])
            ids = tf.expand_dims(tf.argmax(logits, axis=1, output_type=tf.int64), 1)
            return {"class_ids": ids, "probabilities": tf.nn.softmax(logits), "logits": logits}

    module = Linear()
    tf.saved_model.save(module, str(path), signatures={"predict": module.predict})
    return path


def build(root: Path) -> tuple[list[Path], np.ndarray, np.ndarray]:
    """Export versions 1 and 2 under ``root``; return their paths and the data."""
    x, y = digits()
    paths = []
    for version, ridge in ((1, 1.0), (2, 100.0)):
        paths.append(export(root / f"digits-v{version}", *fit(x, y, ridge)))
    return paths, x, y


def build_heavy(root: Path, hidden: int = 2048) -> Path:
    """One compute-heavier digits model (the linear fit plus a wide residual branch)."""
    x, y = digits()
    return export(root / "digits-heavy", *fit(x, y, 1.0), hidden=hidden)
