"""Gradient-boosted trees: the estimator alone (learns, grows trees, resumes from a checkpoint,
regression and multi-class heads), in AdaNet's AutoEnsemble pool through `mlkit train`, the
exported SavedModel equal to the estimator, and the `[search.pool.boosted_trees]` options."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mlkit.data import Arrays
from mlkit.errors import SpecError
from mlkit.experiment import SearchSpec, parse_experiment

REPO = Path(__file__).resolve().parents[2]
slow = pytest.mark.slow


def sklearn_split(name: str, seed: int = 0):
    """A bundled scikit-learn dataset, shuffled, 70% train / 30% test."""
    from sklearn import datasets

    x, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(y))
    x, y = x[order].astype(np.float32), y[order]
    cut = int(len(y) * 0.7)
    return Arrays(features={"x": x[:cut]}, labels=y[:cut]), Arrays(
        features={"x": x[cut:]}, labels=y[cut:]
    )


def estimator(task: str, n_classes: int, train, model_dir: Path, **options):
    import tensorflow as tf

    from mlkit.search.boosted_trees import BoostedTreesEstimator, TreeOptions
    from mlkit.search.estimators import head

    return BoostedTreesEstimator(
        head(task, n_classes),
        train.features,
        TreeOptions(**options),
        config=tf.estimator.RunConfig(model_dir=str(model_dir), tf_random_seed=1),
    )


def fit(est, task: str, split, steps: int):
    from mlkit.search.inputs import input_fn

    est.train(input_fn(split, task=task, batch_size=32, training=True), max_steps=steps)


def evaluate(est, task: str, split) -> dict:
    from mlkit.search.inputs import input_fn

    return est.evaluate(input_fn(split, task=task, batch_size=256, training=False))


def predictions(est, split, key: str) -> np.ndarray:
    import tensorflow as tf

    def features():
        return tf.data.Dataset.from_tensor_slices(split.features).batch(64)

    return np.stack([p[key] for p in est.predict(features)])


# -- the estimator alone -----------------------------------------------------------------------


@slow
def test_trees_learn_breast_cancer_and_the_loss_falls_as_trees_are_added(tmp_path):
    from mlkit.search.boosted_trees import ensemble_state

    train, test = sklearn_split("breast_cancer")
    est = estimator("classification", 2, train, tmp_path, n_trees=30, n_batches_per_layer=4)
    fit(est, "classification", train, 40)  # centring (up to 5 x 4 batches), then a tree or two
    early = evaluate(est, "classification", test)
    early_state = ensemble_state(est)
    fit(est, "classification", train, 200)
    late = evaluate(est, "classification", test)
    state = ensemble_state(est)

    majority = max(test.labels.mean(), 1 - test.labels.mean())
    assert late["accuracy"] >= majority + 0.25, (late["accuracy"], majority)
    assert late["average_loss"] < 0.7 * early["average_loss"], (early, late)
    assert 0 < early_state["trees_done"] < state["trees_done"] <= 30
    assert state["centering"] == 0
    # The trees in the checkpoint split on features and hold non-zero leaves.
    values = {
        name.split("/")[-1]: est.get_variable_value(name) for name in est.get_variable_names()
    }
    grown = state["trees_done"]
    assert (values["split_bucket"][:grown, 0] < 32).all()  # every root was split
    assert np.abs(values["leaf_values"][:grown]).max() > 0
    assert not values["leaf_values"][grown + 1 :].any()  # trees not grown yet stay empty
    # The bias was centred on the training labels' log-odds.
    p = train.labels.mean()
    assert values["bias"][0] == pytest.approx(np.log(p / (1 - p)), abs=0.3)


@slow
def test_restored_from_its_checkpoint_predicts_the_same_and_resumes_growing(tmp_path):
    from mlkit.search.boosted_trees import ensemble_state

    train, test = sklearn_split("breast_cancer", seed=1)
    first = estimator("classification", 2, train, tmp_path, n_trees=20, n_batches_per_layer=2)
    fit(first, "classification", train, 40)
    before = predictions(first, test, "logits")
    state = ensemble_state(first)
    tree0 = first.get_variable_value("boosted_trees/split_feature")[0].copy()

    # A new estimator object on the same directory: what `mlkit train --resume` does.
    again = estimator("classification", 2, train, tmp_path, n_trees=20, n_batches_per_layer=2)
    np.testing.assert_array_equal(predictions(again, test, "logits"), before)
    assert ensemble_state(again) == state
    fit(again, "classification", train, 80)
    after = ensemble_state(again)
    assert after["trees_done"] > state["trees_done"]  # continued, not restarted
    np.testing.assert_array_equal(again.get_variable_value("boosted_trees/split_feature")[0], tree0)


@slow
def test_regression_head_on_diabetes(tmp_path):
    train, test = sklearn_split("diabetes")
    est = estimator("regression", 0, train, tmp_path, n_trees=30, learning_rate=0.2)
    fit(est, "regression", train, 400)
    mse = evaluate(est, "regression", test)["average_loss"]
    assert mse < 0.75 * test.labels.var(), (mse, test.labels.var())  # predicting the mean: 1.0


@slow
def test_multi_class_head_on_wine(tmp_path):
    from mlkit.search.boosted_trees import ensemble_state

    train, test = sklearn_split("wine")
    est = estimator("classification", 3, train, tmp_path, n_trees=20, n_batches_per_layer=4)
    fit(est, "classification", train, 150)
    assert evaluate(est, "classification", test)["accuracy"] >= 0.85
    assert est.get_variable_value("boosted_trees/leaf_values").shape == (20, 8, 3)
    assert ensemble_state(est)["trees_done"] > 0


def test_bucket_boundaries_are_training_quantiles_padded_with_inf():
    from mlkit.search.boosted_trees import bucket_boundaries

    values = np.arange(100, dtype=np.float32)
    edges = bucket_boundaries({"a": values, "b": np.stack([values % 2, -values], 1)}, 4)
    assert edges.shape == (3, 3)
    np.testing.assert_allclose(edges[0], [24.75, 49.5, 74.25])
    binary = edges[1][np.isfinite(edges[1])]  # a 0/1 value: its two values in two buckets
    low, high = np.searchsorted(binary, [0.0, 1.0], side="right")
    assert low < high
    assert (np.diff(edges[2]) > 0).all()
    few = bucket_boundaries({"c": np.array([1.0, 1.0, 2.0, 2.0])}, 8)[0]
    assert np.isfinite(few).sum() < 7 and np.isinf(few[-1])  # repeated quantiles collapse


# -- in AdaNet's pool ----------------------------------------------------------------------------


@slow
def test_pool_ensemble_with_trees_exports_predictions_equal_to_the_estimator(tmp_path):
    import tensorflow as tf

    from mlkit.search.runner import run_search
    from tests.search.test_serving_export import estimator_outputs

    train, test = sklearn_split("breast_cancer", seed=2)
    spec = SearchSpec(
        method="auto_ensemble",
        strategy=["all"],  # every candidate joins: the export holds the trees for sure
        ensembler=["mean"],
        iterations=1,
        steps_per_iteration=60,
        batch_size=32,
        learning_rate=0.01,
        pool={
            "estimators": ["dnn", "linear", "boosted_trees"],
            "dnn_hidden_units": [16],
            "boosted_trees": {"n_trees": 10, "n_batches_per_layer": 2},
        },
    )
    evaluation = Arrays(features={"x": test.features["x"][:60]}, labels=test.labels[:60])
    result = run_search(spec, train, evaluation, test, n_classes=2, model_dir=tmp_path / "run")
    assert "boosted_trees" in result.architecture["subnetworks"]
    assert result.metrics["accuracy"] > 0.85
    (iteration,) = result.report["iterations"]
    assert {c["name"] for c in iteration["candidates"]} == {"dnn", "linear", "boosted_trees"}

    serving = tf.saved_model.load(str(result.export_dir)).signatures["serving_default"]
    served = serving(x=tf.constant(test.features["x"]))["probabilities"].numpy()
    expected = estimator_outputs(result, test.features, "probabilities")
    np.testing.assert_allclose(served, expected, rtol=1e-5, atol=1e-6)


@slow
def test_mlkit_train_breast_cancer_auto_pool_with_trees(mlkit_home, cli):
    from mlkit.config import load_settings
    from mlkit.data.experiment_data import load_experiment_data
    from mlkit.experiment import load_experiment
    from mlkit.savedmodel import SavedModelRunner

    shipped = REPO / "experiments" / "breast_cancer_auto.toml"
    # The shipped experiment, with statistics over 2 batches per layer: 60 steps grow trees.
    text = shipped.read_text()
    assert "n_batches_per_layer = 8" in text
    path = mlkit_home / "breast_cancer_auto.toml"
    path.write_text(text.replace("n_batches_per_layer = 8", "n_batches_per_layer = 2"))
    experiment, _ = load_experiment(path)
    assert experiment.search.pool.estimators == ["dnn", "linear", "boosted_trees"]
    assert cli("data", "load", "breast_cancer").code == 0
    result = cli("train", path, "--iterations", "1", "--steps", "60", "--json")
    assert result.code == 0, result.err
    outcome = json.loads(result.out)
    assert outcome["run"]["status"] == "finished"

    shown = json.loads(cli("runs", "show", "1", "--json").out)
    candidates = shown["run"]["report"]["iterations"][0]["candidates"]
    trees = next(c for c in candidates if c["name"] == "boosted_trees")
    assert trees["metrics"]["accuracy"] > 0.8
    assert {c["name"] for c in candidates} == {"dnn", "linear", "boosted_trees"}

    # The registered SavedModel, on the run's own test split, scores what the estimator scored.
    (saved,) = {p.parent for p in (mlkit_home / "artifacts").rglob("saved_model.pb")}
    data = load_experiment_data(experiment.data, load_settings(), task="classification")
    served = SavedModelRunner(saved).predict_arrays(data.test.features)
    accuracy = float((served["class_ids"].ravel() == data.test.labels).mean())
    assert accuracy == pytest.approx(outcome["metrics"]["accuracy"], abs=1e-6)


# -- the spec ------------------------------------------------------------------------------------


def test_boosted_trees_options_are_validated_one_line_each():
    base = {"experiment": {"name": "x"}, "data": {"source": "t", "label": "label"}}
    with pytest.raises(SpecError) as info:
        parse_experiment(
            {
                **base,
                "search": {
                    "method": "auto_ensemble",
                    "pool": {"boosted_trees": {"max_depth": 0, "learning_rate": 2, "n_tree": 5}},
                },
            },
            origin="x.toml",
        )
    lines = info.value.message.splitlines()
    assert "x.toml: search.pool.boosted_trees.max_depth: must be at least 1 (got 0)" in lines
    assert "x.toml: search.pool.boosted_trees.learning_rate: must be at most 1 (got 2)" in lines
    assert (
        "x.toml: search.pool.boosted_trees.n_tree: unknown key (did you mean 'n_trees'?)" in lines
    )
    spec = SearchSpec(pool={"boosted_trees": {"n_trees": 7}}).pool.boosted_trees
    assert (spec.n_trees, spec.max_depth, spec.center_bias) == (7, 3, True)


def test_an_accumulator_too_large_for_memory_is_a_spec_error():
    from mlkit.search.boosted_trees import BoostedTreesEstimator, TreeOptions
    from mlkit.search.estimators import head

    pixels = {"pixels": np.zeros((10, 784), np.float32)}
    with pytest.raises(SpecError, match=r"search.pool.boosted_trees: max_depth 8 x 784 feature"):
        BoostedTreesEstimator(
            head("classification", 10), pixels, TreeOptions(max_depth=8, buckets=256)
        )
