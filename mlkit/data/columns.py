"""The preprocessing of tabular columns, fitted on the training split only, and applied to Arrow
columns with numpy (the SavedModel applies the same in its graph: ``mlkit.search.preprocess``).

For each column (see ``mlkit.data.kinds`` for the kinds) the model's features are:

- numeric, boolean: ``NAME`` (float32; a NULL or NaN takes the training split's mean) and, when
  the training split has NULLs, ``NAME__missing`` (1.0 where the value was NULL);
- categorical: ``NAME``, an int32 category id: ``0`` out of vocabulary (a value not in the
  vocabulary, seen at serving time or too rare in training), ``1`` missing (NULL or the empty
  string), ``2 + i`` the vocabulary's i-th value. The vocabulary is the training split's values
  seen at least ``min_count`` times, most frequent first (ties by value), at most
  ``max_categories``. Values are compared as text (an integer column declared categorical: its
  decimal digits; a boolean: ``true`` / ``false``);
- timestamp: ``NAME__days`` (days since 1970-01-01, with the time of day as a fraction),
  ``NAME__dow`` (day of week, Monday 0), ``NAME__hour`` (0-23) and ``NAME__month`` (1-12), read
  in UTC; date: the same without ``__hour``. A NULL takes the training means, with
  ``NAME__missing`` as for numbers;
- array: ``NAME``, the list's values (fixed length, no NULLs).

A plan is JSON (stored with the run and inside the SavedModel) via :meth:`ColumnPlan.to_json`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlkit.data.validation import FeatureTypeError

OOV_ID, MISSING_ID, FIRST_ID = 0, 1, 2
MAX_CATEGORIES = 1000
MIN_COUNT = 1
TIME_PARTS = {"timestamp": ("days", "dow", "hour", "month"), "date": ("days", "dow", "month")}
_US_PER_DAY = 86_400_000_000


@dataclass(frozen=True)
class Column:
    """One raw column and what was fitted for it on the training split."""

    name: str
    kind: str
    impute: tuple[float, ...] = ()  # numeric/boolean: one value; timestamp/date: one per part
    indicator: bool = False  # a ``NAME__missing`` feature (the training split had NULLs)
    vocabulary: tuple[str, ...] = ()  # categorical
    shape: tuple[int, ...] = ()  # array

    @property
    def n_ids(self) -> int:
        """Category ids of a categorical column: OOV, missing, then the vocabulary."""
        return FIRST_ID + len(self.vocabulary)

    def features(self) -> list[str]:
        """The model features this column becomes, in order."""
        if self.kind in TIME_PARTS:
            names = [f"{self.name}__{part}" for part in TIME_PARTS[self.kind]]
        else:
            names = [self.name]
        return names + ([f"{self.name}__missing"] if self.indicator else [])

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.impute:
            out["impute"] = list(self.impute)
        if self.indicator:
            out["indicator"] = True
        if self.kind == "categorical":
            out["vocabulary"] = list(self.vocabulary)
        if self.shape:
            out["shape"] = list(self.shape)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Column:
        return cls(
            name=str(data["name"]),
            kind=str(data["kind"]),
            impute=tuple(float(v) for v in data.get("impute", ())),
            indicator=bool(data.get("indicator", False)),
            vocabulary=tuple(str(v) for v in data.get("vocabulary", ())),
            shape=tuple(int(d) for d in data.get("shape", ())),
        )


@dataclass(frozen=True)
class ColumnPlan:
    """Every feature column's preprocessing, and the label's classes (None: integer class ids
    or a regression target)."""

    columns: tuple[Column, ...]
    classes: tuple[str, ...] | None = None
    settings: dict[str, int] = field(default_factory=dict)

    def kinds(self) -> dict[str, str]:
        return {c.name: c.kind for c in self.columns}

    def features(self) -> list[str]:
        return [f for c in self.columns for f in c.features()]

    def categorical(self) -> dict[str, int]:
        """``{model feature: number of ids}`` of the categorical columns."""
        return {c.name: c.n_ids for c in self.columns if c.kind == "categorical"}

    def to_json(self) -> dict[str, Any]:
        return {
            "columns": [c.to_json() for c in self.columns],
            "classes": None if self.classes is None else list(self.classes),
            **({"settings": dict(self.settings)} if self.settings else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ColumnPlan:
        classes = data.get("classes")
        return cls(
            columns=tuple(Column.from_json(c) for c in data.get("columns", ())),
            classes=None if classes is None else tuple(str(c) for c in classes),
            settings={str(k): int(v) for k, v in (data.get("settings") or {}).items()},
        )


# -- text of values -----------------------------------------------------------------------------


def as_text(column: pa.Array) -> pa.Array:
    """A categorical column's values as text (NULL kept): booleans ``true``/``false``, integers
    their digits; the empty string counts as NULL."""
    dtype = column.type
    if pa.types.is_dictionary(dtype):
        column = column.cast(dtype.value_type)
        dtype = column.type
    if pa.types.is_boolean(dtype):
        text = pc.if_else(column, "true", "false")
    elif pa.types.is_string(dtype):
        text = column
    else:
        text = column.cast(pa.string())
    if text.offset:  # a slice of a record batch (streamed): pyarrow 21's if_else misreads
        text = pa.concat_arrays([text])  # some sliced strings; a copy starts at offset 0
    empty = pc.equal(text, "")
    return pc.if_else(empty, pa.scalar(None, pa.string()), text)


def _numbers(column: pa.Array, name: str, where: str) -> np.ndarray:
    """A numeric or boolean column as float64, NULL and NaN as NaN (infinities refused)."""
    if pa.types.is_boolean(column.type):
        column = column.cast(pa.int8())
    values = column.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
    if np.isinf(values).any():
        raise FeatureTypeError(
            f"feature column '{name}' in {where} has infinite values",
            hint="clean the column in the source",
        )
    return values


def time_parts(column: pa.Array, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """``(parts [rows, n_parts] float64, missing [rows] bool)`` of a timestamp or date column,
    read as UTC (a naive timestamp as it is)."""
    missing = column.is_null().to_numpy(zero_copy_only=False)
    if kind == "date":
        days = column.cast(pa.date32()).cast(pa.int32()).fill_null(0).to_numpy().astype(np.int64)
        seconds = np.zeros_like(days)
    else:
        tz = column.type.tz
        micros = (
            column.cast(pa.timestamp("us", tz=tz)).cast(pa.int64()).fill_null(0).to_numpy()
        ).astype(np.int64)
        days = np.floor_divide(micros, _US_PER_DAY)
        seconds = (micros - days * _US_PER_DAY) // 1_000_000
    dow = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
    month = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12 + 1
    parts = [days + seconds / 86_400.0, dow]
    if kind == "timestamp":
        parts.append(seconds // 3600)
    parts.append(month)
    return np.stack([np.asarray(p, np.float64) for p in parts], axis=1), missing


# -- fitting --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """One column's values converted once, for fitting on the training rows and encoding every
    row: text (categorical), float64 numbers with NaN for NULL, or time parts and their NULLs."""

    kind: str
    text: pa.Array | None = None
    numbers: np.ndarray | None = None
    parts: np.ndarray | None = None
    missing: np.ndarray | None = None
    raw: pa.Array | None = None  # arrays: decoded at encoding


def prepare(column: pa.Array, name: str, kind: str, where: str) -> Prepared:
    """``column`` converted for :func:`fit_prepared` and :func:`encode_prepared`."""
    if kind == "categorical":
        return Prepared(kind, text=as_text(column))
    if kind in TIME_PARTS:
        parts, missing = time_parts(column, kind)
        return Prepared(kind, parts=parts, missing=missing)
    if kind == "array":
        return Prepared(kind, raw=column)
    return Prepared(kind, numbers=_numbers(column, name, where))


def fit_prepared(
    prepared: Prepared,
    name: str,
    rows: np.ndarray | None = None,
    *,
    max_categories: int = MAX_CATEGORIES,
    min_count: int = MIN_COUNT,
    shape: tuple[int, ...] = (),
) -> Column:
    """Fit one column's preprocessing on its values at ``rows`` (a mask of the training split;
    None: every value)."""
    kind = prepared.kind
    if kind == "categorical":
        assert prepared.text is not None
        text = prepared.text if rows is None else prepared.text.filter(pa.array(rows))
        text = text.drop_null()
        counts = pc.value_counts(text).to_pylist() if len(text) else []
        kept = sorted(
            ((str(c["values"]), int(c["counts"])) for c in counts if c["counts"] >= min_count),
            key=lambda vc: (-vc[1], vc[0]),
        )[:max_categories]
        return Column(name, kind, vocabulary=tuple(v for v, _ in kept))
    if kind in TIME_PARTS:
        assert prepared.parts is not None and prepared.missing is not None
        parts, missing = prepared.parts, prepared.missing
        if rows is not None:
            parts, missing = parts[rows], missing[rows]
        present = parts[~missing]
        means = present.mean(axis=0) if len(present) else np.zeros(parts.shape[1])
        return Column(name, kind, impute=tuple(float(np.float32(m)) for m in means),
                      indicator=bool(missing.any()))  # fmt: skip
    if kind == "array":
        return Column(name, kind, shape=shape)
    assert prepared.numbers is not None
    values = prepared.numbers if rows is None else prepared.numbers[rows]
    present = values[~np.isnan(values)]
    mean = float(np.float32(present.mean())) if len(present) else 0.0
    return Column(name, kind, impute=(mean,), indicator=bool(len(present) < len(values)))


def encode_prepared(prepared: Prepared, spec: Column, where: str) -> dict[str, np.ndarray]:
    """One prepared column → its model features (see the module's docstring). Fills the
    prepared numbers' and time parts' NULLs in place: the last use of ``prepared``."""
    if spec.kind == "categorical":
        text = prepared.text
        assert text is not None
        found = pc.index_in(text, value_set=pa.array(list(spec.vocabulary), pa.string()))
        ids = found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32) + FIRST_ID
        ids[ids == FIRST_ID - 1] = OOV_ID
        ids[text.is_null().to_numpy(zero_copy_only=False)] = MISSING_ID
        return {spec.name: ids}
    if spec.kind in TIME_PARTS:
        parts, missing = prepared.parts, prepared.missing
        assert parts is not None and missing is not None
        parts[missing] = np.asarray(spec.impute)
        names = spec.features()
        out = {n: parts[:, i].astype(np.float32) for i, n in enumerate(names[: parts.shape[1]])}
        if spec.indicator:
            out[f"{spec.name}__missing"] = missing.astype(np.float32)
        return out
    if spec.kind == "array":
        from mlkit.data.decode import decode_column

        assert prepared.raw is not None
        return {spec.name: decode_column(prepared.raw, spec.name, spec.shape, where)}
    values = prepared.numbers
    assert values is not None
    missing = np.isnan(values)
    values[missing] = spec.impute[0] if spec.impute else 0.0
    out = {spec.name: values.astype(np.float32)}
    if spec.indicator:
        out[f"{spec.name}__missing"] = missing.astype(np.float32)
    return out


def fit_column(
    column: pa.Array,
    name: str,
    kind: str,
    where: str,
    *,
    max_categories: int = MAX_CATEGORIES,
    min_count: int = MIN_COUNT,
    shape: tuple[int, ...] = (),
) -> Column:
    """Fit one column's preprocessing on its training-split values."""
    return fit_prepared(
        prepare(column, name, kind, where), name,
        max_categories=max_categories, min_count=min_count, shape=shape,
    )  # fmt: skip


def encode_column(column: pa.Array, spec: Column, where: str) -> dict[str, np.ndarray]:
    """One raw column → its model features (see the module's docstring)."""
    return encode_prepared(prepare(column, spec.name, spec.kind, where), spec, where)


def _prepared(table: pa.Table, kinds: Mapping[str, str], where: str) -> dict[str, Prepared]:
    return {
        name: prepare(table.column(name).combine_chunks(), name, kind, where)
        for name, kind in kinds.items()
    }


def _fit(
    prepared: Mapping[str, Prepared],
    rows: np.ndarray | None,
    classes: Sequence[str] | None,
    shapes: Mapping[str, tuple[int, ...]] | None,
    max_categories: int,
    min_count: int,
) -> ColumnPlan:
    columns = tuple(
        fit_prepared(
            p,
            name,
            rows,
            max_categories=max_categories,
            min_count=min_count,
            shape=(shapes or {}).get(name, ()),
        )  # fmt: skip
        for name, p in prepared.items()
    )
    settings = {"max_categories": max_categories, "min_count": min_count}
    return ColumnPlan(columns, None if classes is None else tuple(classes), settings)


def fit_plan(
    train: pa.Table,
    kinds: Mapping[str, str],
    where: str,
    *,
    classes: Sequence[str] | None = None,
    shapes: Mapping[str, tuple[int, ...]] | None = None,
    max_categories: int = MAX_CATEGORIES,
    min_count: int = MIN_COUNT,
) -> ColumnPlan:
    """Every column's preprocessing, fitted on the training split's rows ``train``."""
    prepared = _prepared(train, kinds, where)
    return _fit(prepared, None, classes, shapes, max_categories, min_count)


def fit_and_encode(
    table: pa.Table,
    train_rows: np.ndarray,
    kinds: Mapping[str, str],
    where: str,
    *,
    classes: Sequence[str] | None = None,
    shapes: Mapping[str, tuple[int, ...]] | None = None,
    max_categories: int = MAX_CATEGORIES,
    min_count: int = MIN_COUNT,
) -> tuple[ColumnPlan, dict[str, np.ndarray]]:
    """:func:`fit_plan` on the rows of ``table`` at ``train_rows`` and :func:`encode` of every
    row, each column converted once for both (the same result as the two calls)."""
    prepared = _prepared(table, kinds, where)
    plan = _fit(prepared, train_rows, classes, shapes, max_categories, min_count)
    out: dict[str, np.ndarray] = {}
    for spec in plan.columns:
        out.update(encode_prepared(prepared[spec.name], spec, where))
    return plan, out


def encode(table: pa.Table, plan: ColumnPlan, where: str) -> dict[str, np.ndarray]:
    """Every model feature of ``table``'s rows."""
    out: dict[str, np.ndarray] = {}
    for spec in plan.columns:
        out.update(encode_column(table.column(spec.name).combine_chunks(), spec, where))
    return out


__all__ = [
    "FIRST_ID",
    "MISSING_ID",
    "OOV_ID",
    "TIME_PARTS",
    "Column",
    "ColumnPlan",
    "as_text",
    "encode",
    "encode_column",
    "fit_column",
    "fit_and_encode",
    "fit_plan",
    "time_parts",
]
