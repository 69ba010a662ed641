"""Hash-based splits that agree with BigQuery's FARM_FINGERPRINT."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from mlkit.data.split import assign_splits, buckets, fingerprints, split_bounds
from mlkit.errors import DataError


def test_reproduces_bigquery_documented_fingerprint() -> None:
    # https://cloud.google.com/bigquery/docs/reference/standard-sql/hash_functions#farm_fingerprint
    assert fingerprints(np.array(["1footrue"])).tolist() == [-1541654101129638711]
    # BigQuery: MOD(-1541654101129638711, 1000) = -711, so ABS(...) = 711
    assert buckets(np.array(["1footrue"])).tolist() == [711]


def test_integer_keys_hash_as_their_decimal_text() -> None:
    ints = np.array([0, 5, -3, 2**62], dtype=np.int64)
    strings = np.array(["0", "5", "-3", str(2**62)])
    np.testing.assert_array_equal(fingerprints(ints), fingerprints(strings))
    np.testing.assert_array_equal(fingerprints(strings.astype(object)), fingerprints(strings))
    assert buckets(ints).min() >= 0 and buckets(ints).max() < 1000


def test_fractions_roughly_respected() -> None:
    codes = assign_splits(np.arange(10_000), eval_fraction=0.1, test_fraction=0.2)
    assert codes.dtype == np.int8
    shares = np.bincount(codes, minlength=3) / 10_000
    assert shares == pytest.approx([0.7, 0.1, 0.2], abs=0.02)


def test_string_keys() -> None:
    keys = np.array([f"user-{i}" for i in range(10_000)], dtype=object)
    shares = np.bincount(assign_splits(keys, 0.25, 0.25), minlength=3) / 10_000
    assert shares == pytest.approx([0.5, 0.25, 0.25], abs=0.02)


def test_stable_when_rows_are_added() -> None:
    before = assign_splits(np.arange(10_000), 0.1, 0.1)
    after = assign_splits(np.arange(15_000), 0.1, 0.1)
    np.testing.assert_array_equal(after[:10_000], before)


def test_same_key_same_split_in_any_order() -> None:
    keys = np.arange(5_000)
    order = np.random.default_rng(0).permutation(len(keys))
    np.testing.assert_array_equal(
        assign_splits(keys[order], 0.2, 0.1), assign_splits(keys, 0.2, 0.1)[order]
    )


def test_same_split_in_another_process() -> None:
    script = (
        "import numpy as np, sys\n"
        "from mlkit.data.split import assign_splits\n"
        "sys.stdout.write(assign_splits(np.arange(2000), 0.15, 0.15).tobytes().hex())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    ).stdout
    assert bytes.fromhex(out) == assign_splits(np.arange(2000), 0.15, 0.15).tobytes()


def test_zero_fractions() -> None:
    assert set(assign_splits(np.arange(1000), 0.0, 0.0).tolist()) == {0}
    assert split_bounds(0.1, 0.2) == (700, 800)


@pytest.mark.parametrize(
    ("eval_fraction", "test_fraction", "message"),
    [
        (-0.1, 0.1, "eval_fraction must be in [0, 1), got -0.1"),
        (0.1, 1.0, "test_fraction must be in [0, 1), got 1.0"),
        (
            0.5,
            0.5,
            "eval_fraction + test_fraction must be below 1 to leave rows for training, "
            "got 0.5 + 0.5",
        ),
        (float("nan"), 0.1, "eval_fraction must be a number in [0, 1), got nan"),
        ("0.1", 0.1, "eval_fraction must be a number in [0, 1), got '0.1'"),
    ],
)
def test_invalid_fractions(eval_fraction: object, test_fraction: object, message: str) -> None:
    with pytest.raises(DataError) as info:
        assign_splits(np.arange(10), eval_fraction, test_fraction)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_invalid_keys() -> None:
    with pytest.raises(
        DataError, match=r"^split keys must be integers or strings, got dtype float64$"
    ):
        assign_splits(np.array([1.5]), 0.1, 0.1)
    with pytest.raises(DataError, match=r"^split keys must be integers or strings, found NoneType"):
        assign_splits(np.array(["a", None], dtype=object), 0.1, 0.1)
