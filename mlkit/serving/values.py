"""The one rule for the numbers of a prediction request, shared by the endpoint and `mlkit predict`.

A number in an instance must be finite (no NaN, no Infinity) and must stay finite as a 32-bit
float (the type mlkit's exports take): ``abs(x) < FLOAT32_LIMIT``. The endpoint answers 400 and
``mlkit predict`` refuses the file before sending, both with the text of ``number_problem``.
No numpy and no TensorFlow here at import time (`mlkit predict` imports this).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

FLOAT32_LIMIT = 2.0**128 * (1 - 2.0**-25)
"""The smallest magnitude that rounds to infinity as a float32 (3.4028235677973366e38)."""

_RULE = "numbers must be finite and within ±3.4e38 (32-bit floats)"


def _bad(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float
        return True
    return not math.isfinite(number) or abs(number) >= FLOAT32_LIMIT


def _find(value: object, at: str) -> tuple[str, object] | None:
    if _bad(value):
        return at, value
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = _find(item, f"{at}[{i}]")
            if found:
                return found
    elif isinstance(value, Mapping):
        for key, item in value.items():
            found = _find(item, f"{at}.{key}" if at else str(key))
            if found:
                return found
    return None


def _is_nan(value: object) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _shown(value: object) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, float) and math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    text = str(value)
    return text if len(text) <= 24 else text[:21] + "..."


def number_problem(instances: object, nan_means_null: Collection[str] = ()) -> str | None:
    """What breaks the rule in ``instances`` (a list of JSON instances), or None.
    ``nan_means_null``: the inputs of a raw tabular row where NaN is a missing value (as
    TensorFlow Serving's JSON takes it, ``mlkit.serving.complete``), not a number out of range."""
    if not isinstance(instances, list):
        return None
    for i, instance in enumerate(instances):
        if nan_means_null and isinstance(instance, Mapping):
            instance = {
                k: None if k in nan_means_null and _is_nan(v) else v for k, v in instance.items()
            }
        found = _find(instance, "")
        if found:
            where, value = found
            place = f" at {where}" if where else ""
            return f"instance {i}: value {_shown(value)}{place} is out of range: {_RULE}"
    return None


def arrays_break_rule(arrays: Mapping[str, Any]) -> bool:
    """The endpoint's fast check on parsed float arrays: True when a value breaks the rule (the
    message then comes from ``number_problem`` on the instances)."""
    import numpy as np

    for array in arrays.values():
        if getattr(array, "dtype", None) is None or array.dtype.kind != "f":
            continue
        if not np.isfinite(array).all():
            return True
        if array.dtype.itemsize > 4 and array.size and np.abs(array).max() >= FLOAT32_LIMIT:
            return True
    return False
