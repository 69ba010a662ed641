"""Deterministic train/eval/test assignment from a key column.

Each key gets a bucket ``ABS(MOD(FARM_FINGERPRINT(CAST(key AS STRING)), 1000))``, exactly as
BigQuery computes it: the fingerprint is FarmHash ``Fingerprint64`` (from the ``cityhash``
package), which reproduces BigQuery's documented
``FARM_FINGERPRINT('1footrue') = -1541654101129638711``, and BigQuery's MOD
truncates towards zero (the result takes the dividend's sign), like ``np.fmod``.
Buckets below ``train_end`` are train (0), below ``eval_end`` eval (1), the rest test (2); see
:func:`split_bounds`. So in BigQuery the same split is::

    CASE WHEN bucket < train_end THEN 0 WHEN bucket < eval_end THEN 1 ELSE 2 END

A row keeps its split across runs and when the table grows, whatever the row order.
Keys are integers (cast to decimal text) or strings (hashed as UTF-8).
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from farmhash import Fingerprint64

from mlkit.errors import DataError

BUCKETS = 1000
TRAIN, EVAL, TEST = 0, 1, 2
SPLIT_NAMES = ("train", "eval", "test")


def check_fractions(eval_fraction: float, test_fraction: float) -> None:
    for field, value in (("eval_fraction", eval_fraction), ("test_fraction", test_fraction)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
            raise DataError(f"{field} must be a number in [0, 1), got {value!r}")
        if not 0 <= value < 1:
            raise DataError(f"{field} must be in [0, 1), got {value}")
    if eval_fraction + test_fraction >= 1:
        raise DataError(
            f"eval_fraction + test_fraction must be below 1 to leave rows for training, "
            f"got {eval_fraction} + {test_fraction}"
        )


def split_bounds(eval_fraction: float, test_fraction: float) -> tuple[int, int]:
    """``(train_end, eval_end)``: buckets below ``train_end`` train, below ``eval_end`` eval."""
    check_fractions(eval_fraction, test_fraction)
    eval_end = round(BUCKETS * (1 - test_fraction))
    train_end = round(BUCKETS * (1 - test_fraction - eval_fraction))
    return train_end, eval_end


def _key_strings(keys: np.ndarray) -> list[str]:
    if keys.dtype.kind in "iu":
        return list(map(str, keys.tolist()))
    if keys.dtype.kind == "U":
        return keys.tolist()
    if keys.dtype.kind == "O":
        out = keys.tolist()
        for value in out:
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise DataError(
                    f"split keys must be integers or strings, found {type(value).__name__} "
                    f"value {value!r}"
                )
        return [v if isinstance(v, str) else str(v) for v in out]
    raise DataError(f"split keys must be integers or strings, got dtype {keys.dtype}")


def fingerprints(keys: np.ndarray) -> np.ndarray:
    """``FARM_FINGERPRINT(CAST(key AS STRING))`` for each key, as int64."""
    strings = _key_strings(np.asarray(keys))
    unsigned = np.fromiter(map(Fingerprint64, strings), dtype=np.uint64, count=len(strings))
    return unsigned.view(np.int64)


def buckets(keys: np.ndarray) -> np.ndarray:
    """``ABS(MOD(FARM_FINGERPRINT(CAST(key AS STRING)), 1000))`` for each key."""
    return np.abs(np.fmod(fingerprints(keys), BUCKETS))


def shard_of(keys: np.ndarray, shards: int) -> np.ndarray:
    """The shard (0..shards-1) of each key: a hash range of its fingerprint's high bits, so
    independent of the split (which uses the fingerprint modulo 1000). Every key is in exactly one
    shard, whatever order or process reads it: the tasks of a training cluster each read one."""
    return ((fingerprints(keys).view(np.uint64) >> np.uint64(20)) % np.uint64(shards)).astype(
        np.int64
    )


_HIGH_BITS = (1 << 44) - 1  # the fingerprint's top 44 bits, after a shift by 20


def rows_predicate(
    fingerprint: str,
    split: int,
    eval_fraction: float,
    test_fraction: float,
    shard: int = 0,
    shards: int = 1,
) -> str:
    """A SQL condition true for exactly the rows :func:`assign_splits` puts in ``split`` and, with
    ``shards > 1``, :func:`shard_of` puts in ``shard``: the same assignment, computed by the
    warehouse from ``fingerprint`` (its ``FARM_FINGERPRINT(CAST(key AS STRING))`` expression), so
    that only those rows are read. Portable across BigQuery and DuckDB: ``MOD`` truncates towards
    zero on both, and the shift is masked to 44 bits, so it does not matter whether ``>>`` fills
    with the sign bit (DuckDB) or zeros (BigQuery)."""
    train_end, eval_end = split_bounds(eval_fraction, test_fraction)
    bucket = f"ABS(MOD({fingerprint}, {BUCKETS}))"
    low, high = ((0, train_end), (train_end, eval_end), (eval_end, BUCKETS))[split]
    parts = [f"{bucket} >= {low}" if low else "", f"{bucket} < {high}" if high < BUCKETS else ""]
    if shards > 1:
        parts.append(f"MOD(({fingerprint} >> 20) & {_HIGH_BITS}, {shards}) = {shard}")
    return " AND ".join(p for p in parts if p) or "TRUE"


def assign_splits(keys: np.ndarray, eval_fraction: float, test_fraction: float) -> np.ndarray:
    """int8 split codes per key: 0 train, 1 eval, 2 test."""
    train_end, eval_end = split_bounds(eval_fraction, test_fraction)
    bucket = buckets(keys)
    codes = np.full(bucket.shape, TEST, dtype=np.int8)
    codes[bucket < eval_end] = EVAL
    codes[bucket < train_end] = TRAIN
    return codes


def split_expression(key: str, eval_fraction: float, test_fraction: float) -> str:
    """The same split in BigQuery SQL: 0 train, 1 eval, 2 test, for column ``key``."""
    train_end, eval_end = split_bounds(eval_fraction, test_fraction)
    bucket = f"ABS(MOD(FARM_FINGERPRINT(CAST(`{key}` AS STRING)), {BUCKETS}))"
    return (
        f"CASE WHEN {bucket} < {train_end} THEN {TRAIN} "
        f"WHEN {bucket} < {eval_end} THEN {EVAL} ELSE {TEST} END"
    )
