"""The rows two versions of a model are scored on: a source's test split (or every row of a table),
read by the loader (:func:`mlkit.data.loader.read_rows`: the same FARM_FINGERPRINT split, the
same decoding of STRING / BYTES / ARRAY features) with the row keys and a slice column alongside.

The features are the model's inputs (name → per-row shape, from its SavedModel), so the columns
are checked against them first, with messages that say what the model expects.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from mlkit.data.decode import storage_form
from mlkit.data.fingerprint import schema_string
from mlkit.data.loader import FeatureSpec, describe_source, read_rows
from mlkit.data.validation import FeatureShapeError
from mlkit.data.warehouse import Query, Relation, Warehouse
from mlkit.errors import DataError

NO_SLICE = "(null)"


@dataclass
class EvaluationData:
    """Aligned rows: ``features[name][i]``, ``labels[i]``, ``keys[i]`` and ``slices[i]``."""

    features: dict[str, np.ndarray]
    labels: np.ndarray
    keys: np.ndarray
    slices: np.ndarray | None
    slice_column: str | None
    fingerprint: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.labels)


def _check_columns(
    schema: pa.Schema,
    where: str,
    features: Mapping[str, tuple[int, ...]],
    wanted: dict[str, str],
) -> None:
    """The model's inputs and the label, key and slice columns against the source's schema."""
    note = f"(columns: {', '.join(schema.names)})"
    for role, name in wanted.items():
        if name not in schema.names:
            raise DataError(f"{role} column '{name}' not found in {where} {note}")
    for name, shape in features.items():
        if name not in schema.names:
            raise DataError(f"{where} has no column '{name}', an input of the model {note}")
        dtype = schema.field(name).type
        form = storage_form(dtype)
        if form is None or (form in ("string", "bytes") and not shape):
            raise DataError(f"feature column '{name}' in {where} is {dtype}; expected numbers")
        if form == "scalar" and shape and math.prod(shape) != 1:
            raise DataError(
                f"feature column '{name}' in {where} holds single numbers, but the model "
                f"expects shape {tuple(shape)} per row"
            )


def _model_specs(features: Mapping[str, tuple[int, ...]], schema: pa.Schema) -> list[FeatureSpec]:
    """The loader's specs: a one-value shape of a scalar column read as a scalar."""
    specs = []
    for name in sorted(features):
        shape = tuple(int(d) for d in features[name])
        if storage_form(schema.field(name).type) == "scalar":
            shape = ()
        specs.append(FeatureSpec(name, shape))
    return specs


def load_evaluation_data(
    warehouse: Warehouse,
    source: Relation,
    *,
    features: Mapping[str, tuple[int, ...]],
    label: str,
    key: str,
    slice_column: str | None = None,
    split: tuple[float, float] | None = None,
    regression: bool = False,
    text: str | None = None,
    raw_columns: Mapping[str, str] | None = None,
    classes: list[str] | None = None,
) -> EvaluationData:
    """Read ``source`` (a table or a query); with ``split=(eval_fraction, test_fraction)`` keep the
    test split only, else every row. ``features`` maps each input of the model to its per-row
    shape; ``text`` names the source in the fingerprint (default: the relation).

    ``raw_columns`` (column → kind) for a model that takes raw tabular rows: the columns are read
    as a client sends them (``mlkit.data.tabular.serving_values``), and text labels are mapped to
    the model's ``classes``."""
    where = describe_source(source)
    wanted = {"label": label, "key": key}
    if slice_column is not None:
        wanted["slice"] = slice_column
    if raw_columns:
        return _raw_evaluation_data(
            warehouse, source, raw_columns, classes, label=label, key=key,
            slice_column=slice_column, split=split, regression=regression, text=text,
        )  # fmt: skip
    with warehouse.materialize(source) as relation:
        schema = warehouse.relation_schema(relation)
        _check_columns(schema, where, features, wanted)
        specs = _model_specs(features, schema)
        extras = (slice_column,) if slice_column is not None else ()
        try:
            rows, read_schema = read_rows(
                warehouse, relation, label=label, features=specs, key=key, split=split,
                extra_columns=extras, regression=regression,
            )  # fmt: skip
        except FeatureShapeError as error:
            raise _model_shape_error(error, features, where) from None
    arrays = {s.name: rows.features[s.name].reshape(len(rows), *features[s.name]) for s in specs}
    slices = None
    if slice_column is not None:
        raw = rows.extras[slice_column].tolist()
        slices = np.array([NO_SLICE if v is None else str(v) for v in raw], dtype=object)
    assert rows.keys is not None
    fingerprint = {
        "source": warehouse.describe(),
        "table": text or str(source),
        **(
            {"query": str(source), "params": dict(source.params)}
            if isinstance(source, Query)
            else {}
        ),
        "rows": len(rows),
        "selection": (
            f"test split (eval {split[0]}, test {split[1]})" if split is not None else "all rows"
        ),
        "schema": schema_string(read_schema),
        "content_sha256": _content_sha256(rows.keys, rows.labels, arrays, slices),
        "slice_column": slice_column,
    }
    return EvaluationData(arrays, rows.labels, rows.keys, slices, slice_column, fingerprint)


def _raw_evaluation_data(
    warehouse: Warehouse,
    source: Relation,
    kinds: Mapping[str, str],
    classes: list[str] | None,
    *,
    label: str,
    key: str,
    slice_column: str | None,
    split: tuple[float, float] | None,
    regression: bool,
    text: str | None,
) -> EvaluationData:
    """:func:`load_evaluation_data` for a model that takes raw tabular rows."""
    from mlkit.data.tabular import raw_rows

    where = describe_source(source)
    extras = (slice_column,) if slice_column is not None else ()
    with warehouse.materialize(source) as relation:
        inputs, labels, extra, keys, read_schema = raw_rows(
            warehouse, relation, kinds=kinds, classes=classes, label=label, key=key,
            fractions=split, extra_columns=extras, regression=regression, where=where,
        )  # fmt: skip
    slices = None
    if slice_column is not None:
        slices = np.array(
            [NO_SLICE if v is None else str(v) for v in extra[slice_column].tolist()], dtype=object
        )
    hashed = {
        n: (v if v.dtype.kind != "O" else np.frombuffer("\0".join(v.tolist()).encode(), np.uint8))
        for n, v in inputs.items()
    }
    fingerprint = {
        "source": warehouse.describe(),
        "table": text or str(source),
        **(
            {"query": str(source), "params": dict(source.params)}
            if isinstance(source, Query)
            else {}
        ),
        "rows": len(labels),
        "selection": (
            f"test split (eval {split[0]}, test {split[1]})" if split is not None else "all rows"
        ),
        "schema": schema_string(read_schema),
        "content_sha256": _content_sha256(keys, labels, hashed, slices),
        "slice_column": slice_column,
    }
    return EvaluationData(inputs, labels, keys, slices, slice_column, fingerprint)


def _model_shape_error(
    error: FeatureShapeError, features: Mapping[str, tuple[int, ...]], where: str
) -> DataError:
    """A row whose width is not the model's input shape, said in the model's terms."""
    name, found = error.feature, error.found
    if name is None or found is None or name not in features:
        return error
    shape = tuple(features[name])
    return DataError(
        f"feature '{name}' in {where} has {found} values in a row; the model expects "
        f"{math.prod(shape)} (shape {shape})"
    )


def _content_sha256(
    keys: np.ndarray,
    labels: np.ndarray,
    features: dict[str, np.ndarray],
    slices: np.ndarray | None,
) -> str:
    """SHA-256 of the rows evaluated: keys, labels, each feature's float32 values (in name
    order) and the slices, row by row in key order."""
    h = hashlib.sha256()
    if keys.dtype.kind in "iu":
        h.update(b"int64\0" + np.ascontiguousarray(keys, np.int64).tobytes())
    else:
        h.update(b"string\0" + "\0".join(str(k) for k in keys.tolist()).encode())
    h.update(np.ascontiguousarray(labels).tobytes())
    for name in sorted(features):
        h.update(name.encode() + b"\0")
        h.update(np.ascontiguousarray(features[name], np.float32).tobytes())
    if slices is not None:
        h.update(b"slices\0" + "\0".join(slices.tolist()).encode())
    return h.hexdigest()


__all__ = ["NO_SLICE", "EvaluationData", "load_evaluation_data"]
