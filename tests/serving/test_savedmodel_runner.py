"""SavedModelRunner against real SavedModels built in conftest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlkit.errors import InvalidPayload, ServingError
from mlkit.savedmodel import MAX_INSTANCES, SavedModelRunner


@pytest.fixture(scope="module")
def digits(digits_v1: Path) -> SavedModelRunner:
    return SavedModelRunner(digits_v1)


@pytest.fixture(scope="module")
def regression(regressor: Path) -> SavedModelRunner:
    return SavedModelRunner(regressor)


def one_hot_pixels(cls: int) -> list[float]:
    pixels = [0.0] * 64
    pixels[cls] = 16.0
    return pixels


def test_picks_predict_when_it_is_the_only_signature(digits: SavedModelRunner) -> None:
    assert digits.signature_name == "predict"
    assert digits.input_spec == {"pixels": (64,)}
    assert digits.input_dtypes == {"pixels": np.dtype("float32")}


def test_skips_a_serving_default_that_takes_serialized_examples(digits_v2: Path) -> None:
    runner = SavedModelRunner(digits_v2)
    assert runner.signature_name == "predict"
    assert runner.predict_instances([one_hot_pixels(2)])[0]["class_id"] == 7


def test_picks_serving_default_with_float_inputs(regression: SavedModelRunner) -> None:
    assert regression.signature_name == "serving_default"
    assert regression.input_spec == {"age": (), "x": (3,)}


def test_predict_arrays_batches_and_keeps_row_order(digits: SavedModelRunner) -> None:
    classes = np.arange(2500) % 10
    pixels = np.zeros((2500, 64), dtype=np.float64)
    pixels[np.arange(2500), classes] = 16.0
    out = digits.predict_arrays({"pixels": pixels}, batch_size=1024)
    assert out["class_ids"].shape == (2500, 1) and out["class_ids"].dtype == np.int64
    assert out["probabilities"].shape == (2500, 10)
    np.testing.assert_array_equal(out["class_ids"][:, 0], classes)


def test_predict_arrays_checks_features(digits: SavedModelRunner) -> None:
    with pytest.raises(InvalidPayload, match="unknown feature 'pixel' \\(expected: pixels\\)"):
        digits.predict_arrays({"pixel": np.zeros((2, 64))})
    with pytest.raises(InvalidPayload, match="feature 'pixels' has shape \\(63,\\) per row"):
        digits.predict_arrays({"pixels": np.zeros((2, 63))})


def test_classification_instances_dict_and_bare(digits: SavedModelRunner) -> None:
    preds = digits.predict_instances([{"pixels": one_hot_pixels(3)}, one_hot_pixels(9)])
    assert [p["class_id"] for p in preds] == [3, 9]
    assert set(preds[0]) == {"class_id", "probabilities"}
    assert len(preds[0]["probabilities"]) == 10
    assert sum(preds[0]["probabilities"]) == pytest.approx(1.0, abs=1e-5)
    assert all(isinstance(v, float) for v in preds[0]["probabilities"])


def test_regression_instances(regression: SavedModelRunner) -> None:
    preds = regression.predict_instances(
        [{"x": [1, 2, 3], "age": 10}, {"x": [0.5, 0.5, 0], "age": -1.0}]
    )
    assert preds == [{"value": pytest.approx(16.0)}, {"value": pytest.approx(0.0)}]


def test_other_outputs_come_back_as_lists(embedder: Path) -> None:
    runner = SavedModelRunner(embedder)
    preds = runner.predict_instances([[[1, 2], [3, 4]], {"grid": [[0, 0], [0, -1]]}])
    assert preds == [
        {"flat": [1.0, 2.0, 3.0, 4.0], "label": "positive"},
        {"flat": [0.0, 0.0, 0.0, -1.0], "label": "other"},
    ]


@pytest.mark.parametrize(
    ("instances", "message"),
    [
        (None, "'instances' must be a non-empty list"),
        ([], "'instances' must be a non-empty list"),
        ({"pixels": [0] * 64}, "'instances' must be a non-empty list"),
        (
            [[0] * 64] * (MAX_INSTANCES + 1),
            f"'instances' has {MAX_INSTANCES + 1} items; at most {MAX_INSTANCES} per request",
        ),
        (
            [[0] * 64, [0] * 64, [0] * 64, [0] * 63],
            "instance 3: feature 'pixels' has 63 values, expected 64",
        ),
        (
            [{"pixel": [0] * 64}],
            "instance 0: unknown feature 'pixel' (expected: pixels)",
        ),
        ([{}], "instance 0: missing feature 'pixels' (expected: pixels)"),
        (
            [[0] * 64, [0] * 10 + ["abc"] + [0] * 53],
            "instance 1: feature 'pixels' must be numbers, got 'abc'",
        ),
        ([[True] * 64], "instance 0: feature 'pixels' must be numbers, got True"),
        ([[None] * 64], "instance 0: feature 'pixels' must be numbers, got None"),
        ([[[0]] * 64], "instance 0: feature 'pixels' must be numbers, got [0]"),
        ([5], "instance 0: feature 'pixels' must be a list of 64 numbers, got a single number"),
        (["abc"], "instance 0: feature 'pixels' must be a list of 64 numbers, got 'abc'"),
    ],
)
def test_bad_instances_get_one_clear_line(
    digits: SavedModelRunner, instances: object, message: str
) -> None:
    with pytest.raises(InvalidPayload) as info:
        digits.parse_instances(instances)
    assert str(info.value) == message
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("instances", "message"),
    [
        ([[1, 2, 3]], "instance 0: must be an object with the features (age, x), got list"),
        ([{"x": [1, 2, 3]}], "instance 0: missing feature 'age' (expected: age, x)"),
        ([{"x": [1, 2, 3], "age": [1]}], "instance 0: feature 'age' must be numbers, got [1]"),
        (
            [{"x": [1, 2, 3], "age": 1}, {"x": [1, 2], "age": 1}],
            "instance 1: feature 'x' has 2 values, expected 3",
        ),
    ],
)
def test_bad_instances_for_two_features(
    regression: SavedModelRunner, instances: object, message: str
) -> None:
    with pytest.raises(InvalidPayload) as info:
        regression.parse_instances(instances)
    assert str(info.value) == message


def test_nested_shapes_name_the_position(embedder: Path) -> None:
    runner = SavedModelRunner(embedder)
    with pytest.raises(InvalidPayload) as info:
        runner.parse_instances([[[1, 2], [3]]])
    assert str(info.value) == "instance 0: feature 'grid' has 1 values at [1], expected 2"


def test_not_a_savedmodel(tmp_path: Path) -> None:
    with pytest.raises(ServingError, match="no SavedModel at"):
        SavedModelRunner(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ServingError, match="cannot load the SavedModel at") as info:
        SavedModelRunner(tmp_path / "empty")
    assert "\n" not in str(info.value)
