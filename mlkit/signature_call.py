"""Calling a loaded SavedModel signature with less fixed cost per call.

On a small call (one instance of the digits model, 2 cores) two costs are not the model's
arithmetic, and both are cut here (figures in docs/serving.md, "One client"):

1. The structured call ``fn(**tensors)`` binds its keyword arguments through the function's
   type on every call. The order of the flat inputs is fixed once the signature is loaded, so
   it is worked out once and each call goes straight to the flat call.
2. TensorFlow's default executor hands a graph's kernels to its inter-op thread pool. When the
   pool's threads have gone to sleep (a server between two requests), waking them costs more
   than the model itself. The single-threaded executor runs every kernel in the calling thread
   (intra-op parallelism, inside a kernel, is unchanged). It does not run every graph (no v1
   control flow, no reference tensors): the first call that fails with it is run again with
   the default executor, and whichever works is kept. Calls of more than
   :data:`SMALL_CALL_ROWS` rows keep the default executor, whose inter-op parallelism can pay
   there.

TensorFlow 2.15 is pinned (../shared/STACK.md): ``_call_flat`` and ``function_executor_type``
are its private but stable entry points; if working out the flat order fails, the structured
call is used.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow.python.eager import context
from tensorflow.python.eager.polymorphic_function import function_type_utils

logger = logging.getLogger(__name__)

SMALL_CALL_ROWS = 64
"""Calls of at most this many rows run on the single-threaded executor (when it runs the
graph)."""

_SINGLE_THREADED = "SINGLE_THREADED_EXECUTOR"


class SignatureCall:
    """``call(arrays)`` runs the signature ``fn`` on ``{input name: array}`` and returns its
    outputs as tensors, as ``fn(**arrays)`` does."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn
        self.order = _flat_order(fn)
        # None: not known yet whether the single-threaded executor runs this graph
        self.single_threaded: bool | None = None

    def __call__(self, arrays: Mapping[str, np.ndarray]) -> dict[str, tf.Tensor]:
        rows = len(next(iter(arrays.values()))) if arrays else 0
        if rows > SMALL_CALL_ROWS or self.single_threaded is False:
            return self._run(arrays)
        if self.single_threaded:
            with context.function_executor_type(_SINGLE_THREADED):
                return self._run(arrays)
        return self._first_small_call(arrays)

    def _first_small_call(self, arrays: Mapping[str, np.ndarray]) -> dict[str, tf.Tensor]:
        """Try the single-threaded executor; when it refuses what the default one runs, keep
        the default. (Two first calls at once decide the same: it depends on the graph.)"""
        try:
            with context.function_executor_type(_SINGLE_THREADED):
                out = self._run(arrays)
        except tf.errors.OpError as single_error:
            try:
                out = self._run(arrays)
            except tf.errors.OpError:
                raise single_error from None  # the input's fault: both executors refuse it
            self.single_threaded = False
            logger.info(
                "the single-threaded executor cannot run this signature (%s); "
                "using TensorFlow's default executor",
                (single_error.message.strip().splitlines() or ["?"])[0],
            )
            return out
        self.single_threaded = True
        return out

    def _run(self, arrays: Mapping[str, np.ndarray]) -> dict[str, tf.Tensor]:
        if self.order is None:
            return self.fn(**{name: tf.constant(value) for name, value in arrays.items()})
        flat = [tf.constant(arrays[name]) for name in self.order]
        return self.fn._call_flat(flat, self.fn.captured_inputs)


def _flat_order(fn: Any) -> list[str] | None:
    """The input names in the order of the signature's flat call; None when it cannot be
    worked out (then every call is the structured one)."""
    try:
        specs = fn.structured_input_signature[1]
        probes = {
            name: tf.zeros([0 if d is None else d for d in spec.shape.as_list()], spec.dtype)
            for name, spec in specs.items()
        }
        bound = function_type_utils.canonicalize_function_inputs((), probes, fn.function_type)
        flat = fn.function_type.unpack_inputs(bound)
    except Exception as exc:  # noqa: BLE001 - any failure means: use the structured call
        logger.debug("structured calls for this signature: %s", exc)
        return None
    order = []
    for tensor in flat:
        names = [name for name, probe in probes.items() if probe is tensor]
        if len(names) != 1:
            return None
        order.append(names[0])
    if sorted(order) != sorted(probes):
        return None
    return order
