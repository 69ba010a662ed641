"""Small real SavedModels, built with plain TensorFlow once per session, and a live endpoint."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

N_PIXELS, N_CLASSES = 64, 10


class _Digits(tf.Module):
    """A linear 'digits' classifier, exported the way AdaNet's raw-tensor receiver does: `predict`.

    ``weights`` [64, 10] and ``bias`` [10] are fixed, so each test knows the answer.
    """

    def __init__(self, weights: np.ndarray, bias: np.ndarray) -> None:
        super().__init__()
        self.weights = tf.Variable(weights.astype(np.float32))
        self.bias = tf.Variable(bias.astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([None, N_PIXELS], tf.float32, name="pixels")])
    def predict(self, pixels):
        logits = tf.matmul(pixels, self.weights) + self.bias
        class_ids = tf.expand_dims(tf.argmax(logits, axis=1, output_type=tf.int64), 1)
        return {"class_ids": class_ids, "probabilities": tf.nn.softmax(logits), "logits": logits}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def parse_examples(self, examples):  # a tf.Example receiver: not callable on raw features
        return {"outputs": tf.zeros_like(examples, dtype=tf.float32)}


class _Regressor(tf.Module):
    """Two features (`x` [3] and a scalar `age`), `serving_default`, output `predictions` [N, 1]."""

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, 3], tf.float32, name="x"),
            tf.TensorSpec([None], tf.float32, name="age"),
        ]
    )
    def serve(self, x, age):
        return {"predictions": tf.reduce_sum(x, axis=1, keepdims=True) + tf.expand_dims(age, 1)}


class _Embedder(tf.Module):
    """Neither classification nor regression: outputs returned as they are."""

    @tf.function(input_signature=[tf.TensorSpec([None, 2, 2], tf.float32, name="grid")])
    def serve(self, grid):
        flat = tf.reshape(grid, [-1, 4])
        label = tf.where(tf.reduce_sum(flat, axis=1) > 0, "positive", "other")
        return {"flat": flat, "label": label}


def _save(module: tf.Module, path: Path, signatures: dict) -> Path:
    tf.saved_model.save(module, str(path), signatures=signatures)
    return path


def digits_v1_weights() -> tuple[np.ndarray, np.ndarray]:
    """Version 1 answers the class whose pixel (0..9) is brightest."""
    return np.eye(N_PIXELS, N_CLASSES), np.zeros(N_CLASSES)


def digits_v2_weights() -> tuple[np.ndarray, np.ndarray]:
    """Version 2 always answers class 7."""
    bias = np.zeros(N_CLASSES)
    bias[7] = 5.0
    return np.zeros((N_PIXELS, N_CLASSES)), bias


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("savedmodels")


@pytest.fixture(scope="session")
def digits_v1(model_dir: Path) -> Path:
    m = _Digits(*digits_v1_weights())
    return _save(m, model_dir / "digits-v1", {"predict": m.predict})


@pytest.fixture(scope="session")
def digits_v2(model_dir: Path) -> Path:
    """Also has a `serving_default` that takes serialized examples: the runner must skip it."""
    m = _Digits(*digits_v2_weights())
    return _save(
        m, model_dir / "digits-v2", {"predict": m.predict, "serving_default": m.parse_examples}
    )


@pytest.fixture(scope="session")
def regressor(model_dir: Path) -> Path:
    m = _Regressor()
    return _save(m, model_dir / "regressor", {"serving_default": m.serve})


@pytest.fixture(scope="session")
def embedder(model_dir: Path) -> Path:
    m = _Embedder()
    return _save(m, model_dir / "embedder", {"serving_default": m.serve})


class Deployments:
    """A stand-in for the registry's answer: model name -> (version, path); tests change it."""

    def __init__(self) -> None:
        self.active: dict[str, tuple[int, Path]] = {}
        self.calls = 0

    def resolve(self, name: str) -> tuple[int, Path] | None:
        self.calls += 1
        return self.active.get(name)

    def deployed(self) -> list[dict]:
        return [{"model": n, "version": v} for n, (v, _) in sorted(self.active.items())]


@pytest.fixture(scope="module")
def endpoint(digits_v1: Path):
    """A real endpoint on a free loopback port, serving in a thread."""
    from mlkit.serving.server import make_server

    deployments = Deployments()
    server = make_server(deployments.resolve, deployments.deployed, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.deployments = deployments
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def deployments(endpoint, digits_v1: Path) -> Deployments:
    endpoint.deployments.active = {"digits": (1, digits_v1)}
    return endpoint.deployments
