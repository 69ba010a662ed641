"""The export's graph holds the chosen ensemble only, and predicts what AdaNet's full graph does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.search.conftest import FINISHED_SPEC

pytestmark = pytest.mark.slow


@pytest.fixture
def finished(finished_search):
    model_dir, train, _, test = finished_search
    return model_dir, train, test


def _estimator(model_dir: Path, train, *, full: bool, monkeypatch):
    """An estimator on the finished run; ``full``: AdaNet's own PREDICT graph (every candidate)."""
    from mlkit.search import estimators
    from mlkit.search.runner import _eval_fn

    with monkeypatch.context() as patch:
        if full:
            patch.setattr(estimators, "predict_with_the_chosen_only", lambda _estimator: None)
        return estimators.build_estimator(
            FINISHED_SPEC, train.features, 3, model_dir, _eval_fn(FINISHED_SPEC, train)
        )


def _predict(estimator, rows) -> np.ndarray:
    import tensorflow as tf

    def input_fn():
        return tf.data.Dataset.from_tensor_slices(dict(rows.features)).batch(16)

    return np.array([p["probabilities"] for p in estimator.predict(input_fn)])


def _exported_nodes(estimator, train, where: Path) -> set[str]:
    from tensorflow.core.protobuf import saved_model_pb2

    from mlkit.search.inputs import serving_input_receiver_fn

    shapes = {name: tuple(v.shape[1:]) for name, v in train.features.items()}
    out = Path(estimator.export_saved_model(str(where), serving_input_receiver_fn(shapes)).decode())
    model = saved_model_pb2.SavedModel.FromString((out / "saved_model.pb").read_bytes())
    return {node.name for node in model.meta_graphs[0].graph_def.node}


def _scopes(nodes: set[str], kind: str) -> set[str]:
    """The iteration-1 subnetwork or ensemble scopes that have ops in the graph."""
    prefix = f"adanet/iteration_1/{kind}_t1_"
    return {n.split("/")[2] for n in nodes if n.startswith(prefix)}


@pytest.mark.parametrize("index", [1, 5, 0])
def test_the_export_builds_the_chosen_candidate_alone_and_predicts_as_the_full_graph(
    finished, monkeypatch, tmp_path, index
):
    """Candidates of the last iteration, as AdaNet numbers them: 0 the first iteration's
    ensemble, then grow's for each new subnetwork, then solo's."""
    model_dir, train, test = finished
    chosen = _estimator(model_dir, train, full=False, monkeypatch=monkeypatch)
    full = _estimator(model_dir, train, full=True, monkeypatch=monkeypatch)
    for estimator in (chosen, full):
        estimator._compute_best_ensemble_index = lambda checkpoint_path, hooks: index

    np.testing.assert_array_equal(_predict(chosen, test), _predict(full, test))

    all_nodes = _exported_nodes(full, train, tmp_path / "full")
    chosen_nodes = _exported_nodes(chosen, train, tmp_path / "chosen")
    assert len(_scopes(all_nodes, "ensemble")) >= 5  # AdaNet's graph: every candidate
    # the previous ensemble answers alone (with one subnetwork: AdaNet wants a builder)
    assert len(_scopes(chosen_nodes, "ensemble")) == (0 if index == 0 else 1)
    assert len(_scopes(chosen_nodes, "subnetwork")) == 1
    assert len(chosen_nodes) < len(all_nodes) / 2
