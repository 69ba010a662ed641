"""Bounded background stages for a batch job: read ahead in one thread, write behind in another.

:func:`read_ahead` runs a generator in a thread of its own, at most ``depth`` items ahead of its
consumer; :class:`WriteBehind` runs one write at a time in a thread while the caller goes on.
Both hand an error back to the caller's thread, at its next call. NumPy, Arrow, DuckDB and
TensorFlow release the GIL in their kernels, so reading and decoding the next batch and writing
the previous one overlap with the prediction of the current one.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


def read_ahead(make: Callable[[], Iterator[T]], depth: int = 2) -> Generator[T, None, None]:
    """The items of ``make()``, produced in a background thread at most ``depth`` ahead.

    The iterator is created, run and closed in that thread (a warehouse reader's connection
    stays in the thread that opened it). Closing this generator stops the thread."""
    items: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            source = make()
            try:
                for item in source:
                    if not put((item,)):
                        return
            finally:
                close = getattr(source, "close", None)
                if close is not None:
                    close()
            put(_DONE)
        except BaseException as error:  # handed to the consumer's thread
            put(error)

    thread = threading.Thread(target=run, name="mlkit-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            got = items.get()
            if got is _DONE:
                return
            if isinstance(got, BaseException):
                raise got
            assert isinstance(got, tuple)
            yield got[0]
    finally:
        stop.set()
        thread.join()


class WriteBehind:
    """One write at a time in a background thread: :meth:`submit` waits for the previous write
    (raising its error) before starting the next, so writes keep their order."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlkit-write")
        self._pending: Future[None] | None = None

    def submit(self, write: Callable[[], None]) -> None:
        self.wait()
        self._pending = self._pool.submit(write)

    def wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self._pool.shutdown(wait=True)
