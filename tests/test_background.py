"""The batch job's bounded background stages hand results and errors back in order."""

from __future__ import annotations

import threading

import pytest

from mlkit.workflows.background import WriteBehind, read_ahead


def test_read_ahead_yields_in_order_and_closes_its_source_in_its_thread() -> None:
    closed: list[str] = []

    def numbers():
        try:
            yield from range(100)
        finally:
            closed.append(threading.current_thread().name)

    items = read_ahead(numbers, depth=2)
    assert [next(items) for _ in range(3)] == [0, 1, 2]
    items.close()  # stops early: the source is closed in the reading thread
    assert closed == ["mlkit-read-ahead"]
    assert list(read_ahead(lambda: iter(range(5)))) == [0, 1, 2, 3, 4]


def test_errors_reach_the_caller() -> None:
    def failing():
        yield 1
        raise ValueError("bad row")

    with pytest.raises(ValueError, match="bad row"):
        list(read_ahead(failing))
    writes = WriteBehind()
    done: list[int] = []
    writes.submit(lambda: done.append(1))
    writes.submit(lambda: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        writes.close()
    assert done == [1]
