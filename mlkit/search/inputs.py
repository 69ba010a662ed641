"""Training data splits → Estimator input functions, and feature columns with the preprocessing
built in."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import tensorflow as tf

from mlkit.data.training import TrainingSplit


def feature_columns(train_features: Mapping[str, np.ndarray]):
    """One numeric column per feature, standardised with statistics of the training split.

    The means and deviations become constants of the graph, so the exported SavedModel takes the
    raw values a client has and scales them itself.
    """
    columns = []
    for name in sorted(train_features):
        values = train_features[name].astype(np.float64)
        mean = values.mean(axis=0).astype(np.float32)
        std = values.std(axis=0)
        std = np.where(std > 1e-12, std, 1.0).astype(np.float32)
        columns.append(
            tf.feature_column.numeric_column(
                name,
                shape=values.shape[1:],
                normalizer_fn=lambda x, m=mean, s=std: (x - m) / s,
            )
        )
    return columns


def input_fn(
    split: TrainingSplit,
    *,
    task: str,
    batch_size: int,
    training: bool,
    seed: int = 0,
) -> Callable[[], tf.data.Dataset]:
    """An Estimator input_fn over a split of the training data (in memory or streamed: the split
    makes its batches). Training repeats and shuffles; evaluation makes one finite pass. Labels
    are shaped ``[batch, 1]``: int64 class ids, or float32 regression targets."""
    dtype = tf.float32 if task == "regression" else tf.int64

    def _fn():
        data = split.dataset(batch_size=batch_size, training=training, seed=seed)
        return data.map(lambda x, y: (x, tf.reshape(tf.cast(y, dtype), [-1, 1])))

    return _fn


def serving_input_receiver_fn(feature_shapes: Mapping[str, tuple[int, ...]]):
    """Raw float inputs named as the features, of shape [batch, *feature shape]."""

    def _fn():
        inputs = {
            name: tf.compat.v1.placeholder(tf.float32, [None, *shape], name=name)
            for name, shape in feature_shapes.items()
        }
        return tf.estimator.export.ServingInputReceiver(inputs, inputs)

    return _fn
