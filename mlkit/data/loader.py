"""A warehouse table → validated float32 feature arrays and integer labels, split three ways.

Rows are put in key order (then label and scalar features) before anything else, so the arrays and
the fingerprint do not depend on the order the warehouse returns rows in.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlkit.data.fingerprint import content_sha256, schema_string
from mlkit.data.split import SPLIT_NAMES, assign_splits, check_fractions
from mlkit.data.warehouse import Warehouse
from mlkit.errors import DataError

SPLIT_METHOD = "ABS(MOD(FARM_FINGERPRINT(CAST(key AS STRING)), 1000))"


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    shape: tuple[int, ...] = ()


@dataclass
class Arrays:
    features: dict[str, np.ndarray]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class SplitData:
    train: Arrays
    eval: Arrays
    test: Arrays
    label_values: list[int]
    n_classes: int
    feature_specs: list[FeatureSpec]
    fingerprint: dict[str, Any] = field(default_factory=dict)


def _is_list(dtype: pa.DataType) -> bool:
    return (
        pa.types.is_list(dtype)
        or pa.types.is_large_list(dtype)
        or pa.types.is_fixed_size_list(dtype)
    )


def _is_number(dtype: pa.DataType) -> bool:
    return pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_boolean(dtype)


def _columns_note(schema: pa.Schema) -> str:
    return f"(columns: {', '.join(schema.names)})"


def _check_type(schema: pa.Schema, table: str, name: str) -> pa.DataType:
    dtype = schema.field(name).type
    inner = dtype.value_type if _is_list(dtype) else dtype
    if not _is_number(inner):
        raise DataError(
            f"feature column '{name}' in table '{table}' is {dtype}; "
            "features must be numbers or lists of numbers"
        )
    return dtype


def _resolve(
    schema: pa.Schema, table: str, label: str, key: str, features: list[FeatureSpec] | None
) -> list[FeatureSpec | str]:
    """Checked specs; a bare name where the shape of a list column must be read from the data."""
    for role, name in (("label", label), ("key", key)):
        if name not in schema.names:
            raise DataError(
                f"{role} column '{name}' not found in table '{table}' {_columns_note(schema)}"
            )
    if features is None:
        names = [n for n in schema.names if n not in (label, key)]
        if not names:
            raise DataError(
                f"table '{table}' has no columns besides label '{label}' and key '{key}'"
            )
        resolved: list[FeatureSpec | str] = []
        for name in names:
            dtype = _check_type(schema, table, name)
            resolved.append(name if _is_list(dtype) else FeatureSpec(name, ()))
        return resolved
    if not features:
        raise DataError(f"no features given for table '{table}'")
    seen: set[str] = set()
    for spec in features:
        if spec.name not in schema.names:
            close = difflib.get_close_matches(spec.name, schema.names, n=3)
            maybe = (
                f"did you mean {', '.join(repr(c) for c in close)}?"
                if close
                else _columns_note(schema)
            )
            raise DataError(f"feature column '{spec.name}' not found in table '{table}'; {maybe}")
        if spec.name == label:
            raise DataError(f"feature '{spec.name}' is the label column of table '{table}'")
        if spec.name in seen:
            raise DataError(f"feature '{spec.name}' is listed twice for table '{table}'")
        seen.add(spec.name)
        if not all(isinstance(d, int) and d > 0 for d in spec.shape):
            raise DataError(
                f"feature '{spec.name}' has invalid shape {spec.shape}: expected positive sizes"
            )
        dtype = _check_type(schema, table, spec.name)
        if _is_list(dtype) and not spec.shape:
            raise DataError(
                f"feature column '{spec.name}' in table '{table}' holds lists; give its shape, "
                "e.g. (64,)"
            )
        if not _is_list(dtype) and spec.shape:
            raise DataError(
                f"feature column '{spec.name}' in table '{table}' holds single numbers, "
                f"not shape {spec.shape}"
            )
    return list(features)


def _check_nulls(column: pa.ChunkedArray, what: str, table: str) -> None:
    if column.null_count:
        raise DataError(f"{what} in table '{table}' has {column.null_count} null values")


def _labels(column: pa.ChunkedArray, table: str, label: str) -> tuple[np.ndarray, list[int]]:
    if not pa.types.is_integer(column.type):
        raise DataError(
            f"label column '{label}' in table '{table}' is {column.type}; "
            "classification labels must be integers 0..K-1"
        )
    labels = column.to_numpy().astype(np.int64)
    values = np.unique(labels)
    if values.size < 2 or values[0] != 0 or values[-1] != values.size - 1:
        shown = ", ".join(str(v) for v in values[:10]) + (", ..." if values.size > 10 else "")
        raise DataError(
            f"label column '{label}' in table '{table}' has values {shown}; "
            "classification labels must be integers 0..K-1 with K >= 2"
        )
    return labels, values.tolist()


def _regression_labels(column: pa.ChunkedArray, table: str, label: str) -> np.ndarray:
    if not _is_number(column.type):
        raise DataError(
            f"label column '{label}' in table '{table}' is {column.type}; "
            "regression targets must be numbers"
        )
    labels = column.to_numpy().astype(np.float64)
    if not np.isfinite(labels).all():
        raise DataError(f"label column '{label}' in table '{table}' has NaN or infinite values")
    return labels


def _decode(
    column: pa.ChunkedArray, spec: FeatureSpec | str, table: str, keys: pa.ChunkedArray
) -> tuple[FeatureSpec, np.ndarray]:
    name = spec if isinstance(spec, str) else spec.name
    _check_nulls(column, f"feature column '{name}'", table)
    if not _is_list(column.type):
        values = column.to_numpy().astype(np.float32)
        spec = FeatureSpec(name, ())
    else:
        array = column.combine_chunks()
        lengths = pc.list_value_length(array).to_numpy(zero_copy_only=False)
        if isinstance(spec, str):  # shape read from the data: the first row's length
            spec = FeatureSpec(name, (int(lengths[0]),) if len(lengths) else (0,))
        expected = math.prod(spec.shape)
        bad = np.flatnonzero(lengths != expected)
        if bad.size:
            row = int(bad[0])
            raise DataError(
                f"feature '{name}' in table '{table}' expects {expected} values per row "
                f"(shape {spec.shape}), found {int(lengths[row])} in the row with key "
                f"{keys[row].as_py()!r} ({bad.size} rows differ)"
            )
        flat = array.flatten()
        if flat.null_count:
            raise DataError(
                f"feature column '{name}' in table '{table}' has {flat.null_count} null values "
                "inside its lists"
            )
        values = flat.to_numpy(zero_copy_only=False).astype(np.float32).reshape(-1, *spec.shape)
    if not np.isfinite(values).all():
        raise DataError(
            f"feature column '{name}' in table '{table}' has NaN or infinite values (as float32)"
        )
    return spec, values


def load_splits(
    warehouse: Warehouse,
    table: str,
    *,
    label: str,
    features: list[FeatureSpec] | None,
    key: str,
    eval_fraction: float,
    test_fraction: float,
    regression: bool = False,
) -> SplitData:
    check_fractions(eval_fraction, test_fraction)
    schema = warehouse.schema(table)
    specs = _resolve(schema, table, label, key, features)
    names = [s if isinstance(s, str) else s.name for s in specs]
    columns = list(dict.fromkeys([key, label, *names]))
    data = warehouse.read_table(table, columns)
    if data.num_rows == 0:
        raise DataError(f"table '{table}' has no rows")
    _check_nulls(data[key], f"key column '{key}'", table)
    _check_nulls(data[label], f"label column '{label}'", table)
    sort_keys = [c for c in columns if not _is_list(data.schema.field(c).type)]
    if not (pa.types.is_integer(data[key].type) or pa.types.is_string(data[key].type)):
        raise DataError(
            f"key column '{key}' in table '{table}' is {data[key].type}; "
            "expected integers or strings"
        )
    order = pc.sort_indices(data, sort_keys=[(c, "ascending") for c in sort_keys]).to_numpy()
    if not np.array_equal(order, np.arange(data.num_rows)):  # stored in key order already: no copy
        data = data.take(order)

    if regression:  # real-valued targets: no classes
        labels, label_values = _regression_labels(data[label], table, label), []
    else:
        labels, label_values = _labels(data[label], table, label)
    decoded = [_decode(data[n], s, table, data[key]) for n, s in zip(names, specs, strict=True)]
    codes = assign_splits(data[key].to_numpy(), eval_fraction, test_fraction)

    fractions = {"train": 1.0, "eval": eval_fraction, "test": test_fraction}
    parts = {}
    for code, split in enumerate(SPLIT_NAMES):
        index = np.flatnonzero(codes == code)
        if index.size == 0 and fractions[split] > 0:
            raise DataError(
                f"split '{split}' of table '{table}' is empty ({data.num_rows} rows, "
                f"eval_fraction {eval_fraction}, test_fraction {test_fraction}); "
                "use more rows or a larger fraction"
            )
        parts[split] = Arrays({s.name: v[index] for s, v in decoded}, labels[index])

    feature_specs = [s for s, _ in decoded]
    fingerprint = {
        "source": warehouse.describe(),
        "table": table,
        "rows": data.num_rows,
        "schema": schema_string(data.schema),
        "key": key,
        "label": label,
        "features": [{"name": s.name, "shape": list(s.shape)} for s in feature_specs],
        "content_sha256": content_sha256(data),
        "split_method": SPLIT_METHOD,
        "eval_fraction": eval_fraction,
        "test_fraction": test_fraction,
        "split_rows": {split: len(parts[split]) for split in SPLIT_NAMES},
    }
    return SplitData(
        train=parts["train"],
        eval=parts["eval"],
        test=parts["test"],
        label_values=label_values,
        n_classes=len(label_values),
        feature_specs=feature_specs,
        fingerprint=fingerprint,
    )
