"""AdaNet's bookkeeping between iterations with one evaluation graph instead of two.

Between iterations (and once more for the final ensemble) AdaNet 0.9.0 builds the iteration's
evaluation graph twice on the same eval split: once to evaluate the candidate ensembles
(``_execute_candidate_evaluation_phase``) and once to materialise the candidates' report
(``_execute_report_materialization_phase``). Building that graph (every candidate, restored from
the checkpoint) is most of either phase on small data. :func:`share_evaluation_graph` makes the
evaluation phase also write the report from the graph it has just built (same checkpoint, same
input, a fresh session: the same numbers), and the report phase then skip that checkpoint.

AdaNet 0.9.0 is frozen: the private methods wrapped here (on one estimator instance) are stable.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf


def share_evaluation_graph(estimator: Any) -> None:
    """Wrap ``estimator``'s two phases so that the report comes from the evaluation's graph.

    Only when the evaluator and the report materializer read the same ``input_fn`` (as
    ``mlkit.search.estimators.build_estimator`` sets them); otherwise AdaNet's phases stay."""
    evaluator = getattr(estimator, "_evaluator", None)
    materializer = getattr(estimator, "_report_materializer", None)
    if evaluator is None or materializer is None or evaluator.input_fn is not materializer.input_fn:
        return
    reported: set[str] = set()
    report_phase = estimator._execute_report_materialization_phase

    def evaluation_phase(
        evaluator_input_fn: Any, export_best_architecture: bool, checkpoint_path: str, hooks: Any
    ) -> int:
        with estimator._call_input_fn_in_new_graph(
            evaluator_input_fn, tf.estimator.ModeKeys.EVAL, estimator.config
        ) as (features, labels, input_hooks):
            iteration, _ = estimator._create_iteration(
                features,
                labels,
                tf.estimator.ModeKeys.EVAL,
                estimator.config,
                is_growing_phase=False,
                checkpoint_path=checkpoint_path,
                hooks=hooks,
            )
            best = estimator._get_best_ensemble_index(iteration, input_hooks, checkpoint_path)
            architecture = iteration.candidates[best].ensemble_spec.architecture
            if export_best_architecture and evaluator_input_fn is materializer.input_fn:
                estimator._materialize_report(iteration, input_hooks, best, checkpoint_path)
                reported.add(checkpoint_path)
        if export_best_architecture:
            number = estimator._checkpoint_iteration_number(checkpoint_path)
            estimator._save_architecture(
                estimator._architecture_filename(number), architecture, checkpoint_path
            )
        return int(best)

    def report_materialization_phase(
        best_ensemble_index: int, checkpoint_path: str, hooks: Any
    ) -> None:
        if checkpoint_path in reported:
            return
        report_phase(best_ensemble_index, checkpoint_path=checkpoint_path, hooks=hooks)

    estimator._execute_candidate_evaluation_phase = evaluation_phase
    estimator._execute_report_materialization_phase = report_materialization_phase
