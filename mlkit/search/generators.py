"""AdaNet subnetwork generators for vectors of numbers: a DNN that grows, and a linear model.

``DNNGenerator`` grows depth and width: at each iteration it proposes the shape of the newest
subnetwork in the ensemble, one layer deeper, and twice as wide (capped at ``max_depth`` and
``max_width``), so AdaNet adds a bigger network only when it improves the ensemble's objective.
``LinearGenerator`` proposes one linear model (logistic or linear regression), a strong
candidate on small tabular data and a cheap first member for an ensemble.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

from mlkit.search.compat import apply

apply()
import adanet  # noqa: E402  (patched by apply() first)
import tensorflow as tf  # noqa: E402

# tf.compat.v1.layers warns that it is deprecated on every call: it is what AdaNet's graph-mode
# subnetworks are built with, so the warning tells a user nothing.
warnings.filterwarnings("ignore", message=r"`tf.layers.\w+` is deprecated", category=UserWarning)

OptimizerFn = Callable[[tf.Tensor | None], tf.compat.v1.train.Optimizer]

_OPTIMIZERS = {
    "adam": tf.compat.v1.train.AdamOptimizer,
    "sgd": tf.compat.v1.train.GradientDescentOptimizer,
    "adagrad": tf.compat.v1.train.AdagradOptimizer,
    "rmsprop": tf.compat.v1.train.RMSPropOptimizer,
}


def optimizer_fn(
    name: str, learning_rate: float, schedule: str = "constant", decay_steps: int = 1
) -> OptimizerFn:
    """A factory, because every AdaNet iteration builds a new graph and needs a new optimizer.

    With ``schedule="cosine"`` the rate decays to zero over ``decay_steps`` steps of the
    iteration (``iteration_step`` restarts at 0 in every iteration, so every new candidate gets
    the full schedule).
    """
    cls = _OPTIMIZERS[name]

    def make(iteration_step: tf.Tensor | None = None):
        rate = learning_rate
        if schedule == "cosine" and iteration_step is not None:
            rate = tf.compat.v1.train.cosine_decay(learning_rate, iteration_step, decay_steps)
        return cls(learning_rate=rate)

    return make


def ensemble_members(previous_ensemble) -> list:
    """The previous ensemble's subnetworks, whichever ensembler built it."""
    if previous_ensemble is None:
        return []
    if hasattr(previous_ensemble, "weighted_subnetworks"):  # complexity-regularised
        return [w.subnetwork for w in previous_ensemble.weighted_subnetworks]
    return list(getattr(previous_ensemble, "subnetworks", []))  # mean


def newest_shared(previous_ensemble, kind: str) -> dict | None:
    """The ``shared`` hyperparameters of the newest ensemble member of ``kind`` (None: none)."""
    for member in reversed(ensemble_members(previous_ensemble)):
        shared = member.shared or {}
        if shared.get("kind") == kind:
            return shared
    return None


class _Builder(adanet.subnetwork.Builder):
    """Shared parts: the optimizer's train op and a report of the hyperparameters."""

    _optimizer: OptimizerFn
    _hparams: dict
    _complexity: float

    def build_subnetwork_train_op(
        self, subnetwork, loss, var_list, labels, iteration_step, summary, previous_ensemble
    ):
        # Batch-norm statistics of this subnetwork only (the collection is graph-wide and holds
        # every candidate's).
        scope = getattr(self, "_scope", None)
        update_ops = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS, scope=scope)
        with tf.control_dependencies(update_ops):
            return self._optimizer(iteration_step).minimize(loss=loss, var_list=var_list)

    def build_subnetwork_report(self):
        return adanet.subnetwork.Report(
            hparams=dict(self._hparams),
            attributes={"complexity": tf.constant(self._complexity, dtype=tf.float32)},
            metrics={},
        )


class DNNBuilder(_Builder):
    """A fully connected ReLU network of ``depth`` layers of ``width`` units."""

    def __init__(self, feature_columns, optimizer, width, depth, dropout, seed) -> None:
        self._feature_columns = feature_columns
        self._optimizer = optimizer
        self._width = width
        self._depth = depth
        self._dropout = dropout
        self._seed = seed
        self._hparams = {"kind": "dnn", "depth": depth, "width": width, "dropout": dropout}
        # AdaNet's complexity term (Rademacher-style): grows with depth and with width.
        self._complexity = math.sqrt(float(depth)) * math.log2(float(width) + 1.0)

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
            complexity=tf.constant(self._complexity),
            shared={"kind": "dnn", "depth": self._depth, "width": self._width},
        )


class DNNGenerator(adanet.subnetwork.Generator):
    def __init__(
        self, feature_columns, optimizer, width, max_depth, max_width=None, dropout=0.0, seed=42
    ) -> None:
        self._feature_columns = feature_columns
        self._optimizer = optimizer
        self._width = width
        self._max_width = max_width or width
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
        newest = newest_shared(previous_ensemble, "dnn")
        depth, width = (1, self._width) if newest is None else (newest["depth"], newest["width"])
        shapes = {
            (depth, width),
            (min(depth + 1, self._max_depth), width),
            (depth, min(width * 2, self._max_width)),
        }
        return [
            DNNBuilder(
                self._feature_columns,
                self._optimizer,
                w,
                d,
                self._dropout,
                self._seed + iteration_number,
            )
            for d, w in sorted(shapes)
        ]


class LinearBuilder(_Builder):
    def __init__(self, feature_columns, optimizer, seed) -> None:
        self._feature_columns = feature_columns
        self._optimizer = optimizer
        self._seed = seed
        self._hparams = {"kind": "linear"}
        self._complexity = 1.0

    @property
    def name(self) -> str:
        return "linear"

    def build_subnetwork(
        self, features, logits_dimension, training, iteration_step, summary, previous_ensemble=None
    ):
        x = tf.compat.v1.feature_column.input_layer(features, self._feature_columns)
        init = tf.compat.v1.glorot_uniform_initializer(seed=self._seed)
        logits = tf.compat.v1.layers.dense(x, logits_dimension, kernel_initializer=init)
        return adanet.Subnetwork(
            last_layer=x,
            logits=logits,
            complexity=tf.constant(self._complexity),
            shared={"kind": "linear"},
        )


class LinearGenerator(adanet.subnetwork.Generator):
    """One linear candidate per iteration (AdaNet adds it only if it lowers the objective)."""

    def __init__(self, feature_columns, optimizer, seed=42) -> None:
        self._feature_columns = feature_columns
        self._optimizer = optimizer
        self._seed = seed

    def generate_candidates(
        self,
        previous_ensemble,
        iteration_number,
        previous_ensemble_reports,
        all_reports,
        config=None,
    ):
        return [
            LinearBuilder(self._feature_columns, self._optimizer, self._seed + iteration_number)
        ]


class CombinedGenerator(adanet.subnetwork.Generator):
    """Every candidate of every generator in the search space, at every iteration."""

    def __init__(self, generators) -> None:
        self._generators = list(generators)

    def generate_candidates(
        self,
        previous_ensemble,
        iteration_number,
        previous_ensemble_reports,
        all_reports,
        config=None,
    ):
        return [
            builder
            for generator in self._generators
            for builder in generator.generate_candidates(
                previous_ensemble,
                iteration_number,
                previous_ensemble_reports,
                all_reports,
                config=config,
            )
        ]


class _ScaledOutputBuilder(adanet.subnetwork.Builder):
    """A builder whose output is ``logits * std + mean``: regression targets far from 0 (a
    price, a score of 150) are learned in standard units, so every candidate starts at the mean."""

    def __init__(self, builder, mean: float, std: float) -> None:
        self._builder = builder
        self._mean = mean
        self._std = std

    @property
    def name(self) -> str:
        return self._builder.name

    def build_subnetwork(self, *args, **kwargs):
        subnetwork = self._builder.build_subnetwork(*args, **kwargs)
        return subnetwork._replace(logits=subnetwork.logits * self._std + self._mean)

    def build_subnetwork_train_op(self, *args, **kwargs):
        return self._builder.build_subnetwork_train_op(*args, **kwargs)

    def build_subnetwork_report(self):
        return self._builder.build_subnetwork_report()


class TargetScaling(adanet.subnetwork.Generator):
    """Wraps a generator's candidates for regression (training-split label mean and deviation)."""

    def __init__(self, generator, mean: float, std: float) -> None:
        self._generator = generator
        self._mean = float(mean)
        self._std = float(std) if std > 1e-12 else 1.0

    def generate_candidates(self, *args, **kwargs):
        return [
            _ScaledOutputBuilder(b, self._mean, self._std)
            for b in self._generator.generate_candidates(*args, **kwargs)
        ]
