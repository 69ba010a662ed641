"""The batcher on its own: stacking, splitting back, shapes that cannot stack, errors, closing."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from mlkit.serving.batching import Batcher


def doubling(log: list):
    def predict(features):
        log.append({k: v.shape for k, v in features.items()})
        time.sleep(0.02)
        return {"y": features["x"] * 2, "n": np.arange(len(features["x"]))}

    return predict


def run_concurrently(batcher: Batcher, inputs: list[np.ndarray]) -> list:
    out: list = [None] * len(inputs)

    def ask(i: int) -> None:
        try:
            out[i] = batcher.predict({"x": inputs[i]})
        except Exception as exc:  # returned for the test to look at
            out[i] = exc

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return out


def test_rows_go_back_to_their_request() -> None:
    log: list = []
    batcher = Batcher(doubling(log), max_wait_s=0.05)
    inputs = [np.full((1 + i % 3, 4), float(i)) for i in range(12)]
    out = run_concurrently(batcher, inputs)
    for x, y in zip(inputs, out, strict=True):
        np.testing.assert_array_equal(y["y"], x * 2)
    assert len(log) < 12 and batcher.largest_batch > 1
    assert batcher.requests == 12
    batcher.close()


def test_batches_respect_the_row_limit() -> None:
    log: list = []
    batcher = Batcher(doubling(log), max_batch_rows=4, max_wait_s=0.05)
    run_concurrently(batcher, [np.ones((2, 4))] * 8)
    assert max(shape["x"][0] for shape in log) <= 4
    batcher.close()


def test_shapes_that_cannot_stack_run_apart() -> None:
    log: list = []
    batcher = Batcher(doubling(log), max_wait_s=0.05)
    inputs = [np.ones((1, 3)), np.ones((1, 5))] * 3
    out = run_concurrently(batcher, inputs)
    for x, y in zip(inputs, out, strict=True):
        assert y["y"].shape == x.shape
    assert {s["x"][1] for s in log} == {3, 5}  # would have failed to stack together
    batcher.close()


def test_a_model_error_reaches_every_request_of_its_batch() -> None:
    def failing(features):
        time.sleep(0.02)
        raise ValueError("the model broke")

    batcher = Batcher(failing, max_wait_s=0.05)
    out = run_concurrently(batcher, [np.ones((1, 2))] * 4)
    assert all(isinstance(e, ValueError) and str(e) == "the model broke" for e in out)
    batcher.close()


def test_a_closed_batcher_answers_queued_requests_then_runs_inline() -> None:
    log: list = []
    batcher = Batcher(doubling(log))
    batcher.close()
    batcher.close()  # twice is fine
    y = batcher.predict({"x": np.ones((2, 2))})
    np.testing.assert_array_equal(y["y"], np.full((2, 2), 2.0))
    with pytest.raises(KeyError):
        batcher.predict({"z": np.ones((1, 1))})
