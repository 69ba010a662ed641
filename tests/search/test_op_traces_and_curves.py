"""The search's cheaper bookkeeping: one creation trace for the ops it builds, learning curves read
without TensorFlow, and drawn in a process of their own."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from mlkit.search.curves_process import CurvesInBackground, curves_and_plot
from mlkit.search.reports import learning_curves


def _frames(op) -> list[tuple[str, str]]:
    return [(frame.filename, frame.name) for frame in op.traceback]


def _build_two_constants():
    import tensorflow as tf

    return tf.constant(1.0), tf.constant(2.0)


def test_ops_built_in_the_block_share_the_entry_stack_and_get_their_own_after():
    import tensorflow as tf

    from mlkit.search.op_traces import one_trace_per_op_build

    with tf.Graph().as_default():
        with one_trace_per_op_build():
            first, second = _build_two_constants()
            with one_trace_per_op_build():  # nested: still the outer block's stack
                third = tf.constant(3.0)
        after = tf.constant(4.0)
    shared = _frames(first.op)
    assert shared == _frames(second.op) == _frames(third.op)
    assert (
        shared[-1][1] == "test_ops_built_in_the_block_share_the_entry_stack_and_get_their_own_after"
    )
    assert "_build_two_constants" not in {name for _, name in shared}
    # after the block TensorFlow records each op's own stack again
    assert _frames(after.op) != shared
    with tf.Graph().as_default():
        own, _ = _build_two_constants()
    assert "_build_two_constants" in {name for _, name in _frames(own.op)}


def test_an_error_in_a_graph_built_in_the_block_still_names_its_op():
    import tensorflow as tf

    from mlkit.search.op_traces import one_trace_per_op_build

    with tf.Graph().as_default() as graph:
        with one_trace_per_op_build():
            value = tf.compat.v1.placeholder(tf.float32, [None])
            checked = tf.debugging.check_numerics(value, "the value", name="mlkit_checked")
        with (
            tf.compat.v1.Session(graph=graph) as session,
            pytest.raises(tf.errors.InvalidArgumentError, match=r"the value[\s\S]*mlkit_checked"),
        ):
            session.run(checked, {value: [float("nan")]})


def _write_events(folder: Path, losses: dict[int, float], tensor: bool = False) -> Path:
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
    from tensorboard.util.tensor_util import make_tensor_proto

    writer = EventFileWriter(str(folder))
    for step, loss in losses.items():
        value = (
            Summary.Value(tag="loss", tensor=make_tensor_proto(loss))
            if tensor
            else Summary.Value(tag="loss", simple_value=loss)
        )
        other = Summary.Value(tag="accuracy", simple_value=0.5)
        writer.add_event(Event(step=step, summary=Summary(value=[value, other])))
    writer.close()
    return next(folder.glob("events.out.tfevents.*"))


def test_learning_curves_read_scalars_and_tensors_and_what_a_cut_file_holds(tmp_path: Path):
    ensembles = tmp_path / "ensemble"
    (ensembles / "t0_dnn").mkdir(parents=True)
    (ensembles / "t0_linear").mkdir(parents=True)
    _write_events(ensembles / "t0_dnn", {0: 1.5, 10: 0.75, 20: 0.5})
    cut = _write_events(ensembles / "t0_linear", {0: 2.0, 10: 1.0, 20: 0.25}, tensor=True)
    cut.write_bytes(cut.read_bytes()[:-7])  # a killed writer: its last record is cut short

    curves = learning_curves(tmp_path)

    assert curves["t0_dnn"] == [[0, 1.5], [10, 0.75], [20, 0.5]]
    assert curves["t0_linear"] == [[0, 2.0], [10, 1.0]]


def test_the_curves_process_draws_the_plot_without_tensorflow_and_answers_as_here(
    tmp_path: Path,
):
    (tmp_path / "ensemble" / "t0_dnn").mkdir(parents=True)
    _write_events(tmp_path / "ensemble" / "t0_dnn", {0: 1.5, 10: 0.75})
    plot = tmp_path / "curves.png"

    curves = CurvesInBackground(tmp_path, plot).result()

    assert curves == {"t0_dnn": [[0, 1.5], [10, 0.75]]}
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert curves == curves_and_plot(tmp_path, tmp_path / "here.png")


def test_the_curves_are_made_here_when_no_process_can_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    (tmp_path / "ensemble" / "t0_dnn").mkdir(parents=True)
    _write_events(tmp_path / "ensemble" / "t0_dnn", {5: 0.25})
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    plot = tmp_path / "curves.png"

    background = CurvesInBackground(tmp_path, plot)

    assert background.result() == {"t0_dnn": [[5, 0.25]]}
    assert plot.is_file()


def test_the_curves_process_needs_no_tensorflow(tmp_path: Path):
    import subprocess

    (tmp_path / "ensemble" / "t0_dnn").mkdir(parents=True)
    _write_events(tmp_path / "ensemble" / "t0_dnn", {1: 0.5})
    code = (
        "import json, sys; from pathlib import Path; "
        "from mlkit.search.curves_process import curves_and_plot; "
        f"c = curves_and_plot(Path({str(tmp_path)!r}), Path({str(tmp_path / 'p.png')!r})); "
        "print(json.dumps([c, 'tensorflow' in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    curves, imported = json.loads(done.stdout)
    assert curves == {"t0_dnn": [[1, 0.5]]}
    assert imported is False
