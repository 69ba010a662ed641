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


def test_a_lone_fast_request_runs_on_the_callers_thread() -> None:
    threads: list[str] = []

    def predict(features):
        threads.append(threading.current_thread().name)
        return {"y": features["x"] * 2}

    batcher = Batcher(predict, name="lone")
    assert batcher.run_alone({"x": np.ones((1, 2))}) is None  # no call timed yet: the worker
    batcher.predict({"x": np.ones((1, 2))})
    y = batcher.run_alone({"x": np.ones((1, 2))})
    assert y is not None
    np.testing.assert_array_equal(y["y"], np.full((1, 2), 2.0))
    assert threads == ["batcher-lone", threading.current_thread().name]
    batcher.announce()  # another request on its way: not alone
    assert batcher.run_alone({"x": np.ones((1, 2))}) is None
    batcher.withdraw()
    assert batcher.requests == 2 and batcher.calls == 2
    batcher.close()


def test_a_slow_model_never_runs_on_the_callers_thread() -> None:
    batcher = Batcher(doubling([]), inline_below_s=0.01)  # each call takes 20 ms
    batcher.predict({"x": np.ones((1, 2))})
    assert batcher.run_alone({"x": np.ones((1, 2))}) is None
    batcher.close()


def test_one_slow_call_does_not_move_a_fast_model_off_the_callers_thread() -> None:
    """A call slowed once (the process preempted) counts at most twice the estimate; a model
    that stays slow moves to the worker."""
    delays = [0.001, 0.001, 0.05, 0.001] + [0.05] * 8  # 1 ms; once 50 ms; then 50 ms
    threads: list[str] = []

    def predict(features):
        threads.append(threading.current_thread().name)
        time.sleep(delays.pop(0))
        return {"y": features["x"] * 2}

    batcher = Batcher(predict, name="hiccup", inline_below_s=0.02)
    one = {"x": np.ones((1, 2))}
    batcher.predict(one)  # timed on the worker: fast
    assert batcher.run_alone(one) is not None  # fast
    assert batcher.run_alone(one) is not None  # 50 ms once
    y = batcher.run_alone(one)  # still on this thread
    assert y is not None
    np.testing.assert_array_equal(y["y"], np.full((1, 2), 2.0))
    while delays and batcher.run_alone(one) is not None:  # slow from now on
        pass
    assert delays, "a model slow on every call kept running on the caller's thread"
    assert threads[:4] == ["batcher-hiccup"] + [threading.current_thread().name] * 3
    batcher.close()


def test_answers_settle_on_the_event_loop() -> None:
    import asyncio

    def predict(features):
        if (features["x"] < 0).any():
            raise ValueError("negative")
        time.sleep(0.02)
        return {"y": features["x"] * 2}

    batcher = Batcher(predict, max_wait_s=0.05)

    async def ask() -> list:
        futures = [batcher.submit_async({"x": np.full((1, 2), float(i))}) for i in range(5)]
        return await asyncio.gather(*futures)

    out = asyncio.run(ask())
    assert [float(y["y"][0, 0]) for y in out] == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert batcher.largest_batch > 1

    async def fail() -> None:
        await batcher.submit_async({"x": -np.ones((1, 2))})

    with pytest.raises(ValueError, match="negative"):
        asyncio.run(fail())
    batcher.close()
