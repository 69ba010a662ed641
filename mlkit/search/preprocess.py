"""The tabular preprocessing of ``mlkit.data.columns`` as TensorFlow ops, for the SavedModel's
``serving_default``: a raw row in, the model's features out.

Inputs, one per raw column, ``[batch]``:

- numeric and boolean: float32, NaN for a missing value (NULL, JSON null, a missing key);
- categorical: tf.string, ``""`` for a missing value;
- timestamp and date: tf.string, ISO 8601 in UTC (``2024-05-01``, ``2024-05-01T13:45:00``,
  ``2024-05-01 13:45:00Z``; fractions of a second are ignored), ``""`` for a missing value;
- array: float32 ``[batch, width]``.

Every transform gives what the numpy preprocessing gives on the same values (a test checks the
SavedModel against the estimator on rows with NULLs and unseen categories).
"""

from __future__ import annotations

from collections.abc import Mapping

import tensorflow as tf

from mlkit.data.columns import FIRST_ID, MISSING_ID, OOV_ID, TIME_PARTS, Column, ColumnPlan

RAW_FORMS = {
    "numeric": "scalar",
    "boolean": "scalar",
    "categorical": "category",
    "timestamp": "time",
    "date": "time",
    "array": "array",
}
"""The storage form ``assets.extra/mlkit_inputs.json`` names for each kind's input."""


def raw_specs(plan: ColumnPlan) -> dict[str, tf.TensorSpec]:
    specs = {}
    for column in plan.columns:
        if column.kind in ("categorical", "timestamp", "date"):
            specs[column.name] = tf.TensorSpec([None], tf.string, name=column.name)
        elif column.kind == "array":
            specs[column.name] = tf.TensorSpec([None, *column.shape], tf.float32, name=column.name)
        else:
            specs[column.name] = tf.TensorSpec([None], tf.float32, name=column.name)
    return specs


def _days_from_civil(year: tf.Tensor, month: tf.Tensor, day: tf.Tensor) -> tf.Tensor:
    """Days since 1970-01-01 of a proleptic Gregorian date (int64 ops)."""
    year = year - tf.cast(month <= 2, tf.int64)
    era = tf.math.floordiv(year, 400)
    yoe = year - era * 400
    shifted = tf.where(month > 2, month - 3, month + 9)
    doy = tf.math.floordiv(153 * shifted + 2, 5) + day - 1
    doe = yoe * 365 + tf.math.floordiv(yoe, 4) - tf.math.floordiv(yoe, 100) + doy
    return era * 146097 + doe - 719468


def _field(text: tf.Tensor, start: int, length: int, present: tf.Tensor) -> tf.Tensor:
    # padded, so that a short value's missing field is read (then masked) without an error
    part = tf.strings.substr(tf.strings.join([text, " " * (start + length)]), start, length)
    part = tf.where(present, part, tf.fill(tf.shape(part), "0"))
    return tf.strings.to_number(part, tf.int64)


def time_parts(text: tf.Tensor, kind: str) -> tuple[tf.Tensor, tf.Tensor]:
    """``(parts [batch, n_parts] float32, missing [batch] bool)`` of ISO strings (see module)."""
    text = tf.strings.strip(text)
    missing = tf.equal(tf.strings.length(text), 0)
    present = tf.logical_not(missing)
    length = tf.strings.length(text)
    date_ok = tf.logical_and(present, length >= 10)
    year = _field(text, 0, 4, date_ok)
    month = tf.maximum(_field(text, 5, 2, date_ok), 1)
    day = tf.maximum(_field(text, 8, 2, date_ok), 1)
    days = _days_from_civil(year, month, day)
    seconds = tf.zeros_like(days)
    if kind == "timestamp":
        has_time = length >= 16
        has_seconds = length >= 19
        hour = _field(text, 11, 2, has_time)
        minute = _field(text, 14, 2, has_time)
        second = _field(text, 17, 2, has_seconds)
        seconds = hour * 3600 + minute * 60 + second
    dow = tf.math.floormod(days + 3, 7)
    parts = [
        tf.cast(days, tf.float64) + tf.cast(seconds, tf.float64) / 86_400.0,
        tf.cast(dow, tf.float64),
    ]
    if kind == "timestamp":
        parts.append(tf.cast(tf.math.floordiv(seconds, 3600), tf.float64))
    parts.append(tf.cast(month, tf.float64))
    return tf.cast(tf.stack(parts, axis=1), tf.float32), missing


def _lookup_table(column: Column) -> tf.lookup.StaticHashTable | None:
    if not column.vocabulary:
        return None
    return tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(list(column.vocabulary), tf.string),
            tf.range(FIRST_ID, FIRST_ID + len(column.vocabulary), dtype=tf.int64),
        ),
        default_value=OOV_ID,
    )


class Preprocessor(tf.Module):
    """Raw inputs → the model's features (names as ``ColumnPlan.features``). A module, so that
    the vocabulary tables are saved with the SavedModel that holds it."""

    def __init__(self, plan: ColumnPlan) -> None:
        super().__init__(name="mlkit_preprocessing")
        self.plan = plan
        self.tables = {c.name: _lookup_table(c) for c in plan.columns if c.kind == "categorical"}

    def _category_ids(self, column: Column, text: tf.Tensor) -> tf.Tensor:
        table = self.tables.get(column.name)
        if table is not None:
            ids = table.lookup(text)
        else:
            ids = tf.fill(tf.shape(text), tf.constant(OOV_ID, tf.int64))
        return tf.where(tf.equal(text, ""), tf.constant(MISSING_ID, tf.int64), ids)

    def __call__(self, inputs: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        out: dict[str, tf.Tensor] = {}
        for column in self.plan.columns:
            value = inputs[column.name]
            if column.kind == "categorical":
                out[column.name] = self._category_ids(column, value)
            elif column.kind in TIME_PARTS:
                parts, missing = time_parts(value, column.kind)
                impute = tf.constant([column.impute], tf.float32)
                parts = tf.where(missing[:, None], impute + tf.zeros_like(parts), parts)
                names = column.features()
                for i in range(len(TIME_PARTS[column.kind])):
                    out[names[i]] = parts[:, i]
                if column.indicator:
                    out[f"{column.name}__missing"] = tf.cast(missing, tf.float32)
            elif column.kind == "array":
                out[column.name] = tf.cast(value, tf.float32)
            else:
                value = tf.cast(value, tf.float32)
                missing = tf.math.is_nan(value)
                fill = column.impute[0] if column.impute else 0.0
                out[column.name] = tf.where(missing, tf.constant(fill, tf.float32), value)
                if column.indicator:
                    out[f"{column.name}__missing"] = tf.cast(missing, tf.float32)
        return out


__all__ = ["RAW_FORMS", "Preprocessor", "raw_specs", "time_parts"]
