"""The exported model computes the chosen ensemble only, not every candidate of its iteration.

When AdaNet 0.9.0 exports (or predicts with) the final ensemble, it builds the last iteration in
PREDICT mode with every candidate ensemble and their subnetworks, stacks all of their
predictions and picks the chosen one's by index (``_best_predictions``: ``tf.stack(...)[i]``).
Every prediction then runs every candidate: on the iris example (4 subnetworks, ``grow`` and
``solo``) the export's graph held 9 candidates to answer with one, and each request the server
answers paid for all of them.

:func:`predict_with_the_chosen_only` makes the iteration builder, in PREDICT mode with the chosen
index known (AdaNet's ``best_ensemble_index_override``, which every export and ``predict`` sets),
build the chosen candidate alone: its own new subnetworks, and the previous ensemble that it
grows (the rebuilt earlier iterations are as before). Variables keep their names (each
subnetwork and ensemble has its own scope), so the checkpoint restores them; the predictions
are the same numbers (tested). When the previous iteration's ensemble is the one chosen, one
new subnetwork is still built (AdaNet refuses an iteration without a builder) and the previous
ensemble answers alone.

Candidates are numbered as AdaNet numbers them: the previous ensemble first (from the second
iteration on), then each ensembler's candidates in order. Training and evaluation graphs, and
rebuilt iterations, are untouched.

AdaNet 0.9.0 is frozen: the private ``build_iteration`` and ``_ensemblers`` of its iteration
builder, used here, are stable.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf


def predict_with_the_chosen_only(estimator: Any) -> None:
    """Wrap ``estimator``'s iteration builder so that a PREDICT graph with a known best index
    holds that candidate only. ``mlkit.search.estimators.build_estimator`` installs it first (so
    ``mlkit.search.distinct_candidates`` numbers the candidates it receives)."""
    builder = estimator._iteration_builder
    build_iteration = builder.build_iteration

    def build_chosen(*args: Any, **kwargs: Any) -> Any:
        chosen = kwargs.get("best_ensemble_index_override")
        if (
            kwargs.get("mode") != tf.estimator.ModeKeys.PREDICT
            or chosen is None
            or kwargs.get("rebuilding")
            or "ensemble_candidates" not in kwargs
            or "subnetwork_builders" not in kwargs
        ):
            return build_iteration(*args, **kwargs)
        candidates = list(kwargs["ensemble_candidates"])
        ensemblers = list(builder._ensemblers)
        offset = 1 if kwargs.get("previous_iteration") is not None else 0
        position = int(chosen) - offset
        if position >= len(candidates) * len(ensemblers):
            return build_iteration(*args, **kwargs)  # not an index of this list: AdaNet decides
        if position < 0:  # the previous ensemble: it answers alone, beside one built subnetwork
            kwargs.update(
                subnetwork_builders=list(kwargs["subnetwork_builders"])[:1],
                ensemble_candidates=[],
                best_ensemble_index_override=0,
            )
            return build_iteration(*args, **kwargs)
        ensembler = ensemblers[position // len(candidates)]
        candidate = candidates[position % len(candidates)]
        members = {b.name for b in candidate.subnetwork_builders}
        kwargs.update(
            subnetwork_builders=[b for b in kwargs["subnetwork_builders"] if b.name in members],
            ensemble_candidates=[candidate],
            best_ensemble_index_override=offset,
        )
        builder._ensemblers = [ensembler]
        try:
            return build_iteration(*args, **kwargs)
        finally:
            builder._ensemblers = ensemblers

    builder.build_iteration = build_chosen


__all__ = ["predict_with_the_chosen_only"]
