"""The kind of every column, from the warehouse schema (Arrow types), overridable in the
experiment file.

==============  ==========================================================  =================
kind            from (BigQuery / DuckDB)                                    the model sees
==============  ==========================================================  =================
numeric         INT64, FLOAT64, NUMERIC / INTEGER, DOUBLE, DECIMAL          the number (NULL:
                                                                            training mean and
                                                                            ``NAME__missing``)
categorical     STRING / VARCHAR, or an integer column declared             a category id
                ``kind = "categorical"``                                    (vocabulary of the
                                                                            training split)
boolean         BOOL / BOOLEAN                                              0 / 1 (NULL as
                                                                            numeric)
timestamp       TIMESTAMP, DATETIME                                         ``NAME__days``,
                                                                            ``__dow``,
                                                                            ``__hour``,
                                                                            ``__month``
date            DATE                                                        ``NAME__days``,
                                                                            ``__dow``,
                                                                            ``__month``
array           ARRAY<INT64|FLOAT64> (fixed length)                         the values
image           BYTES (one byte per value), or a STRING of comma-separated  the values
                numbers given a ``shape`` (the pixel forms)
==============  ==========================================================  =================

Both warehouses hand the loader Arrow data, so a table gives the same kinds on either. This module
only reads schemas: no data, no TensorFlow.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa

from mlkit.data.decode import is_bytes, is_list, is_number, is_text
from mlkit.data.validation import FeatureTypeError

KINDS = ("numeric", "categorical", "boolean", "timestamp", "date", "array", "image")
TABULAR_KINDS = ("numeric", "categorical", "boolean", "timestamp", "date")
"""Kinds a row of a client carries as one JSON value (and that may be NULL)."""


@dataclass(frozen=True)
class Declared:
    """What the experiment file says of one feature: a kind and/or a shape (pixels)."""

    name: str
    kind: str | None = None
    shape: tuple[int, ...] = ()


def schema_kind(dtype: pa.DataType, shape: tuple[int, ...] = ()) -> str | None:
    """The kind a column of ``dtype`` gets without a declaration (None: no kind reads it).
    A STRING column given a shape holds comma-separated pixels (``image``)."""
    if pa.types.is_boolean(dtype):
        return "boolean"
    if pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return "numeric"
    if pa.types.is_timestamp(dtype):
        return "timestamp"
    if pa.types.is_date(dtype):
        return "date"
    if is_text(dtype) or pa.types.is_dictionary(dtype):
        return "image" if shape else "categorical"
    if is_bytes(dtype):
        return "image"
    if is_list(dtype) and is_number(dtype.value_type):
        return "array"
    return None


def type_words(dtype: pa.DataType) -> str:
    """An Arrow type as messages name it (a list without its child field's name)."""
    if is_list(dtype):
        return f"list<{type_words(dtype.value_type)}>"
    return str(dtype)


def _allowed(dtype: pa.DataType) -> tuple[str, ...]:
    """The kinds a declaration may give a column of ``dtype``."""
    natural = schema_kind(dtype)
    if pa.types.is_integer(dtype) or pa.types.is_boolean(dtype):
        return (natural or "numeric", "categorical")
    if is_text(dtype):
        return ("categorical", "image")
    return (natural,) if natural else ()


def column_kinds(
    schema: pa.Schema,
    where: str,
    names: Sequence[str],
    declared: Mapping[str, Declared] | None = None,
) -> dict[str, str]:
    """``{column: kind}`` for the feature ``names`` of ``schema``: the declared kind where the
    experiment gives one (checked against the column's type), else the schema's."""
    declared = declared or {}
    kinds: dict[str, str] = {}
    for name in names:
        dtype = schema.field(name).type
        spec = declared.get(name)
        kind = spec.kind if spec is not None and spec.kind else None
        shape = spec.shape if spec is not None else ()
        if kind is None:
            found = schema_kind(dtype, shape)
            if found is None:
                raise FeatureTypeError(
                    f"feature column '{name}' in {where} is {type_words(dtype)}; expected a "
                    "number, STRING, BOOL, TIMESTAMP, DATE, a list of numbers or BYTES",
                    hint="leave it out with data.exclude, or cast it in a query",
                )
            kinds[name] = found
            continue
        if kind not in _allowed(dtype):
            allowed = " or ".join(_allowed(dtype)) or "no kind"
            raise FeatureTypeError(
                f"feature '{name}' in {where} is {dtype}, which cannot be kind '{kind}' "
                f"(expected {allowed})",
                hint="fix data.features' kind, or cast the column in a query",
            )
        kinds[name] = kind
    return kinds


_PIXELS = re.compile(r"\s*[-+]?\d+(\.\d*)?(\s*,\s*[-+]?\d+(\.\d*)?)+\s*")


def looks_like_pixels(value: object) -> bool:
    """A STRING value of comma-separated numbers (``"0,0,17,255"``): the pixel form, not a
    category."""
    return isinstance(value, str) and _PIXELS.fullmatch(value) is not None


def is_tabular(kinds: Mapping[str, str]) -> bool:
    """True when some column needs the tabular reader (categories, booleans, times): columns that
    the pixel reader cannot take, or that it would read differently."""
    return any(k in ("categorical", "timestamp", "date") for k in kinds.values())


def describe_kinds(kinds: Mapping[str, str]) -> str:
    """One line: ``plan categorical, age numeric, ...``."""
    return ", ".join(f"{name} {kind}" for name, kind in kinds.items())


__all__ = [
    "KINDS",
    "TABULAR_KINDS",
    "Declared",
    "column_kinds",
    "describe_kinds",
    "is_tabular",
    "looks_like_pixels",
    "schema_kind",
]
