"""AdaNet's growing phase done by the next iteration's training session, not a graph of its own.

Between two iterations AdaNet 0.9.0 grows the graph (``_execute_graph_growing_phase``): it builds
the next iteration's training graph in a temporary estimator, initialises every variable, restores
the previous iterations' ones from the last checkpoint, sets ``current_iteration`` to the next
number and saves that as a new checkpoint (``increment.ckpt-N``); then the training loop builds
the very same graph again to train it, restoring from that checkpoint. The first build was a third
of the bookkeeping between iterations (about 6 s of a 2 x 10-step iris search on 2 cores).

:func:`grow_in_next_training` leaves the checkpoint as it is and makes the training loop's own
build do the growing: that build reads the next iteration's number for that checkpoint (so it
builds the same graph the growing phase would have built, op for op: the same seeds, the same
initial values), and its session, where it would restore the whole graph from that checkpoint,
runs the graph's init op, restores the variables that existed before the new iteration's
candidates were built (AdaNet's own ``previous_iteration_vars``) and sets ``current_iteration``:
what AdaNet's ``_OverwriteCheckpointHook`` does. The training session saves its first checkpoint
as it starts (``CheckpointSaverHook``), the grown state a resumed run reads.

A process killed before that first checkpoint leaves the last iteration's checkpoint, as a
process killed during AdaNet's own growing phase does: the resumed search redoes the bookkeeping.
Only for one process (not a ``TF_CONFIG`` cluster, whose workers wait for the chief's grown
checkpoint) and AdaNet's V1 checkpoints, as mlkit's estimators use; otherwise AdaNet's phase stays.
AdaNet 0.9.0 is frozen: the private methods wrapped here (on one estimator instance) are stable.
"""

from __future__ import annotations

import inspect
from typing import Any

import tensorflow as tf


def grow_in_next_training(estimator: Any) -> bool:
    """Wrap ``estimator`` (on this instance) so that its next training session grows the graph;
    False where AdaNet's growing phase stays (a cluster, V2 checkpoints)."""
    config = estimator.config
    if getattr(estimator, "_enable_v2_checkpoint", True) or config.cluster_spec.jobs:
        return False
    grown: dict[str, int] = {}  # checkpoint path -> the iteration it is to be grown into
    building: dict[str, Any] = {}  # the training build under way for such a checkpoint
    iteration_number = estimator._checkpoint_iteration_number
    create_iteration = estimator._create_iteration
    generate_candidates = estimator._call_generate_candidates
    create_estimator_spec = estimator._create_estimator_spec

    def growing_phase(train_input_fn: Any, train_hooks: Any, checkpoint_path: str) -> None:
        grown[checkpoint_path] = int(iteration_number(checkpoint_path)) + 1

    def checkpoint_iteration_number(checkpoint_path: str | None) -> int:
        if checkpoint_path in grown:
            return grown[checkpoint_path]
        return int(iteration_number(checkpoint_path))

    iteration_arguments = inspect.signature(create_iteration).bind
    spec_arguments = inspect.signature(create_estimator_spec).bind

    def iteration(*args: Any, **kwargs: Any) -> Any:
        given = iteration_arguments(*args, **kwargs).arguments
        path = given["checkpoint_path"]
        building.clear()
        if (
            given["mode"] == tf.estimator.ModeKeys.TRAIN
            and not given["is_growing_phase"]
            and path in grown
        ):
            building["checkpoint"] = path
        return create_iteration(*args, **kwargs)

    def candidates(*args: Any, **kwargs: Any) -> Any:
        # AdaNet's previous_iteration_vars: what exists once the earlier iterations are rebuilt,
        # before this iteration's candidates are (each rebuilt iteration generates its
        # candidates too: the last call is the new iteration's)
        if "checkpoint" in building:
            collections = tf.compat.v1.GraphKeys
            building["previous"] = tf.compat.v1.get_collection(
                collections.GLOBAL_VARIABLES
            ) + tf.compat.v1.get_collection(collections.SAVEABLE_OBJECTS)
        return generate_candidates(*args, **kwargs)

    def estimator_spec(*args: Any, **kwargs: Any) -> Any:
        spec = create_estimator_spec(*args, **kwargs)
        if "previous" not in building or spec.mode != tf.estimator.ModeKeys.TRAIN:
            return spec
        path = building["checkpoint"]
        variable = spec_arguments(*args, **kwargs).arguments["iteration_number_tensor"]
        saver = _GrowingSaver(
            path,
            building["previous"],
            variable,
            grown[path],
            done=lambda: grown.pop(path, None),
            sharded=True,
            max_to_keep=config.keep_checkpoint_max,
            keep_checkpoint_every_n_hours=config.keep_checkpoint_every_n_hours,
            defer_build=True,
            save_relative_paths=True,
        )
        building.clear()
        scaffold = tf.compat.v1.train.Scaffold(
            summary_op=spec.scaffold.summary_op,
            saver=saver,
            local_init_op=spec.scaffold.local_init_op,
        )
        saver.scaffold = scaffold
        return spec._replace(scaffold=scaffold)

    estimator._execute_graph_growing_phase = growing_phase
    estimator._checkpoint_iteration_number = checkpoint_iteration_number
    estimator._create_iteration = iteration
    estimator._call_generate_candidates = candidates
    estimator._create_estimator_spec = estimator_spec
    return True


class _GrowingSaver(tf.compat.v1.train.Saver):
    """The training graph's saver (as the Estimator makes it), except when its session restores
    the checkpoint it grows from: then it initialises the graph as the growing phase's session
    does, restores the variables of the earlier iterations and sets ``current_iteration``."""

    def __init__(
        self,
        grows_from: str,
        previous: list[Any],
        iteration_variable: Any,
        iteration: int,
        done: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._grows_from = grows_from
        self._previous_variables = previous
        self._iteration_variable = iteration_variable
        self._iteration = iteration
        self._done = done
        self._previous: Any = None
        self._set_iteration: Any = None
        self.scaffold: Any = None

    def build(self) -> None:
        super().build()
        if self._previous is None:
            self._previous = tf.compat.v1.train.Saver(
                sharded=True, var_list=self._previous_variables
            )
            self._set_iteration = self._iteration_variable.assign(self._iteration)

    def restore(self, sess: Any, save_path: Any) -> Any:
        if save_path != self._grows_from or self.scaffold is None:
            return super().restore(sess, save_path)
        sess.run(self.scaffold.init_op)
        self._previous.restore(sess, save_path)
        sess.run(self._set_iteration)
        self._done()
        return None
