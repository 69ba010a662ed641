"""AdaNet's bookkeeping between iterations with one evaluation graph instead of two.

Between iterations (and once more for the final ensemble) AdaNet 0.9.0 builds the iteration's
evaluation graph twice on the same eval split: once to evaluate the candidate ensembles
(``_execute_candidate_evaluation_phase``) and once to materialise the candidates' report
(``_execute_report_materialization_phase``). Building that graph (every candidate, restored from
the checkpoint) is most of either phase on small data. :func:`share_evaluation_graph` makes the
evaluation phase also write the report from the graph it has just built (same checkpoint, same
input: the same numbers), and the report phase then skip that checkpoint. Both run in one
session (:func:`_best_and_report`): the variables are restored once, and the eval split is read
again for the report by initialising its iterator again.

In that graph the iteration's candidate ensembles are built without their heads' evaluation
metrics (:class:`_WithoutEvalMetrics`): choosing the best reads only each ensemble's
``adanet_loss``, and the report reads the subnetworks' metrics and the previous ensemble's (both
built as before); the ensembles' accuracy, average loss... objects were read by nobody, and
building them (Keras metric objects and their variables, one set per candidate) was a third of
the phase.

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
    iteration_builder = estimator._iteration_builder
    build_iteration = iteration_builder.build_iteration

    def build_without_unread_metrics(*args: Any, **kwargs: Any) -> Any:
        """The iteration being evaluated (not a rebuilt earlier one, whose best ensemble is the
        report's ``previous_ensemble``) with ensemble heads that build no metric."""
        if kwargs.get("rebuilding"):
            return build_iteration(*args, **kwargs)
        ensembles = iteration_builder._ensemble_builder
        head = ensembles._head
        ensembles._head = _WithoutEvalMetrics(head)
        try:
            return build_iteration(*args, **kwargs)
        finally:
            ensembles._head = head

    def evaluation_phase(
        evaluator_input_fn: Any, export_best_architecture: bool, checkpoint_path: str, hooks: Any
    ) -> int:
        with estimator._call_input_fn_in_new_graph(
            evaluator_input_fn, tf.estimator.ModeKeys.EVAL, estimator.config
        ) as (features, labels, input_hooks):
            iteration_builder.build_iteration = build_without_unread_metrics
            try:
                iteration, _ = estimator._create_iteration(
                    features,
                    labels,
                    tf.estimator.ModeKeys.EVAL,
                    estimator.config,
                    is_growing_phase=False,
                    checkpoint_path=checkpoint_path,
                    hooks=hooks,
                )
            finally:
                iteration_builder.build_iteration = build_iteration
            report = export_best_architecture and evaluator_input_fn is materializer.input_fn
            if report and _one_session_fits(estimator):
                best = _best_and_report(estimator, iteration, input_hooks, checkpoint_path)
            else:
                best = estimator._get_best_ensemble_index(iteration, input_hooks, checkpoint_path)
                if report:
                    estimator._materialize_report(iteration, input_hooks, best, checkpoint_path)
            architecture = iteration.candidates[best].ensemble_spec.architecture
            if report:
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


def _one_session_fits(estimator: Any) -> bool:
    """Whether :func:`_best_and_report` does what AdaNet's two phases would: V1 checkpoints, an
    evaluator, no replay and no forced growth (as ``build_estimator`` makes them)."""
    return (
        estimator._evaluator is not None
        and not getattr(estimator, "_enable_v2_checkpoint", True)
        and not getattr(estimator, "_replay_config", None)
        and not getattr(estimator, "_force_grow", False)
    )


def _best_and_report(estimator: Any, iteration: Any, input_hooks: Any, checkpoint_path: str) -> int:
    """AdaNet's ``_get_best_ensemble_index`` and ``_materialize_report`` in one session: the
    variables restored once, the eval split read once for the candidates' objective and once more
    (its iterator initialised again) for the subnetworks' report metrics. Both phases opened a
    session, initialised and restored every variable, and built a Saver (about 400 ops on iris's
    second iteration) of their own."""
    candidates = iteration.candidates
    for hook in input_hooks:
        hook.begin()
    with tf.compat.v1.Session(config=estimator.config.session_config) as sess:
        scaffold = iteration.estimator_spec.scaffold
        local_init = scaffold.local_init_op if scaffold is not None else None
        sess.run(
            tf.group(
                tf.compat.v1.global_variables_initializer(),
                tf.compat.v1.local_variables_initializer(),
                tf.compat.v1.tables_initializer(),
                local_init if local_init is not None else tf.no_op(),
            )
        )
        tf.compat.v1.train.Saver(sharded=True).restore(sess, checkpoint_path)
        coord = tf.train.Coordinator()
        for hook in input_hooks:
            hook.after_create_session(sess, coord)
        if len(candidates) == 1:  # AdaNet evaluates nothing then
            best = 0
        else:
            objectives = []
            for candidate in candidates:
                metrics = candidate.ensemble_spec.eval_metrics.eval_metrics_ops()
                metrics["adanet_loss"] = tf.compat.v1.metrics.mean(
                    candidate.ensemble_spec.adanet_loss
                )
                objectives.append(metrics)
            values = estimator._evaluator.evaluate(sess, objectives)
            best = int(estimator._evaluator.objective_fn(values))
            for hook in input_hooks:  # the eval split again, from its first batch
                hook.after_create_session(sess, coord)
        members = candidates[best].ensemble_spec.architecture.subnetworks
        included = [name for number, name in members if number == iteration.number]
        reports = estimator._report_materializer.materialize_subnetwork_reports(
            sess, iteration.number, iteration.subnetwork_reports, included
        )
        estimator._report_accessor.write_iteration_report(iteration.number, reports)
    return best


class _WithoutEvalMetrics:
    """A head whose EVAL spec has the predictions and the loss, as the head's own, and no
    metrics; every other mode and attribute is the wrapped head's."""

    def __init__(self, head: Any) -> None:
        self._head = head

    def __getattr__(self, name: str) -> Any:
        return getattr(self._head, name)

    def create_estimator_spec(
        self, features: Any, mode: str, logits: Any, labels: Any = None, **kwargs: Any
    ) -> Any:
        if mode != tf.estimator.ModeKeys.EVAL:
            return self._head.create_estimator_spec(
                features=features, mode=mode, logits=logits, labels=labels, **kwargs
            )
        with tf.name_scope(self._head.name or "head"):
            predictions = self._head.predictions(logits)
            loss = self._head.loss(
                labels=labels,
                logits=logits,
                features=features,
                mode=mode,
                regularization_losses=kwargs.get("regularization_losses"),
            )
        return tf.estimator.EstimatorSpec(mode=mode, predictions=predictions, loss=loss)
