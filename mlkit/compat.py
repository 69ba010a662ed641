"""What differs between the Pythons mlkit runs on: 3.11, and 3.10 (Google's prebuilt TensorFlow
2.15 training containers, where ``mlkit train --backend vertex`` runs without an own image).

Import ``tomllib`` from here, never the standard library's directly: on 3.10 it is ``tomli``
(the same parser, a dependency only there); ``within`` is a deadline on awaited work, with
3.11's ``asyncio.timeout`` where there is one. tests/test_python310.py keeps 3.11-only names out
of every other module.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10
    import tomli as tomllib


async def within(work: Callable[[], Awaitable[None]], seconds: float) -> None:
    """``await work()`` with a deadline (asyncio.TimeoutError beyond). Python 3.11's
    ``asyncio.timeout`` arms a timer on the running task; 3.10's ``wait_for`` runs the work as a
    task of its own (a task and a loop turn more per request body)."""
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(seconds):
            await work()
    else:  # pragma: no cover - exercised on Python 3.10
        await asyncio.wait_for(work(), seconds)


__all__ = ["tomllib", "within"]
