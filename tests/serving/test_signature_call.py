"""SignatureCall: the flat call and the single-threaded executor give what the structured call
gives, and a graph the single-threaded executor cannot run falls back to the default one."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from mlkit.errors import InvalidPayload
from mlkit.savedmodel import SavedModelRunner
from mlkit.signature_call import SMALL_CALL_ROWS, SignatureCall

# A TF1 SavedModel whose signature holds v1 control flow (Switch/Merge), which TensorFlow's
# single-threaded executor refuses; built in a subprocess (v1 graph mode is process-wide).
_V1_COND = textwrap.dedent(
    """
    import sys
    import tensorflow.compat.v1 as tf
    tf.disable_v2_behavior()
    tf.disable_control_flow_v2()
    with tf.Graph().as_default(), tf.Session() as session:
        x = tf.placeholder(tf.float32, [None, 2], name="x")
        total = tf.reduce_sum(x, axis=1)
        y = tf.cond(tf.reduce_sum(total) > 0.0, lambda: total * 2.0, lambda: total - 1.0)
        assert any(op.type == "Switch" for op in session.graph.get_operations())
        builder = tf.saved_model.Builder(sys.argv[1])
        signature = tf.saved_model.predict_signature_def({"x": x}, {"value": y})
        builder.add_meta_graph_and_variables(
            session, ["serve"], signature_def_map={"serving_default": signature}
        )
        builder.save()
    """
)


@pytest.fixture(scope="module")
def v1_cond(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("v1cond") / "model"
    subprocess.run([sys.executable, "-c", _V1_COND, str(path)], check=True, capture_output=True)
    return path


def test_small_calls_run_single_threaded_and_answer_as_the_structured_call(
    digits_v1: Path,
) -> None:
    fn = tf.saved_model.load(str(digits_v1)).signatures["predict"]
    call = SignatureCall(fn)
    assert call.order == ["pixels"]
    pixels = np.random.default_rng(0).uniform(0, 16, (3, 64)).astype(np.float32)
    expected = fn(pixels=tf.constant(pixels))
    got = call({"pixels": pixels})
    assert call.single_threaded is True
    assert sorted(got) == sorted(expected)
    for key in expected:
        np.testing.assert_array_equal(got[key].numpy(), expected[key].numpy())
    big = np.tile(pixels, (SMALL_CALL_ROWS, 1))  # a big call: the default executor, same rows
    np.testing.assert_array_equal(
        call({"pixels": big})["probabilities"].numpy()[:3], expected["probabilities"].numpy()
    )


def test_a_graph_the_single_threaded_executor_refuses_runs_on_the_default_one(
    v1_cond: Path,
) -> None:
    runner = SavedModelRunner(v1_cond)
    answer = runner.predict_instances([{"x": [1.0, 2.0]}, {"x": [0.5, 0.5]}])
    assert [round(a["value"], 6) for a in answer] == [6.0, 2.0]
    assert runner._call.single_threaded is False
    assert runner.predict_instances([{"x": [-1.0, -2.0]}])[0]["value"] == pytest.approx(-4.0)


def test_a_wrong_input_is_the_inputs_fault_whatever_the_executor(digits_v1: Path) -> None:
    runner = SavedModelRunner(digits_v1)
    with pytest.raises(InvalidPayload):
        runner.predict_instances([[1.0] * 63])
    assert runner._call.single_threaded is None  # not decided by a refused input
    runner.predict_instances([[1.0] * 64])
    assert runner._call.single_threaded is True
