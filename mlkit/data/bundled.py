"""Datasets that ship with scikit-learn, as Arrow tables ready for a warehouse.

``digits``: ``id`` int64, ``label`` int64, ``pixels`` list<int64> of 64 values 0..16 (8x8,
row-major).
``breast_cancer``, ``wine``, ``iris``: ``id`` int64, one float64 column per feature (names in
snake_case), ``label`` int64.
``diabetes`` (regression): ``id`` int64, ten float64 feature columns, ``label`` float64.
``penguins`` (the ``palmerpenguins`` package: 344 penguins of three species): ``id`` int64,
``species`` string (the label: Adelie, Chinstrap, Gentoo), ``island`` string, four float64
measurements and ``sex`` string, with NULLs where the survey has none, ``year`` int64.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from mlkit.errors import DataError

if TYPE_CHECKING:
    from mlkit.data.warehouse import Warehouse

_LOADERS = {
    "digits": "load_digits",
    "breast_cancer": "load_breast_cancer",
    "wine": "load_wine",
    "iris": "load_iris",
    "diabetes": "load_diabetes",  # regression: label is a float64 disease progression score
    "penguins": "palmerpenguins",  # categories, NULLs and a text label (not scikit-learn's)
}


@dataclass(frozen=True)
class LoadSummary:
    table: str
    rows: int
    columns: tuple[str, ...]
    source: str


def bundled_names() -> list[str]:
    return sorted(_LOADERS)


def snake_case(name: str) -> str:
    """``'sepal length (cm)'`` → ``'sepal_length_cm'``; ``'a/b'`` → ``'a_b'``."""
    text = re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")
    if not text or text[0].isdigit():
        text = "f_" + text
    return text


def bundled_table(name: str) -> pa.Table:
    if name not in _LOADERS:
        raise DataError(
            f"unknown bundled dataset '{name}': known ones are {', '.join(bundled_names())}"
        )
    if name == "penguins":
        return penguins_table()
    from sklearn import datasets  # imported here: it is slow and only loading needs it

    bunch = getattr(datasets, _LOADERS[name])()
    data = np.asarray(bunch.data)
    target_type = np.float64 if name == "diabetes" else np.int64
    labels = pa.array(np.asarray(bunch.target, dtype=target_type))
    ids = pa.array(np.arange(len(data), dtype=np.int64))
    if name == "digits":
        values = pa.array(data.astype(np.int64).reshape(-1))
        pixels = pa.ListArray.from_arrays(
            pa.array(np.arange(0, len(values) + 1, data.shape[1], dtype=np.int32)), values
        )
        return pa.table({"id": ids, "label": labels, "pixels": pixels})
    columns = {"id": ids}
    for i, feature in enumerate(bunch.feature_names):
        columns[snake_case(feature)] = pa.array(data[:, i].astype(np.float64))
    columns["label"] = labels
    return pa.table(columns)


def penguins_table() -> pa.Table:
    """The Palmer penguins, NULLs kept (pandas' NaN and None become NULL)."""
    from palmerpenguins import load_penguins

    frame = load_penguins()
    columns: dict[str, pa.Array] = {"id": pa.array(np.arange(len(frame), dtype=np.int64))}
    for column in frame.columns:
        values = frame[column]
        if values.dtype.kind in "if":
            kind = pa.int64() if values.dtype.kind == "i" else pa.float64()
            columns[column] = pa.array(values.to_numpy(), kind, from_pandas=True)
        else:
            columns[column] = pa.array(
                [None if not isinstance(v, str) else v for v in values.tolist()], pa.string()
            )
    return pa.table(columns)


def load_bundled(name: str, warehouse: Warehouse, table: str | None = None) -> LoadSummary:
    """Write the bundled dataset ``name`` to ``warehouse`` as ``table`` (default ``name``)."""
    data = bundled_table(name)
    target = table or name
    rows = warehouse.write_table(target, data, replace=True)
    origin = "palmerpenguins" if name == "penguins" else f"scikit-learn {name}"
    return LoadSummary(table=target, rows=rows, columns=tuple(data.column_names), source=origin)
