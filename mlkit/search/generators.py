"""AdaNet subnetwork generators.

``DNNGenerator`` grows depth: at each iteration it proposes the depth of the best subnetwork so far
and one layer deeper (capped at ``max_depth``), so AdaNet adds a deeper network only when it
improves the ensemble's objective.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

from mlkit.search.compat import apply

adanet = apply()
import tensorflow as tf  # noqa: E402

# tf.compat.v1.layers warns that it is deprecated on every call: it is what AdaNet's graph-mode
# subnetworks are built with, so the warning tells a user nothing.
warnings.filterwarnings("ignore", message=r"`tf.layers.\w+` is deprecated", category=UserWarning)

OptimizerFn = Callable[[], tf.compat.v1.train.Optimizer]

_OPTIMIZERS = {
    "adam": tf.compat.v1.train.AdamOptimizer,
    "sgd": tf.compat.v1.train.GradientDescentOptimizer,
    "adagrad": tf.compat.v1.train.AdagradOptimizer,
    "rmsprop": tf.compat.v1.train.RMSPropOptimizer,
}


def optimizer_fn(name: str, learning_rate: float) -> OptimizerFn:
    """A factory, because every AdaNet iteration builds a new graph and needs a new optimizer."""
    cls = _OPTIMIZERS[name]
    return lambda: cls(learning_rate=learning_rate)


class DNNBuilder(adanet.subnetwork.Builder):
    """A fully connected ReLU network of ``depth`` layers of ``width`` units."""

    def __init__(
        self,
        feature_columns,
        optimizer: OptimizerFn,
        width: int,
        depth: int,
        dropout: float,
        seed: int,
    ) -> None:
        self._feature_columns = feature_columns
        self._optimizer = optimizer
        self._width = width
        self._depth = depth
        self._dropout = dropout
        self._seed = seed

    @property
    def name(self) -> str:
        return f"dnn_{self._depth}x{self._width}"

    def build_subnetwork(
        self, features, logits_dimension, training, iteration_step, summary, previous_ensemble=None
    ):
        x = tf.compat.v1.feature_column.input_layer(features, self._feature_columns)
        init = tf.compat.v1.glorot_uniform_initializer(seed=self._seed)
        for _ in range(self._depth):
            x = tf.compat.v1.layers.dense(
                x, self._width, activation=tf.nn.relu, kernel_initializer=init
            )
            if self._dropout:
                x = tf.compat.v1.layers.dropout(
                    x, rate=self._dropout, training=training, seed=self._seed
                )
        logits = tf.compat.v1.layers.dense(x, logits_dimension, kernel_initializer=init)
        summary.scalar("depth", tf.constant(self._depth))
        return adanet.Subnetwork(
            last_layer=x,
            logits=logits,
            # AdaNet's complexity term: deeper networks pay more in the regularised objective.
            complexity=tf.constant(math.sqrt(float(self._depth))),
            shared={"depth": self._depth, "width": self._width},
        )

    def build_subnetwork_train_op(
        self, subnetwork, loss, var_list, labels, iteration_step, summary, previous_ensemble
    ):
        return self._optimizer().minimize(loss=loss, var_list=var_list)

    def build_subnetwork_report(self):
        return adanet.subnetwork.Report(
            hparams={"depth": self._depth, "width": self._width, "dropout": self._dropout},
            attributes={"depth": tf.constant(self._depth, dtype=tf.int32)},
            metrics={},
        )


class DNNGenerator(adanet.subnetwork.Generator):
    def __init__(
        self,
        feature_columns,
        optimizer: OptimizerFn,
        width: int,
        max_depth: int,
        dropout: float = 0.0,
        seed: int = 42,
    ) -> None:
        self._feature_columns = feature_columns
        self._optimizer = optimizer
        self._width = width
        self._max_depth = max_depth
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
        depth = 1
        if previous_ensemble and previous_ensemble.weighted_subnetworks:
            depth = previous_ensemble.weighted_subnetworks[-1].subnetwork.shared["depth"]
        depths = sorted({min(depth, self._max_depth), min(depth + 1, self._max_depth)})
        return [
            DNNBuilder(
                self._feature_columns,
                self._optimizer,
                self._width,
                d,
                self._dropout,
                self._seed + iteration_number,
            )
            for d in depths
        ]
