"""A CNN subnetwork generator for image features (a flat list of pixels, as stored).

The builder reshapes the stored pixel list to ``[height, width, channels]`` and divides it by
``image_scale`` inside the graph, so the exported model takes the stored form as it is. Each
block is two 3x3 convolutions with batch normalisation, then 2x2 max pooling; the generator grows
the number of blocks like the DNN generator grows depth (the newest CNN's blocks, and one more).
"""

from __future__ import annotations

import math

from mlkit.search.compat import apply
from mlkit.search.generators import _Builder, newest_shared

apply()
import adanet  # noqa: E402  (patched by apply() first)
import tensorflow as tf  # noqa: E402


class CNNBuilder(_Builder):
    def __init__(
        self, feature, image_shape, scale, optimizer, filters, blocks, dropout, seed, augment
    ) -> None:
        self._augment = augment
        self._feature = feature
        self._shape = tuple(image_shape) if len(image_shape) == 3 else (*image_shape, 1)
        self._scale = scale
        self._optimizer = optimizer
        self._filters = filters
        self._blocks = blocks
        self._dropout = dropout
        self._seed = seed
        self._hparams = {"kind": "cnn", "blocks": blocks, "filters": filters, "dropout": dropout}
        self._complexity = math.sqrt(float(blocks)) * math.log2(float(filters) + 1.0) + 1.0

    @property
    def name(self) -> str:
        return f"cnn_{self._blocks}x{self._filters}"

    def build_subnetwork(
        self, features, logits_dimension, training, iteration_step, summary, previous_ensemble=None
    ):
        self._scope = tf.compat.v1.get_default_graph().get_name_scope() or None
        x = tf.cast(features[self._feature], tf.float32) / self._scale
        x = tf.reshape(x, [-1, *self._shape])
        if training and self._augment:
            x = _random_shift(x, self._seed)
        init = tf.compat.v1.glorot_uniform_initializer(seed=self._seed)
        filters = self._filters
        for _ in range(self._blocks):
            for _ in range(2):
                x = tf.compat.v1.layers.conv2d(
                    x, filters, 3, padding="same", use_bias=False, kernel_initializer=init
                )
                # momentum 0.9: the moving statistics settle within a short search too
                x = tf.compat.v1.layers.batch_normalization(x, momentum=0.9, training=training)
                x = tf.nn.relu(x)
            if min(x.shape[1], x.shape[2]) >= 2:
                x = tf.compat.v1.layers.max_pooling2d(x, 2, 2)
            filters *= 2
        x = (
            tf.reduce_mean(x, axis=[1, 2])
            if min(x.shape[1], x.shape[2]) > 2
            else (tf.compat.v1.layers.flatten(x))
        )
        if self._dropout:
            x = tf.compat.v1.layers.dropout(
                x, rate=self._dropout, training=training, seed=self._seed
            )
        logits = tf.compat.v1.layers.dense(x, logits_dimension, kernel_initializer=init)
        return adanet.Subnetwork(
            last_layer=x,
            logits=logits,
            complexity=tf.constant(self._complexity),
            shared={"kind": "cnn", "blocks": self._blocks},
        )


class CNNGenerator(adanet.subnetwork.Generator):
    def __init__(
        self,
        feature,
        image_shape,
        scale,
        optimizer,
        filters,
        max_blocks,
        dropout=0.0,
        seed=42,
        augment=True,
    ) -> None:
        self._augment = augment
        self._args = (feature, image_shape, scale, optimizer, filters)
        self._max_blocks = max_blocks
        self._dropout = dropout
        self._seed = seed

    def generate_candidates(
        self,
        previous_ensemble,
        iteration_number,
        previous_ensemble_reports,
        all_reports,
        config=None,
    ):
        newest = newest_shared(previous_ensemble, "cnn")
        blocks = 1 if newest is None else newest["blocks"]
        counts = sorted({blocks, min(blocks + 1, self._max_blocks)})
        return [
            CNNBuilder(*self._args, b, self._dropout, self._seed + iteration_number, self._augment)
            for b in counts
        ]


def _random_shift(images, seed: int):
    """Shift each training image by -1, 0 or +1 pixel in each direction (zero-filled).

    Handwriting is not centred exactly; the shifted copies teach the network that. Only the
    training graph has this; evaluation and the exported model see the images as they are.
    """
    height, width = images.shape[1], images.shape[2]
    padded = tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]])
    crops = tf.stack(
        [padded[:, dy : dy + height, dx : dx + width, :] for dy in range(3) for dx in range(3)],
        axis=1,
    )  # [batch, 9, h, w, c]
    pick = tf.random.uniform([tf.shape(images)[0]], 0, 9, dtype=tf.int32, seed=seed)
    weights = tf.one_hot(pick, 9, dtype=images.dtype)[:, :, None, None, None]
    return tf.reduce_sum(crops * weights, axis=1)
