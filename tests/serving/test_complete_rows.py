"""Raw rows completed for TF Serving (``mlkit.serving.complete``) and the NaN a completed row
carries, which the one rule for numbers takes as a NULL only for a raw tabular input."""

from __future__ import annotations

import math

import pytest

from mlkit.errors import InvalidPayload
from mlkit.serving.complete import complete_instances, input_forms, needs_completion
from mlkit.serving.values import number_problem

METADATA = {
    "model_spec": {"name": "churn", "signature_name": "serving_default", "version": "1"},
    "metadata": {
        "signature_def": {
            "signature_def": {
                "serving_default": {
                    "inputs": {
                        "plan": {"dtype": "DT_STRING", "tensor_shape": {"dim": [{"size": "-1"}]}},
                        "fee": {"dtype": "DT_FLOAT", "tensor_shape": {"dim": [{"size": "-1"}]}},
                        "pixels": {
                            "dtype": "DT_FLOAT",
                            "tensor_shape": {"dim": [{"size": "-1"}, {"size": "4"}]},
                        },
                    }
                }
            }
        }
    },
}


def test_rows_get_every_scalar_input_of_the_signature():
    forms = input_forms(METADATA)
    assert forms == {"plan": "text", "fee": "number"}  # [batch, 4] left as given
    rows = [{"plan": "pro", "fee": 3.0}, {"plan": None}, {"fee": 1}, [1, 2]]
    assert needs_completion(rows, forms) and not needs_completion(rows[:1], forms)
    done = complete_instances(rows, forms)
    assert done[0] == rows[0] and done[1]["plan"] == "" and math.isnan(done[1]["fee"])
    assert done[2] == {"fee": 1, "plan": ""} and done[3] == [1, 2]
    assert rows[1] == {"plan": None}  # the caller's rows are not changed
    with pytest.raises(InvalidPayload, match="instance 1: feature 'fee' is missing or null"):
        complete_instances(rows, forms, nan_allowed=False)


def test_nan_is_a_null_only_where_a_raw_row_may_have_one():
    rows = [{"fee": math.nan, "x": 1.0}]
    assert number_problem(rows, {"fee"}) is None
    assert "value NaN at fee is out of range" in (number_problem(rows) or "")
    assert "value NaN at x" in (number_problem([{"x": math.nan}], {"fee"}) or "")
    assert "Infinity" in (number_problem([{"fee": math.inf}], {"fee"}) or "")


def test_an_exports_inputs_file_gives_the_forms_vertex_rows_are_completed_with(tmp_path):
    import json

    from mlkit.serving.complete import INPUTS_FILE, artifact_forms

    meta = {
        "plan": {"form": "category", "kind": "categorical", "nullable": True, "shape": []},
        "signed_up": {"form": "time", "kind": "date", "nullable": True, "shape": []},
        "fee": {"form": "scalar", "kind": "numeric", "nullable": True, "shape": []},
        "emb": {"form": "array", "kind": "array", "nullable": False, "shape": [3]},
        "pixels": {"form": "string", "shape": [64]},  # an image export: left as given
    }
    assert artifact_forms(tmp_path) == {}  # no file: nothing completed
    (tmp_path / INPUTS_FILE).parent.mkdir(parents=True)
    (tmp_path / INPUTS_FILE).write_text(json.dumps(meta))
    forms = artifact_forms(tmp_path)
    assert forms == {"plan": "text", "signed_up": "text", "fee": "number"}
    rows = complete_instances([{"fee": 2.0}], forms, nan_allowed=False)
    assert rows == [{"fee": 2.0, "plan": "", "signed_up": ""}]
    with pytest.raises(InvalidPayload, match="instance 0: feature 'fee'"):
        complete_instances([{"plan": "pro"}], forms, nan_allowed=False)
