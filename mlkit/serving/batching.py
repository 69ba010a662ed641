"""Server-side batching: concurrent requests for one loaded version run as one model call.

Each loaded version has one ``Batcher`` with one worker thread. A request validates its payload,
then ``submit``s its arrays and waits on the future (the endpoint awaits it on its event loop).
The worker takes the first waiting request and every other request already queued, runs the
model once on the rows stacked together and hands each request its own rows back. While the
model runs, new requests queue up and form the next batch, so under load batches grow by
themselves.

The wait is adaptive: a request that is alone runs at once (no added latency for one client);
only when the previous model call carried several requests, or more requests are on their way
(``announce``), does the worker wait up to ``max_wait_s`` for up to ``max_batch_rows`` rows,
and it stops waiting as soon as the batch holds as many requests as the previous one and none
is on its way. Requests whose arrays cannot stack (free dimensions of different lengths) run in
separate batches.

``run_alone`` runs a request on the caller's thread when the batcher is idle, nothing is queued
or on its way, the previous call carried one request and one-request calls take less than
``inline_below_s`` (a slow model never holds the caller: the endpoint's event loop calls this,
and under concurrency or for a slow model it ``submit``s instead). One client then pays no
thread hand-off, and no future. How long one-request calls take is the last one's time, except
that one slow call (the process preempted on a busy machine) counts at most twice the previous
estimate: a model that is slow moves off the caller after two or three calls, a lone hiccup
does not send the next request through the worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

logger = logging.getLogger("mlkit.serving")

Arrays = dict[str, np.ndarray]
PredictArrays = Callable[[Arrays], Arrays]
OnBatch = Callable[[int, int], None]
"""Told ``(requests, rows)`` after each model call."""

_STOP = object()


@dataclass
class _Item:
    arrays: Arrays
    rows: int
    future: Future | asyncio.Future = field(default_factory=Future)
    loop: asyncio.AbstractEventLoop | None = None  # an asyncio future's loop (submit_async)

    def key(self) -> tuple:
        return tuple((name, a.shape[1:], a.dtype.str) for name, a in sorted(self.arrays.items()))


class Batcher:
    """Stacks concurrent requests for one model version into single calls of ``predict``."""

    def __init__(
        self,
        predict: PredictArrays,
        *,
        max_batch_rows: int = 256,
        max_wait_s: float = 0.002,
        name: str = "model",
        on_batch: OnBatch | None = None,
        inline_below_s: float = 0.002,
    ) -> None:
        self._predict = predict
        self.inline_below_s = inline_below_s
        self._single_s = float("inf")  # how long the last one-request model call took
        self.max_batch_rows = max(1, max_batch_rows)
        self.max_wait_s = max(0.0, max_wait_s)
        self._on_batch = on_batch
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._closed = False
        self._arriving = 0
        self._last_batch = 1
        self._running = 0  # model calls under way (the worker's and run_alone's)
        self.calls = 0
        self.requests = 0
        self.largest_batch = 0
        self._thread = threading.Thread(target=self._work, name=f"batcher-{name}", daemon=True)
        self._thread.start()

    @property
    def queue_depth(self) -> int:
        """Requests waiting for a model call (not counting the one running)."""
        return self._queue.qsize()

    def announce(self) -> None:
        """A request is on its way (being validated): a batch being gathered may wait for it.
        Every ``announce`` is followed by one ``submit`` or ``withdraw``."""
        with self._lock:
            self._arriving += 1

    def withdraw(self) -> None:
        with self._lock:
            self._arriving = max(0, self._arriving - 1)

    def submit(self, arrays: Arrays, *, announced: bool = False) -> Future:
        """Queue ``arrays`` (one request's rows); the future gets the request's outputs."""
        future: Future = Future()
        self._put(_Item(arrays, len(next(iter(arrays.values()))), future), announced)
        return future

    def submit_async(self, arrays: Arrays, *, announced: bool = False) -> asyncio.Future:
        """``submit`` for a caller on an event loop (call it there): an asyncio future, which
        the worker settles with one ``call_soon_threadsafe`` per batch for all of the loop's
        requests (no per-request cross-thread future, lock or wake-up on the loop's side)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._put(_Item(arrays, len(next(iter(arrays.values()))), future, loop), announced)
        return future

    def _put(self, item: _Item, announced: bool) -> None:
        with self._lock:
            if announced:
                self._arriving = max(0, self._arriving - 1)
            closed = self._closed
            if not closed:
                self._queue.put(item)
        if closed:  # the version was unloaded while this request held it: run it on its own
            threading.Thread(target=self._run, args=([item],), daemon=True).start()

    def run_alone(self, arrays: Arrays, *, announced: bool = False) -> Arrays | None:
        """The outputs of ``arrays`` run at once on this thread when the request is alone: no
        model call under way, nothing queued or announced, and the previous call carried one
        request. None otherwise (the caller then ``submit``s). The model's error is raised."""
        with self._lock:
            if announced:
                self._arriving = max(0, self._arriving - 1)
            alone = (
                not self._closed
                and self._single_s < self.inline_below_s
                and self._running == 0
                and self._arriving == 0
                and self._last_batch <= 1
                and self._queue.empty()
            )
            if alone:
                self._running += 1
        if not alone:
            return None
        try:
            return self._run_one(arrays)
        finally:
            with self._lock:
                self._running -= 1

    def _run_one(self, arrays: Arrays) -> Arrays:
        """One request's model call on this thread (``run_alone``): no future, no settling."""
        (result,) = self._call([arrays])
        if isinstance(result, BaseException):
            raise result
        return result

    def _timed_single(self, seconds: float) -> None:
        """Update how long a one-request call takes: a slow call counts at most twice the
        previous estimate (see the module's docstring)."""
        self._single_s = min(seconds, 2 * self._single_s)

    def _report(self, requests: int, rows: int) -> None:
        if self._on_batch is not None:
            try:
                self._on_batch(requests, rows)
            except Exception:  # metrics must never fail a request
                logger.exception("recording a batch failed")

    def predict(self, arrays: Arrays) -> Arrays:
        """Run ``arrays`` through the model, batched with others (blocks until answered)."""
        result: Arrays = self.submit(arrays).result()
        return result

    def close(self) -> None:
        """Stop after the requests already queued have been answered."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)

    def _should_wait(self) -> bool:
        with self._lock:
            return self._arriving > 0 or self._last_batch > 1

    def _gather(self, first: _Item) -> tuple[list[_Item], bool]:
        batch, rows, stop = [first], first.rows, False
        deadline = time.perf_counter() + self.max_wait_s
        waiting = self.max_wait_s > 0 and self._should_wait()
        expected = self._last_batch  # as many requests as last time, then no more waiting
        while rows < self.max_batch_rows:
            if waiting and len(batch) >= expected and self._arriving == 0:
                waiting = False
            timeout = deadline - time.perf_counter() if waiting else 0.0
            try:
                nxt = self._queue.get_nowait() if timeout <= 0 else self._queue.get(True, timeout)
            except queue.Empty:
                break
            if nxt is _STOP:
                stop = True
                break
            batch.append(nxt)
            rows += nxt.rows
        return batch, stop

    def _work(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            with self._lock:
                self._running += 1
            batch, stop, last = [first], False, None
            try:
                batch, stop = self._gather(first)
                groups: dict[tuple, list[_Item]] = {}
                for item in batch:
                    groups.setdefault(item.key(), []).append(item)
                *others, final = groups.values()
                for items in others:
                    self._run(items)
                last = (final, self._call([i.arrays for i in final]))
            finally:
                with self._lock:
                    self._running -= 1
                    self._last_batch = len(batch)
            if last is not None:  # answered once idle: a client's next request may run alone
                _settle_all(*last)
            if stop:
                return

    def _run(self, items: list[_Item]) -> None:
        _settle_all(items, self._call([i.arrays for i in items]))

    def _call(self, requests: list[Arrays]) -> list[Arrays | BaseException]:
        """The model's outputs for each of ``requests`` (one call), or its error for each."""
        self.calls += 1
        self.requests += len(requests)
        self.largest_batch = max(self.largest_batch, len(requests))
        rows = [len(next(iter(arrays.values()))) for arrays in requests]
        outputs: list[Arrays | BaseException]
        try:
            if len(requests) == 1:
                started = time.perf_counter()
                outputs = [self._predict(requests[0])]
                self._timed_single(time.perf_counter() - started)
            else:
                stacked = {
                    name: np.concatenate([arrays[name] for arrays in requests], axis=0)
                    for name in requests[0]
                }
                together = self._predict(stacked)
                outputs, start = [], 0
                for count in rows:
                    outputs.append({k: v[start : start + count] for k, v in together.items()})
                    start += count
        except BaseException as exc:  # every request of the batch gets the model's error
            return [exc] * len(requests)
        self._report(len(requests), sum(rows))
        return outputs


def _settle_all(items: list[_Item], results: Sequence[Arrays | BaseException]) -> None:
    """Hand each request its result: thread futures at once, asyncio futures in one callback
    per event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future, object]]] = {}
    for item, result in zip(items, results, strict=True):
        future = item.future
        if item.loop is not None and isinstance(future, asyncio.Future):
            by_loop.setdefault(item.loop, []).append((future, result))
        elif isinstance(future, Future) and not future.done():
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
    for loop, pairs in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(_settle, pairs)


def _settle(pairs: list[tuple[asyncio.Future, object]]) -> None:
    for future, result in pairs:
        if future.done():  # cancelled: the client went away
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
