"""Training data splits → Estimator input functions, and feature columns with the preprocessing
built in."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import tensorflow as tf

from mlkit.data.training import TrainingSplit

ONE_HOT_MAX = 32
"""Categorical columns with at most this many ids are one-hot encoded; wider ones embedded."""


def embedding_dimension(n_ids: int) -> int:
    """An embedding's width for ``n_ids`` categories: about 1.6 n^0.56, from 2 to 32."""
    return int(max(2, min(32, round(1.6 * n_ids**0.56))))


def feature_columns(
    train_features: Mapping[str, np.ndarray],
    categorical: Mapping[str, int] | None = None,
    *,
    linear: bool = False,
):
    """One numeric column per feature, standardised with statistics of the training split; a
    categorical feature (``categorical``: name → number of ids, see ``mlkit.data.columns``) as
    one-hot (at most ``ONE_HOT_MAX`` ids) or an embedding, or as the identity column itself
    for a linear model (``linear``: one weight per category).

    The means and deviations become constants of the graph, so the exported SavedModel takes the
    raw values a client has and scales them itself.
    """
    categorical = categorical or {}
    columns = []
    for name in sorted(train_features):
        if name in categorical:
            ids = tf.feature_column.categorical_column_with_identity(
                name, num_buckets=categorical[name]
            )
            if linear:
                columns.append(ids)
            elif categorical[name] <= ONE_HOT_MAX:
                columns.append(tf.feature_column.indicator_column(ids))
            else:
                columns.append(
                    tf.feature_column.embedding_column(
                        ids, dimension=embedding_dimension(categorical[name])
                    )
                )
            continue
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


def serving_input_receiver_fn(
    feature_shapes: Mapping[str, tuple[int, ...]], categorical: Mapping[str, int] | None = None
):
    """Raw float inputs named as the features, of shape [batch, *feature shape]; int64 category
    ids for the ``categorical`` ones."""

    def _fn():
        inputs = {
            name: tf.compat.v1.placeholder(
                tf.int64 if name in (categorical or {}) else tf.float32,
                [None, *shape],
                name=name,
            )
            for name, shape in feature_shapes.items()
        }
        return tf.estimator.export.ServingInputReceiver(inputs, inputs)

    return _fn
