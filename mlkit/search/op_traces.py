"""One creation trace for every graph op a search builds, instead of one Python stack per op.

TensorFlow records the Python stack that created each graph op (``tf_stack.extract_stack``, called
by ``ops._create_c_op`` for every op) so that an error in a graph it runs later can say where that
op was defined. A search builds tens of thousands of ops (every candidate, in the training, the
evaluation and the export graphs of each iteration), each under a deep stack (the CLI, AdaNet, the
Estimator, TensorFlow's dispatch): the stacks were ~7 % of building an op (150 -> 140 µs for a
constant in a micro-benchmark) and ~3 s of the 40 s of ``mlkit train experiments/iris.toml
--steps 10`` (py-spy, docs/search.md).

Inside :func:`one_trace_per_op_build` every op gets the one stack taken when the block was
entered: an error from a graph still names the op (TensorFlow puts its name in the message) and
says it was built by mlkit's search, not which AdaNet line built it. mlkit reports a graph's
failure by the message's first line (``mlkit.errors.SearchError``), which is unchanged.

TensorFlow is pinned (2.15, ../shared/STACK.md): ``tf_stack.extract_stack`` and its one caller
are stable there.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from tensorflow.python.util import tf_stack

_lock = threading.Lock()
_depth = 0
_original = tf_stack.extract_stack


@contextlib.contextmanager
def one_trace_per_op_build() -> Iterator[None]:
    """Ops built in the block (from any thread) share the stack of the block's entry."""
    global _depth
    shared = _original(stacklevel=3)  # the caller of the block

    def extract_stack(stacklevel: int = 1) -> object:
        return shared

    with _lock:
        _depth += 1
        if _depth == 1:
            tf_stack.extract_stack = extract_stack
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                tf_stack.extract_stack = _original


__all__ = ["one_trace_per_op_build"]
