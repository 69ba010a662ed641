"""The heads' label-range check, built once per labels tensor (mlkit.search.label_checks)."""

from __future__ import annotations

import pytest


def test_the_label_range_check_is_built_once_and_still_refuses_bad_labels():
    from mlkit.search import estimators  # noqa: F401  (installs the check)
    from mlkit.search.compat import apply

    apply()
    import tensorflow as tf

    with tf.Graph().as_default() as graph:
        labels = tf.compat.v1.placeholder(tf.int64, [None])
        logits = tf.compat.v1.placeholder(tf.float32, [None, 3])
        head = tf.estimator.MultiClassHead(3)
        first = head.loss(labels=labels, logits=logits, features={})
        # a second candidate's head on the same labels
        second = head.loss(labels=labels, logits=logits * 2.0, features={})
        other = tf.compat.v1.placeholder(tf.int64, [None])
        third = head.loss(labels=other, logits=logits, features={})  # other labels: their own
        checks = {
            op.name.split("/check_label_range")[0]
            for op in graph.get_operations()
            if "/check_label_range/" in op.name
        }
        assert len(checks) == 2  # the first call on each labels tensor; the second reuses it
        feed = {logits: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], labels: [0, 1], other: [0, 2]}
        with tf.compat.v1.Session() as session:
            a, b, c = session.run([first, second, third], feed)
            assert a > 0 and b > 0 and c > 0
            with pytest.raises(tf.errors.InvalidArgumentError, match="n_classes"):
                session.run(second, {**feed, labels: [0, 3]})
