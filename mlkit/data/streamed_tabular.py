"""A tabular source's preprocessing (:class:`mlkit.data.columns.ColumnPlan`) for streamed
training, fitted inside the warehouse: no row leaves it.

What the in-memory reader (:func:`mlkit.data.tabular.load_tabular`) fits on the training split
in numpy is computed here by two aggregate queries over the training split's rows only (the
split's hash condition, :func:`mlkit.data.split.rows_predicate`, the one the streamed batches
use):

1. per numeric or boolean column its mean (NULL and NaN left out) and NULLs in the training
   split (an indicator feature when there are any) and in the whole source (a numeric column
   with NULLs anywhere goes through this reader); per timestamp or date column the means of its
   parts (days, day of week, hour, month) and its NULLs; the label's NULLs;
2. per categorical column the ``max_categories`` most frequent values seen at least
   ``min_count`` times (most frequent first, ties by value), and the label's values with whether
   each occurs in the training split (text and boolean labels: the classes).

The streamed pass (:mod:`mlkit.data.streamed`) then applies the plan to each record batch
(:func:`mlkit.data.columns.encode`), and the SavedModel applies it in its graph, as for an
in-memory run. Means are computed in float64 by the warehouse and stored as float32, as
:func:`mlkit.data.columns.fit_column` stores them (equal to about 1e-7 relative).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from mlkit.data.columns import TIME_PARTS, Column, ColumnPlan
from mlkit.data.decode import is_text
from mlkit.data.kinds import Declared, column_kinds, is_tabular, looks_like_pixels
from mlkit.data.loader import FeatureSpec, _columns_note, _first_values
from mlkit.data.split import rows_predicate
from mlkit.data.sql_dialect import SqlDialect
from mlkit.data.tabular import TabularOptions, label_nulls_error
from mlkit.data.validation import FeatureTypeError, LabelValuesError, MissingColumnError
from mlkit.data.warehouse import Relation, Warehouse
from mlkit.errors import DataError

_LABEL_ROW = ""  # the label's rows of query 2 (a column name is never empty)


def streamed_plan(
    warehouse: Warehouse,
    relation: Relation,
    source: Relation,
    schema: pa.Schema,
    where: str,
    *,
    label: str,
    key: str,
    features: list[FeatureSpec] | None,
    extra_columns: Sequence[str],
    exclude: Sequence[str],
    regression: bool,
    fractions: tuple[float, float],
    options: TabularOptions,
) -> ColumnPlan | None:
    """The fitted plan when the source needs the tabular reader (categories, times, NULLs in
    numbers, a text or boolean label), else None (numbers, lists and pixels: the pixel reader)."""
    names_in = set(schema.names)
    if label not in names_in or key not in names_in:
        return None  # the pixel reader names the missing column
    declared: dict[str, Declared] = {}
    if features is None:
        for name in exclude:
            if name not in names_in:
                raise MissingColumnError(
                    f"excluded column '{name}' not found in {where} {_columns_note(schema)}",
                    hint="fix the name in data.exclude",
                )
        skip = {label, key, *extra_columns, *exclude}
        names = [n for n in schema.names if n not in skip]
    else:
        names = [f.name for f in features]
        if any(n not in names_in for n in names):
            return None
        declared = {f.name: Declared(f.name, f.kind, f.shape) for f in features}
    if not names:
        return None
    kinds = column_kinds(schema, where, names, declared)
    label_type = schema.field(label).type
    text_label = not regression and (is_text(label_type) or pa.types.is_boolean(label_type))
    if features is None:  # STRING columns of comma-separated numbers are pixels, as in memory
        text = [n for n in names if kinds[n] == "categorical" and is_text(schema.field(n).type)]
        for name, value in _first_values(warehouse, relation, text).items():
            if looks_like_pixels(value):
                kinds[name] = "image"
    images = [n for n, k in kinds.items() if k == "image"]
    sure = text_label or is_tabular(kinds) or any(d.kind for d in declared.values())
    if images:
        if not sure:
            return None
        raise FeatureTypeError(
            f"feature column '{images[0]}' in {where} holds pixels (BYTES or comma-separated "
            "STRING), which cannot be mixed with categorical, time or NULL-holding columns",
            hint="train on the pixels alone, or leave them out with data.exclude",
        )
    dialect = warehouse.sql_dialect()
    if dialect is None:
        if sure:
            raise DataError(
                f"{warehouse.describe()} cannot run SQL: streaming a tabular source needs the "
                "local warehouse or BigQuery",
                hint="set data.stream = false to load it into memory",
            )
        return None
    fit = _Fit(dialect, schema, kinds, label, key, fractions, options)
    moments = warehouse.aggregate(relation, fit.moments_sql).to_pylist()[0]
    label_nulls = int(moments["label_nulls"] or 0)
    if label_nulls:
        raise label_nulls_error(label_nulls, label, where, source)
    if not (sure or fit.any_nulls(moments)):
        return None
    values = warehouse.aggregate(relation, fit.values_sql).to_pylist()
    classes = fit.classes(values, where) if text_label else None
    shapes = {n: d.shape for n, d in declared.items() if d.shape}
    arrays = [n for n, k in kinds.items() if k == "array" and n not in shapes]
    for name, value in _first_values(warehouse, relation, arrays).items():
        shapes[name] = (len(value) if isinstance(value, list) else 1,)
    columns = tuple(fit.column(n, moments, values, shapes.get(n, ())) for n in names)
    settings = {"max_categories": options.max_categories, "min_count": options.min_count}
    return ColumnPlan(columns, classes, settings)


class _Fit:
    """The two queries of a plan's fit, and the reading of their rows."""

    def __init__(
        self,
        d: SqlDialect,
        schema: pa.Schema,
        kinds: dict[str, str],
        label: str,
        key: str,
        fractions: tuple[float, float],
        options: TabularOptions,
    ) -> None:
        self.d, self.schema, self.kinds, self.label = d, schema, kinds, label
        self.options = options
        self.train = rows_predicate(d.fingerprint(d.quote(key)), 0, *fractions)
        self.tags = {name: f"c{i}" for i, name in enumerate(kinds)}

    def _value(self, name: str) -> str:
        """A numeric or boolean column as a float, NULL for NULL and NaN."""
        d, column = self.d, self.d.quote(name)
        dtype = self.schema.field(name).type
        value = d.number(column, boolean=self.kinds[name] == "boolean")
        if pa.types.is_floating(dtype):
            return f"(CASE WHEN {d.is_nan(column)} THEN NULL ELSE {value} END)"
        return value

    def _parts(self, name: str) -> list[str]:
        """A timestamp or date column's parts, as :func:`mlkit.data.columns.time_parts` reads
        them (UTC)."""
        d, column, kind = self.d, self.d.quote(name), self.kinds[name]
        naive = kind == "timestamp" and self.schema.field(name).type.tz is None
        days = d.days(column, kind, naive)
        whole = f"CAST(FLOOR({days}) AS {d.int_type})"
        parts = [days, f"MOD(MOD({whole} + 3, 7) + 7, 7)"]
        if kind == "timestamp":
            parts.append(f"EXTRACT(HOUR FROM {column})")
        parts.append(f"EXTRACT(MONTH FROM {column})")
        return [f"CAST({p} AS {d.float_type})" for p in parts]

    def moments_sql(self, source: str) -> str:
        d, train = self.d, self.train
        out = [f"SUM(CASE WHEN {d.quote(self.label)} IS NULL THEN 1 ELSE 0 END) AS label_nulls"]
        for name, kind in self.kinds.items():
            tag, column = self.tags[name], d.quote(name)
            if kind in ("numeric", "boolean"):
                value = self._value(name)
                out.append(f"AVG(CASE WHEN {train} THEN {value} END) AS {tag}_mean")
                missing = f"{value} IS NULL"
            elif kind in TIME_PARTS:
                for i, part in enumerate(self._parts(name)):
                    out.append(f"AVG(CASE WHEN {train} THEN {part} END) AS {tag}_p{i}")
                missing = f"{column} IS NULL"
            else:
                continue
            out.append(f"SUM(CASE WHEN {missing} THEN 1 ELSE 0 END) AS {tag}_nulls")
            out.append(
                f"SUM(CASE WHEN {missing} AND {train} THEN 1 ELSE 0 END) AS {tag}_train_nulls"
            )
        return f"SELECT {', '.join(out)} FROM {source} AS src"

    def values_sql(self, source: str) -> str:
        d, s = self.d, self.d.string_type
        parts = []
        for name, kind in self.kinds.items():
            if kind != "categorical":
                continue
            text = f"NULLIF(CAST({d.quote(name)} AS {s}), '')"
            ranked = (
                f"(SELECT {text} AS t, COUNT(*) AS c, ROW_NUMBER() OVER (ORDER BY COUNT(*) DESC, "
                f"{text}) AS r FROM {source} AS src WHERE {self.train} AND {text} IS NOT NULL "
                f"GROUP BY {text}) AS top"
            )
            parts.append(
                f"SELECT CAST('{name}' AS {s}) AS name, top.t AS t, "
                f"CAST(top.c AS {d.int_type}) AS c, CAST(1 AS {d.int_type}) AS f FROM {ranked} "
                f"WHERE top.r <= {int(self.options.max_categories)} "
                f"AND top.c >= {int(self.options.min_count)}"
            )
        label = d.quote(self.label)
        parts.append(
            f"SELECT CAST('{_LABEL_ROW}' AS {s}) AS name, CAST({label} AS {s}) AS t, "
            f"CAST(COUNT(*) AS {d.int_type}) AS c, "
            f"CAST(MAX(CASE WHEN {self.train} THEN 1 ELSE 0 END) AS {d.int_type}) AS f "
            f"FROM {source} AS src WHERE {label} IS NOT NULL GROUP BY {label}"
        )
        return "\nUNION ALL\n".join(parts)

    def any_nulls(self, moments: dict[str, Any]) -> bool:
        return any(int(moments.get(f"{t}_nulls") or 0) for t in self.tags.values())

    def classes(self, rows: list[dict[str, Any]], where: str) -> tuple[str, ...]:
        labels = [r for r in rows if r["name"] == _LABEL_ROW]
        if any(r["t"] == "" for r in labels):
            empty = sum(int(r["c"]) for r in labels if r["t"] == "")
            raise LabelValuesError(
                f"label column '{self.label}' in {where} has {empty} empty labels",
                hint="filter them in the source",
            )
        classes = tuple(sorted(str(r["t"]) for r in labels if int(r["f"])))
        if len(classes) < 2:
            raise LabelValuesError(
                f"label column '{self.label}' in {where} has {len(classes)} class in the "
                "training split; classification needs at least 2"
            )
        unseen = sorted(str(r["t"]) for r in labels if not int(r["f"]))
        if unseen:
            raise LabelValuesError(
                f"label column '{self.label}' in {where} has {', '.join(map(repr, unseen[:5]))} "
                "outside the training split (classes are learned from it)",
                hint="use more rows, or filter the rare classes",
            )
        return classes

    def column(
        self,
        name: str,
        moments: dict[str, Any],
        values: list[dict[str, Any]],
        shape: tuple[int, ...],
    ) -> Column:
        kind, tag = self.kinds[name], self.tags[name]
        if kind == "categorical":
            kept = sorted(
                ((str(r["t"]), int(r["c"])) for r in values if r["name"] == name),
                key=lambda vc: (-vc[1], vc[0]),
            )
            return Column(name, kind, vocabulary=tuple(v for v, _ in kept))
        if kind == "array":
            return Column(name, kind, shape=shape)
        indicator = bool(int(moments[f"{tag}_train_nulls"] or 0))
        if kind in TIME_PARTS:
            means = [moments[f"{tag}_p{i}"] for i in range(len(TIME_PARTS[kind]))]
            impute = tuple(_float32(m) for m in means)
            return Column(name, kind, impute=impute, indicator=indicator)
        return Column(name, kind, impute=(_float32(moments[f"{tag}_mean"]),), indicator=indicator)


def _float32(value: Any) -> float:
    """A mean as :func:`mlkit.data.columns.fit_column` stores it (0.0 for no values)."""
    return float(np.float32(float(value))) if value is not None else 0.0


__all__ = ["streamed_plan"]
