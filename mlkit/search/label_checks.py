"""The heads' label-range check built once per labels tensor and graph, not once per candidate.

Every candidate ensemble and subnetwork of an AdaNet iteration calls its head, and each head call
checks that the labels lie in ``[0, n_classes)`` (``base_head.check_label_range``): two graph-mode
assertions, each a ``tf.cond`` with its own function graphs. With a dozen candidates per iteration
and a graph per phase, that check was about a tenth of a small search's wall time (cProfile of
``mlkit train experiments/iris.toml --steps 10``), for the same labels every time.

:func:`install` wraps the check: the first call on a labels tensor builds it as TensorFlow does;
later calls on the same labels (the same tensor reached through the heads' own ``Identity`` /
``ExpandDims``, same shape and type) return an ``Identity`` of that checked tensor, run after the
new labels tensor (so the later call's shape assertions still run). Same values, same assertions
in the graph; only the duplicates are gone. Eager code, function graphs and tensors inside control
flow keep TensorFlow's check.
"""

from __future__ import annotations

import weakref
from typing import Any

import tensorflow as tf
from tensorflow_estimator.python.estimator.head import base_head

_PASS_THROUGH = ("Identity", "ExpandDims")
_INSTALLED: list[Any] = []  # the wrapper, once installed


def _source(labels: Any) -> tuple[Any, tuple[str, ...]]:
    """The tensor ``labels`` was made from by the heads' pass-through ops, and those ops."""
    chain: list[str] = []
    tensor = labels
    while tensor.op.type in _PASS_THROUGH and tensor.op.inputs:
        chain.append(tensor.op.type)
        tensor = tensor.op.inputs[0]
    return tensor, tuple(chain)


def install() -> None:
    """Wrap ``base_head.check_label_range`` (idempotent)."""
    if _INSTALLED:
        return
    original = base_head.check_label_range
    checked_by_graph: weakref.WeakKeyDictionary[Any, dict[Any, tuple[Any, Any]]] = (
        weakref.WeakKeyDictionary()
    )

    def check_label_range(labels: Any, n_classes: int, message: str | None = None) -> Any:
        if (
            tf.executing_eagerly()
            or not isinstance(labels, tf.Tensor)
            or labels.graph.building_function
            or labels.op._control_flow_context is not None
        ):
            return original(labels, n_classes, message)
        source, chain = _source(labels)
        key = (id(source), chain, str(labels.shape), labels.dtype, n_classes, message)
        known = checked_by_graph.setdefault(labels.graph, {})
        hit = known.get(key)
        if hit is None or hit[0] is not source:
            checked = original(labels, n_classes, message)
            known[key] = (source, checked)
            return checked
        with tf.control_dependencies([labels]):
            return tf.identity(hit[1])

    _INSTALLED.append(check_label_range)
    base_head.check_label_range = check_label_range
