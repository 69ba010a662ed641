"""The ``[search]`` section → an AdaNet estimator: heads, generators, ensemblers, strategies.

``method = "adanet"`` builds ``adanet.Estimator`` from subnetwork generators (DNN, CNN, linear);
``method = "auto_ensemble"`` builds ``adanet.AutoEnsembleEstimator`` from a pool of canned
``tf.estimator`` models (DNN, linear) and mlkit's gradient-boosted trees (``boosted_trees.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from mlkit.errors import SpecError
from mlkit.experiment import SearchSpec
from mlkit.search.compat import apply

apply()
import adanet  # noqa: E402  (patched by apply() first)
import tensorflow as tf  # noqa: E402

from mlkit.search.boosted_trees import BoostedTreesEstimator, TreeOptions  # noqa: E402
from mlkit.search.chosen_candidate import predict_with_the_chosen_only  # noqa: E402
from mlkit.search.cnn import CNNGenerator  # noqa: E402
from mlkit.search.distinct_candidates import build_each_candidate_once  # noqa: E402
from mlkit.search.generators import (  # noqa: E402
    CombinedGenerator,
    DNNGenerator,
    LinearGenerator,
    TargetScaling,
    optimizer_fn,
)
from mlkit.search.inputs import feature_columns  # noqa: E402
from mlkit.search.label_checks import install as check_labels_once  # noqa: E402

check_labels_once()

_STRATEGIES = {
    "grow": adanet.ensemble.GrowStrategy,
    "all": adanet.ensemble.AllStrategy,
    "solo": adanet.ensemble.SoloStrategy,
}

_KERAS_OPTIMIZERS = {
    "adam": tf.keras.optimizers.legacy.Adam,
    "sgd": tf.keras.optimizers.legacy.SGD,
    "adagrad": tf.keras.optimizers.legacy.Adagrad,
    "rmsprop": tf.keras.optimizers.legacy.RMSprop,
}


def head(task: str, n_classes: int):
    """Regression, binary (one logit, sigmoid) or multi-class (softmax) head."""
    if task == "regression":
        return tf.estimator.RegressionHead()
    if n_classes == 2:
        return tf.estimator.BinaryClassHead()
    return tf.estimator.MultiClassHead(n_classes)


def image_feature(spec: SearchSpec, shapes: Mapping[str, tuple[int, ...]]) -> str:
    """The feature the CNN generator reads; checked against the data's shapes."""
    if spec.image_shape is None:
        raise SpecError(
            "search.image_shape: required by the cnn generator, e.g. [8, 8] or [28, 28, 1]"
        )
    name = spec.image_feature
    if name is None:
        lists = [n for n, s in shapes.items() if s]
        if len(lists) != 1:
            raise SpecError(
                "search.image_feature: required by the cnn generator when the data has "
                f"{len(lists)} list features (expected the name of one of: {', '.join(shapes)})"
            )
        name = lists[0]
    if name not in shapes:
        raise SpecError(
            f"search.image_feature: no feature named {name!r} (features: {', '.join(shapes)})"
        )
    size = int(np.prod(spec.image_shape))
    have = int(np.prod(shapes[name])) if shapes[name] else 1
    if size != have:
        raise SpecError(
            f"search.image_shape: {list(spec.image_shape)} holds {size} values but feature "
            f"{name!r} has {have} per row"
        )
    return name


def build_estimator(
    spec: SearchSpec,
    train_features: Mapping[str, np.ndarray],
    n_classes: int,
    model_dir: Path,
    evaluation_input_fn,
    config: tf.estimator.RunConfig | None = None,
    train_labels: np.ndarray | None = None,
    categorical: Mapping[str, int] | None = None,
):
    """``categorical``: the features holding category ids and how many ids each has (see
    ``mlkit.search.inputs.feature_columns``)."""
    columns = feature_columns(train_features, categorical)
    linear_columns = feature_columns(train_features, categorical, linear=True)
    run_config = config or run_config_for(spec, model_dir)
    common = dict(
        head=head(spec.task, n_classes),
        max_iteration_steps=spec.steps_per_iteration,
        max_iterations=spec.iterations,
        ensemblers=_ensemblers(spec),
        ensemble_strategies=[_STRATEGIES[name]() for name in spec.strategy],
        evaluator=adanet.Evaluator(input_fn=evaluation_input_fn),
        report_materializer=adanet.ReportMaterializer(input_fn=evaluation_input_fn),
        config=run_config,
    )
    estimator: Any
    if spec.method == "auto_ensemble":
        estimator = adanet.AutoEnsembleEstimator(
            candidate_pool=_pool(
                spec, (columns, linear_columns), train_features, n_classes, run_config
            ),
            **common,
        )
    else:
        generator = _generator(spec, columns, train_features)
        if spec.task == "regression" and train_labels is not None:
            labels = np.asarray(train_labels, dtype=np.float64)
            generator = TargetScaling(generator, labels.mean(), labels.std())
        estimator = adanet.Estimator(subnetwork_generator=generator, **common)
    # the export's graph: the chosen candidate alone (installed first: it gets the distinct list)
    predict_with_the_chosen_only(estimator)
    # in every task of a cluster too: the chief's and the workers' graphs must be the same
    build_each_candidate_once(estimator)
    return estimator


def run_config_for(
    spec: SearchSpec, model_dir: Path, save_graphs: bool = True
) -> tf.estimator.RunConfig:
    """``save_graphs``: write ``graph.pbtxt``, a ``MetaGraphDef`` beside every checkpoint and the
    graph into the event files (megabytes per iteration, seconds to write on small data). Off
    when the run directory is trimmed after the run anyway (``mlkit.search.run_files``: every
    ``keep_after_run`` but ``all`` drops them); resuming and TensorBoard's scalars need none."""
    return tf.estimator.RunConfig(
        model_dir=str(model_dir),
        tf_random_seed=spec.seed,
        # A checkpoint at least every iteration and every few hundred steps: what a killed run
        # resumes from.
        save_checkpoints_steps=min(spec.steps_per_iteration, 200),
        keep_checkpoint_max=3,
        save_summary_steps=max(1, spec.steps_per_iteration // 10),
        log_step_count_steps=None,
        checkpoint_save_graph_def=save_graphs,
        session_config=_session_config(spec),
    )


SHORT_ITERATION_STEPS = 200
"""Iterations of at most this many steps run without TensorFlow's graph optimiser (Grappler)."""


def _session_config(spec: SearchSpec) -> tf.compat.v1.ConfigProto | None:
    """Grappler rewrites a search's whole graph (every candidate) each time a session starts:
    three sessions an iteration, about 0.7 s each for iris on 2 cores, which a short iteration
    never wins back (``bench/overhead.py``: the ``train`` stage 3.5 s -> 1.3 s for 2 x 10
    steps). Longer iterations keep it: its fused kernels pay off over many steps."""
    if spec.steps_per_iteration > SHORT_ITERATION_STEPS:
        return None
    config = tf.compat.v1.ConfigProto()
    config.graph_options.rewrite_options.disable_meta_optimizer = True
    return config


class _ComplexityRegularized(adanet.ensemble.ComplexityRegularizedEnsembler):
    """AdaNet's complexity-regularised ensembler, which also grows a previous *mean* ensemble.

    AdaNet 0.9.0 reads ``previous_ensemble.weighted_subnetworks``, which a ``MeanEnsemble`` does
    not have, so a search with both ensemblers crashed whenever the mean ensemble had won the
    previous iteration. The mean ensemble's members are handed over as unweighted members (fresh
    mixture weights, as without warm starting).
    """

    def build_ensemble(self, subnetworks, previous_ensemble_subnetworks, *args, **kwargs):
        if kwargs.get("summary") is not None:
            kwargs["summary"] = _WithoutHistograms(kwargs["summary"])
        previous = kwargs.get("previous_ensemble")
        if previous is not None and not hasattr(previous, "weighted_subnetworks"):
            members = list(getattr(previous, "subnetworks", []))
            kwargs["previous_ensemble"] = SimpleNamespace(
                weighted_subnetworks=[SimpleNamespace(subnetwork=s, weight=None) for s in members],
                subnetworks=members,
                bias=None,
            )
        return super().build_ensemble(subnetworks, previous_ensemble_subnetworks, *args, **kwargs)


class _WithoutHistograms:
    """AdaNet's summary for one ensemble, less the histogram of its mixture weights.

    Each histogram is a ``tf.cond`` of a few dozen ops per candidate ensemble, built again in
    every graph of the search (about 2 s of a 2 x 10-step iris run on 2 cores); the weights'
    norms and fractions stay as scalars, which say the same for the handful of members an
    ensemble has. mlkit reads neither (its learning curves are the ensembles' losses)."""

    def __init__(self, summary: Any) -> None:
        self._summary = summary

    def histogram(self, *args: Any, **kwargs: Any) -> tf.Tensor:
        return tf.constant("")  # what AdaNet's own summary returns for a skipped summary

    def __getattr__(self, name: str) -> Any:
        return getattr(self._summary, name)


def _ensemblers(spec: SearchSpec):
    ensemblers = []
    for name in spec.ensembler:
        if name == "mean":
            ensemblers.append(adanet.ensemble.MeanEnsembler())
        else:
            ensemblers.append(
                _ComplexityRegularized(
                    optimizer=tf.compat.v1.train.AdamOptimizer(learning_rate=spec.learning_rate),
                    adanet_lambda=spec.complexity_lambda,
                    adanet_beta=spec.complexity_beta,
                )
            )
    return ensemblers


def _generator(spec: SearchSpec, columns, train_features: Mapping[str, np.ndarray]):
    optimizer = optimizer_fn(
        spec.optimizer, spec.learning_rate, spec.learning_rate_schedule, spec.steps_per_iteration
    )
    shapes = {name: tuple(v.shape[1:]) for name, v in train_features.items()}
    generators = []
    for name in spec.generator:
        if name == "dnn":
            generators.append(
                DNNGenerator(
                    columns,
                    optimizer,
                    width=spec.layer_size,
                    max_depth=spec.max_depth,
                    max_width=spec.max_width,
                    dropout=spec.dropout,
                    seed=spec.seed,
                )
            )
        elif name == "cnn":
            generators.append(
                CNNGenerator(
                    image_feature(spec, shapes),
                    spec.image_shape,
                    spec.image_scale,
                    optimizer,
                    spec.cnn_filters,
                    spec.cnn_max_blocks,
                    dropout=spec.dropout,
                    seed=spec.seed,
                    augment=spec.cnn_augment,
                )
            )
        else:
            generators.append(LinearGenerator(columns, optimizer, seed=spec.seed))
    return generators[0] if len(generators) == 1 else CombinedGenerator(generators)


def _pool(spec: SearchSpec, column_sets, train_features, n_classes: int, config):
    columns, linear_columns = column_sets

    def optimizer():
        return _KERAS_OPTIMIZERS[spec.optimizer](learning_rate=spec.learning_rate)

    pool = {}
    for name in spec.pool.estimators:
        if name == "dnn":
            pool["dnn"] = tf.estimator.DNNEstimator(
                head=head(spec.task, n_classes),
                hidden_units=list(spec.pool.dnn_hidden_units),
                feature_columns=columns,
                optimizer=optimizer,
                config=config,
            )
        elif name == "linear":
            pool["linear"] = tf.estimator.LinearEstimator(
                head=head(spec.task, n_classes),
                feature_columns=linear_columns,
                optimizer=optimizer,
                config=config,
            )
        else:
            pool["boosted_trees"] = BoostedTreesEstimator(
                head=head(spec.task, n_classes),
                train_features=train_features,
                options=TreeOptions(**spec.pool.boosted_trees.model_dump()),
                config=config,
            )
    return pool
