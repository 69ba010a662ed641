"""Choosing the best candidate and writing the iteration's report in one session gives what
AdaNet's two phases give (``mlkit.search.phases``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import tensorflow as tf

from tests.search.conftest import FINISHED_SPEC

pytestmark = pytest.mark.slow


def _reports(estimator) -> list[list[tuple[str, dict]]]:
    return [
        sorted((r.name, dict(r.metrics)) for r in iteration)
        for iteration in estimator._report_accessor.read_iteration_reports()
    ]


def _estimator(model_dir, train, evaluation):
    from mlkit.search.estimators import build_estimator
    from mlkit.search.runner import _eval_fn

    return build_estimator(
        FINISHED_SPEC, train.features, 3, model_dir, _eval_fn(FINISHED_SPEC, evaluation)
    )


@pytest.mark.parametrize("checkpoint_of", ["first", "last"])
def test_one_session_chooses_and_reports_as_adanets_two_phases(
    finished_search, tmp_path, checkpoint_of
):
    from mlkit.search.phases import share_evaluation_graph

    model_dir, train, evaluation, _ = finished_search
    chosen = {}
    reports = {}
    for way in ("adanet", "one session"):
        where = tmp_path / way
        shutil.copytree(model_dir, where)
        shutil.rmtree(where / "report")  # each way writes its own reports
        state = tf.train.get_checkpoint_state(str(where))
        paths = state.all_model_checkpoint_paths
        checkpoint = str(where / Path(paths[0] if checkpoint_of == "first" else paths[-1]).name)
        estimator = _estimator(where, train, evaluation)
        if way == "one session":
            share_evaluation_graph(estimator)
        chosen[way] = estimator._execute_candidate_evaluation_phase(
            estimator._evaluator.input_fn,
            export_best_architecture=True,
            checkpoint_path=checkpoint,
            hooks=None,
        )
        estimator._execute_report_materialization_phase(
            chosen[way], checkpoint_path=checkpoint, hooks=None
        )
        reports[way] = _reports(estimator)

    assert chosen["one session"] == chosen["adanet"]
    assert reports["one session"] == reports["adanet"]
    assert reports["adanet"] and all(reports["adanet"])
    # the eval split was read in full for the report: its metrics are over every row
    names = {name for name, _ in reports["adanet"][-1]}
    assert names and all("loss" in metrics for _, metrics in reports["adanet"][-1]), names
