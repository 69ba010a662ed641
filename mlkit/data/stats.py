"""Per-feature statistics of a table, and drift between two sets of them.

Statistics are JSON-ready dicts, stored with a run (``runs.data_stats``)::

    {"rows": 1797,
     "features": {"pixels": {"count": 115008, "missing": 0, "mean": 4.88, "std": 6.02,
                             "min": 0.0, "max": 16.0, "values_per_row": 64,
                             "histogram": {"edges": [...11], "counts": [...10]}}},
     "label": {"name": "label", "missing": 0, "distribution": {"0": 178, ...}}}

A list, BYTES or STRING feature is summarised over all its values (every pixel of every image).
Drift compares a new table's histograms with a run's on the run's bin edges: the population
stability index (PSI) per feature, and the shift of the mean in the run's standard deviations.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from mlkit.data.decode import decode_column, storage_form
from mlkit.data.warehouse import Relation, Warehouse
from mlkit.errors import DataError

BINS = 10
PSI_THRESHOLD = 0.2  # the usual reading: below 0.1 stable, 0.1-0.2 some change, above 0.2 moved
MEAN_SHIFT_THRESHOLD = 0.5  # standard deviations of the training data
_CHUNK = 1 << 20  # values summarised at a time
HISTOGRAM_ROWS = 20_000  # loaded arrays: histograms of every k-th row, at most about this many


class Moments:
    """Count, missing, sum, sum of squares, min and max, updated chunk by chunk."""

    def __init__(self) -> None:
        self.count = 0
        self.missing = 0
        self.total = 0.0
        self.squares = 0.0
        self.low = math.inf
        self.high = -math.inf
        self.per_row: int | None = None

    def update(self, values: np.ndarray) -> None:
        flat = values.reshape(-1)
        for start in range(0, flat.size, _CHUNK):
            part = flat[start : start + _CHUNK]
            self.count += part.size
            self.total += float(part.sum(dtype=np.float64))
            # float32 products summed per chunk of 2**20 values, chunks summed in float64
            self.squares += (
                float(np.dot(part, part))
                if part.dtype == np.float32
                else float(np.dot(part.astype(np.float64), part.astype(np.float64)))
            )
            self.low = min(self.low, float(part.min()))
            self.high = max(self.high, float(part.max()))

    def update_small(self, small: np.ndarray, values: np.ndarray) -> None:
        """:meth:`update` for values that are all integers in 0..255, ``small`` being them as
        uint8: exact sums and extremes from the bytes, squares as :meth:`update` sums them."""
        self.count += small.size
        self.total += float(small.sum(dtype=np.uint64))
        flat = values.reshape(-1)
        for start in range(0, flat.size, _CHUNK):
            part = flat[start : start + _CHUNK]
            self.squares += float(np.dot(part, part))
        self.low = min(self.low, float(small.min()))
        self.high = max(self.high, float(small.max()))

    def result(self) -> dict[str, Any]:
        mean = self.total / self.count if self.count else None
        std = (
            math.sqrt(max(self.squares / self.count - mean * mean, 0.0))
            if self.count and mean is not None
            else None
        )
        out: dict[str, Any] = {
            "count": self.count,
            "missing": self.missing,
            "mean": _round(mean),
            "std": _round(std),
            "min": _round(self.low) if self.count else None,
            "max": _round(self.high) if self.count else None,
        }
        if self.per_row is not None:
            out["values_per_row"] = self.per_row
        return out


def _round(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.6g}")


def histogram_edges(low: float | None, high: float | None) -> list[float]:
    if low is None or high is None:
        return []
    if high <= low:
        high = low + 1.0
    return [float(e) for e in np.linspace(low, high, BINS + 1)]


def histogram_bins(values: np.ndarray, edges: list[float]) -> np.ndarray:
    """The bin of each value (float32 arithmetic), values outside the edges in the end bins."""
    low, high = float(edges[0]), float(edges[-1])
    scale = BINS / (high - low) if high > low else 0.0
    part = values.reshape(-1).astype(np.float32)
    part -= low
    part *= scale
    np.clip(part, 0, BINS - 1, out=part)
    return part.astype(np.int32)


def histogram(values: np.ndarray, edges: list[float]) -> np.ndarray:
    """Counts in the ``BINS`` equal-width bins between ``edges[0]`` and ``edges[-1]``; values
    outside them go to the first or last bin."""
    counts = np.zeros(BINS, dtype=np.int64)
    if not edges:
        return counts
    flat = values.reshape(-1)
    for start in range(0, flat.size, _CHUNK):
        counts += np.bincount(histogram_bins(flat[start : start + _CHUNK], edges), minlength=BINS)
    return counts


def label_distribution(labels: np.ndarray) -> dict[str, int]:
    values, counts = np.unique(labels, return_counts=True)
    return {str(v): int(c) for v, c in zip(values.tolist(), counts.tolist(), strict=True)}


def array_stats(
    features: dict[str, list[np.ndarray]],
    labels: np.ndarray | None,
    label: str | None,
    small: dict[str, list[np.ndarray]] | None = None,
) -> dict[str, Any]:
    """Statistics of decoded, validated arrays (no missing values by then); each feature may come
    in several parts (the splits). Histograms count every k-th row, about HISTOGRAM_ROWS in all.

    ``small`` may give, for a feature whose values are all integers in 0..255, the same parts as
    uint8 (see :func:`as_uint8`): the sums, extremes and histogram are then taken from them (a
    quarter of the memory traffic), with the same results as from the float32 parts."""
    rows = len(labels) if labels is not None else sum(len(p) for p in next(iter(features.values())))
    out: dict[str, Any] = {"rows": int(rows), "features": {}}
    for name, parts in features.items():
        compact = (small or {}).get(name)
        moments = Moments()
        for i, values in enumerate(parts):
            if values.size:
                if compact is not None:
                    moments.update_small(compact[i], values)
                else:
                    moments.update(values)
            if values.ndim > 1:
                moments.per_row = int(np.prod(values.shape[1:]))
        summary = moments.result()
        edges = histogram_edges(summary["min"], summary["max"])
        total = sum(len(p) for p in parts)
        step = max(1, total // HISTOGRAM_ROWS)
        counts = np.zeros(BINS, dtype=np.int64)
        sampled = 0
        for i, values in enumerate(parts):
            if compact is not None:  # every step-th row, as below, counted per byte value
                block = np.ascontiguousarray(compact[i][::step])  # compares run faster on it
                counts += _small_histogram(block, edges)
                sampled += len(block)
                continue
            for start in range(0, len(values), step * 64):  # every step-th row, 64 rows a time
                block = values[start : start + step * 64 : step]
                counts += histogram(block, edges)
                sampled += len(block)
        summary["histogram"] = {"edges": edges, "counts": counts.tolist(), "rows": sampled}
        out["features"][name] = summary
    if labels is not None:
        out["label"] = {"name": label, "missing": 0, "distribution": label_distribution(labels)}
    return out


def as_uint8(parts: list[np.ndarray], integral: bool = False) -> list[np.ndarray] | None:
    """The float32 ``parts`` as uint8 when every value is an integer in 0..255 (pixels), else
    None. ``integral``: the values are known to be integers (decoded from integer data)."""
    present = [p for p in parts if p.size]
    if not present:
        return None
    low = min(float(p.min()) for p in present)
    high = max(float(p.max()) for p in present)
    if low < 0 or high > 255:
        return None
    if not integral:
        for p in present:
            flat = p.reshape(-1)
            for start in range(0, flat.size, _CHUNK):
                part = flat[start : start + _CHUNK]
                if not np.array_equal(part, np.floor(part)):
                    return None
    return [p.astype(np.uint8) for p in parts]


def _small_histogram(block: np.ndarray, edges: list[float]) -> np.ndarray:
    """:func:`histogram` of uint8 values (same arithmetic): each bin holds a run of byte values,
    so the counts come from one comparison per bin edge."""
    counts = np.zeros(BINS, dtype=np.int64)
    if not edges or not block.size:
        return counts
    bins = histogram_bins(np.arange(256, dtype=np.float32), edges)  # non-decreasing
    at_least = np.zeros(BINS + 1, dtype=np.int64)
    at_least[0] = block.size
    for b in range(1, BINS):
        first = int(np.searchsorted(bins, b))  # the smallest byte value in bin b or above
        at_least[b] = np.count_nonzero(block >= first) if first < 256 else 0
    return at_least[:-1] - at_least[1:]


def _feature_columns(schema: pa.Schema, label: str | None, skip: set[str]) -> list[str]:
    from mlkit.data.kinds import schema_kind

    return [
        f.name
        for f in schema
        if f.name != label and f.name not in skip and schema_kind(f.type) is not None
    ]


def _values(column: pa.ChunkedArray | pa.Array, name: str, where: str) -> tuple[np.ndarray, int]:
    """Non-null values of a column as float32, and how many rows were null."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    missing = column.null_count
    if missing:
        column = column.drop_null()
    form = storage_form(column.type)
    if form == "scalar" or pa.types.is_decimal(column.type):
        if pa.types.is_boolean(column.type):
            column = column.cast(pa.int8())
        return column.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np.float32), missing
    if len(column) == 0:
        return np.zeros(0, np.float32), missing
    width = _row_width(column)
    return decode_column(column, name, (width,), where), missing


def _row_width(column: pa.Array) -> int:
    first = column[0].as_py()
    if isinstance(first, str):
        return first.count(",") + 1
    return len(first)


def relation_stats(
    warehouse: Warehouse,
    relation: Relation,
    *,
    label: str | None = None,
    skip: Iterable[str] = (),
    edges: dict[str, list[float]] | None = None,
) -> dict[str, Any]:
    """Statistics of a table or query, read in record batches, each column by its kind
    (``mlkit.data.kinds``): numbers, booleans and times with quantiles, categories with their
    most frequent values, arrays per position and pooled, pixels pooled. Pixel and array columns
    take two passes (moments, then histograms; one when ``edges`` are given, as drift does with a
    run's); the others are summarised from one."""
    from mlkit.data.kinds import looks_like_pixels, schema_kind

    where = f"table '{relation}'" if isinstance(relation, str) else "the query"
    with warehouse.materialize(relation) as rel:
        schema = warehouse.relation_schema(rel)
        if label is not None and label not in schema.names:
            from mlkit.data.validation import MissingColumnError

            raise MissingColumnError(
                f"label column '{label}' not found in {where} (columns: {', '.join(schema.names)})",
                hint="name the label with --label",
            )
        names = _feature_columns(schema, label, set(skip))
        if not names:
            raise DataError(f"{where} has no columns to summarise")
        kinds = {n: schema_kind(schema.field(n).type) or "numeric" for n in names}
        columns = names + ([label] if label else [])
        pooled = {n for n in names if kinds[n] in ("array", "image")}
        moments = {n: Moments() for n in pooled}
        positions: dict[str, list[np.ndarray]] = {n: [] for n in names if kinds[n] == "array"}
        scalars: dict[str, list[np.ndarray]] = {}
        missing: dict[str, int] = dict.fromkeys(names, 0)
        counts: dict[str, dict[str, int]] = {}
        labels: dict[str, int] = {}
        label_missing = 0
        rows = 0
        hist: dict[str, np.ndarray] = {}
        fixed = edges or {}
        for batch in warehouse.iter_batches(rel, columns):
            rows += batch.num_rows
            for name in names:
                column = batch.column(name)
                if kinds[name] == "categorical" and rows == batch.num_rows:
                    first = column.drop_null()
                    if len(first) and looks_like_pixels(first[0].as_py()):
                        kinds[name] = "image"  # comma-separated pixels, as before
                        pooled.add(name)
                        moments[name] = Moments()
                kind = kinds[name]
                if kind == "categorical":
                    found = value_counts(column)
                    missing[name] += len(column) - sum(found.values())
                    merged = counts.setdefault(name, {})
                    for value, count in found.items():
                        merged[value] = merged.get(value, 0) + count
                elif kind in ("timestamp", "date"):
                    days, nulls = time_days(_combine_batch(column), kind)
                    missing[name] += nulls
                    scalars.setdefault(name, []).append(days)
                elif name in pooled:
                    values, nulls = _values(column, name, where)
                    moments[name].missing += nulls
                    if values.ndim > 1:
                        moments[name].per_row = int(values.shape[1])
                    if values.size:
                        moments[name].update(values)
                    if name in positions and values.size:
                        positions[name].append(values.reshape(len(values), -1)[:, :MAX_POSITIONS])
                    if name in fixed:
                        hist[name] = hist.get(name, 0) + histogram(values, fixed[name])
                else:
                    values, nulls = _values(column, name, where)
                    keep = ~np.isnan(values)
                    missing[name] += nulls + int((~keep).sum())
                    scalars.setdefault(name, []).append(values[keep].astype(np.float64))
            if label:
                column = batch.column(label)
                label_missing += column.null_count
                for value, count in _value_counts(column):
                    labels[value] = labels.get(value, 0) + count
        out: dict[str, Any] = {"rows": rows, "features": {}}
        for name in names:
            kind = kinds[name]
            if kind == "categorical":
                out["features"][name] = categorical_summary(counts.get(name, {}), missing[name])
            elif name in pooled:
                summary = moments[name].result()
                summary["kind"] = kind
                summary["histogram"] = {
                    "edges": fixed.get(name) or histogram_edges(summary["min"], summary["max"]),
                    "counts": None,
                }
                if name in positions:
                    parts = positions[name]
                    summary["positions"] = position_summary(np.concatenate(parts)) if parts else []
                out["features"][name] = summary
            else:
                parts = scalars.get(name, [])
                values = np.concatenate(parts) if parts else np.zeros(0)
                out["features"][name] = numeric_summary(
                    values, missing[name], kind, fixed.get(name)
                )
                if kind in ("timestamp", "date"):
                    out["features"][name]["unit"] = "days since 1970-01-01"
        need = [n for n in pooled if n not in fixed and out["features"][n]["count"]]
        if need:
            for batch in warehouse.iter_batches(rel, need):
                for name in need:
                    values, _ = _values(batch.column(name), name, where)
                    edges_here = out["features"][name]["histogram"]["edges"]
                    hist[name] = hist.get(name, 0) + histogram(values, edges_here)
        for name in pooled:
            counts_here = hist.get(name)
            out["features"][name]["histogram"]["counts"] = (
                np.asarray(counts_here).tolist() if counts_here is not None else [0] * BINS
            )
        if label:
            out["label"] = {
                "name": label,
                "missing": label_missing,
                "distribution": dict(sorted(labels.items(), key=lambda kv: _sort_key(kv[0]))),
            }
        return out


def _combine_batch(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _sort_key(value: str) -> tuple[int, float | str]:
    try:
        return (0, float(value))
    except ValueError:
        return (1, value)


def _value_counts(column: pa.Array | pa.ChunkedArray) -> list[tuple[str, int]]:
    import pyarrow.compute as pc

    counts = pc.value_counts(column.drop_null())
    return [(str(item["values"]), int(item["counts"])) for item in counts.to_pylist()]


QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
TOP_VALUES = 50  # categorical values listed by frequency (drift flags values outside them)
MAX_POSITIONS = 1024  # array features: per-position statistics for at most this many positions


def quantiles(values: np.ndarray) -> dict[str, float]:
    """``{"p01": ..., "p50": ..., "p99": ...}`` of the values (empty when there are none)."""
    if not values.size:
        return {}
    found = np.quantile(values.astype(np.float64), QUANTILES)
    return {
        f"p{round(q * 100):02d}": _round(float(v)) or 0.0
        for q, v in zip(QUANTILES, found, strict=True)
    }


def numeric_summary(
    values: np.ndarray, missing: int, kind: str = "numeric", edges: list[float] | None = None
) -> dict[str, Any]:
    """Moments, quantiles and a histogram of a column's non-NULL values (one per row)."""
    moments = Moments()
    moments.missing = missing
    flat = values.reshape(-1).astype(np.float64)
    if flat.size:
        moments.update(flat)
    summary = moments.result()
    summary["kind"] = kind
    summary["missing_share"] = _share(missing, flat.size + missing)
    summary["quantiles"] = quantiles(flat)
    edges = edges or histogram_edges(summary["min"], summary["max"])
    summary["histogram"] = {
        "edges": edges,
        "counts": histogram(flat, edges).tolist(),
        "rows": int(flat.size),
    }
    return summary


def _share(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def categorical_summary(counts: dict[str, int], missing: int) -> dict[str, Any]:
    """Distinct values, the most frequent ones with their counts and shares, missing share."""
    total = sum(counts.values())
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_VALUES]
    return {
        "kind": "categorical",
        "count": total,
        "missing": missing,
        "missing_share": _share(missing, total + missing),
        "distinct": len(counts),
        "top": [{"value": v, "count": c, "share": _share(c, total)} for v, c in top],
    }


def position_summary(values: np.ndarray) -> list[dict[str, float | None]]:
    """Per position of an array feature (rows x width): mean, std, min and max."""
    matrix = values.reshape(len(values), -1)[:, :MAX_POSITIONS].astype(np.float64)
    if not len(matrix):
        return []
    mean, std = matrix.mean(axis=0), matrix.std(axis=0)
    low, high = matrix.min(axis=0), matrix.max(axis=0)
    return [
        {"mean": _round(float(m)), "std": _round(float(s)), "min": _round(float(a)),
         "max": _round(float(b))}
        for m, s, a, b in zip(mean, std, low, high, strict=True)
    ]  # fmt: skip


def value_counts(column: pa.Array | pa.ChunkedArray) -> dict[str, int]:
    """A categorical column's non-NULL values (as text, the empty string as NULL) and counts."""
    import pyarrow.compute as pc

    from mlkit.data.columns import as_text

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    text = as_text(column).drop_null()
    if not len(text):
        return {}
    return {str(c["values"]): int(c["counts"]) for c in pc.value_counts(text).to_pylist()}


def time_days(column: pa.Array, kind: str) -> tuple[np.ndarray, int]:
    """A timestamp or date column's non-NULL values as days since 1970-01-01, and its NULLs."""
    from mlkit.data.columns import time_parts

    parts, missing = time_parts(column, kind)
    return parts[~missing, 0], int(missing.sum())


def column_summary(column: pa.Array | pa.ChunkedArray, kind: str) -> dict[str, Any]:
    """The statistics of one column of the kind given (``mlkit.data.kinds``)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if kind == "categorical":
        counts = value_counts(column)
        return categorical_summary(counts, len(column) - sum(counts.values()))
    if kind in ("timestamp", "date"):
        days, missing = time_days(column, kind)
        summary = numeric_summary(days, missing, kind)
        summary["unit"] = "days since 1970-01-01"
        return summary
    missing = column.null_count
    present = column.drop_null()
    if kind in ("array", "image"):
        width = _row_width(present) if len(present) else 0
        values = (
            decode_column(present, "column", (width,), "the table") if width else np.zeros((0, 0))
        )
        summary = numeric_summary(values, missing, kind)
        summary["count"] = int(values.size)
        summary["values_per_row"] = width
        if kind == "array":
            summary["positions"] = position_summary(values)
        return summary
    if pa.types.is_boolean(present.type):
        present = present.cast(pa.int8())
    values = present.cast(pa.float64()).to_numpy(zero_copy_only=False)
    nans = int(np.isnan(values).sum())
    return numeric_summary(values[~np.isnan(values)], missing + nans, kind)


def table_stats(table: pa.Table, kinds: dict[str, str], label: str | None) -> dict[str, Any]:
    """Statistics of an in-memory table whose columns have the given kinds (and the label)."""
    out: dict[str, Any] = {"rows": table.num_rows, "features": {}}
    for name, kind in kinds.items():
        out["features"][name] = column_summary(table.column(name), kind)
    if label is not None:
        column = table.column(label)
        counts = value_counts(column) if not pa.types.is_floating(column.type) else {}
        out["label"] = {
            "name": label,
            "missing": column.null_count,
            "distribution": dict(sorted(counts.items(), key=lambda kv: _sort_key(kv[0]))),
        }
    return out


# -- drift -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    psi: float
    mean_before: float | None
    mean_after: float | None
    mean_shift: float | None  # in standard deviations of the run's data
    missing_before: int
    missing_after: int
    drifted: bool
    reason: str


def psi(before: list[int], after: list[int]) -> float:
    """Population stability index of two histograms over the same bins."""
    b = np.asarray(before, dtype=np.float64)
    a = np.asarray(after, dtype=np.float64)
    if b.sum() == 0 or a.sum() == 0:
        return 0.0
    eps = 1e-4
    pb = np.clip(b / b.sum(), eps, None)
    pa_ = np.clip(a / a.sum(), eps, None)
    return float(np.sum((pa_ - pb) * np.log(pa_ / pb)))


def categorical_drift(name: str, old: dict[str, Any], new: dict[str, Any]) -> FeatureDrift:
    """PSI over the categories both know (the rest pooled as one), new categories, missing share.
    A category the run's data did not have (its list of values being complete) is drift."""
    before = {t["value"]: t["count"] for t in old.get("top") or []}
    after = {t["value"]: t["count"] for t in new.get("top") or []}
    keys = sorted(set(before) | set(after))
    rest_before = max(int(old.get("count", 0)) - sum(before.values()), 0)
    rest_after = max(int(new.get("count", 0)) - sum(after.values()), 0)
    value = psi(
        [before.get(k, 0) for k in keys] + [rest_before],
        [after.get(k, 0) for k in keys] + [rest_after],
    )
    complete = int(old.get("distinct", 0)) <= len(before)
    new_values = [v for v in after if v not in before] if complete else []
    reasons = []
    if value > PSI_THRESHOLD:
        reasons.append(f"PSI {value:.2f} > {PSI_THRESHOLD}")
    if new_values:
        shown = ", ".join(repr(v) for v in sorted(new_values)[:5])
        more = f" (+{len(new_values) - 5} more)" if len(new_values) > 5 else ""
        reasons.append(f"new categories {shown}{more}")
    old_rate, new_rate = old.get("missing_share", 0.0), new.get("missing_share", 0.0)
    if new_rate > old_rate + 0.01:
        reasons.append(f"missing {old_rate:.1%} → {new_rate:.1%}")
    return FeatureDrift(
        name, round(value, 4), None, None, None, old.get("missing", 0), new.get("missing", 0),
        bool(reasons), "; ".join(reasons),
    )  # fmt: skip


def compare(before: dict[str, Any], after: dict[str, Any]) -> list[FeatureDrift]:
    """One entry per feature of ``before`` (a run's statistics), label last."""
    out = []
    for name, old in before.get("features", {}).items():
        new = after.get("features", {}).get(name)
        if new is None:
            out.append(
                FeatureDrift(
                    name,
                    math.inf,
                    old.get("mean"),
                    None,
                    None,
                    old.get("missing", 0),
                    0,
                    True,
                    "missing from the new data",
                )
            )
            continue
        if old.get("kind") == "categorical" or new.get("kind") == "categorical":
            out.append(categorical_drift(name, old, new))
            continue
        value = psi(old["histogram"]["counts"], new["histogram"]["counts"])
        shift = None
        if old.get("std") and new.get("mean") is not None and old.get("mean") is not None:
            shift = (new["mean"] - old["mean"]) / old["std"]
        reasons = []
        if value > PSI_THRESHOLD:
            reasons.append(f"PSI {value:.2f} > {PSI_THRESHOLD}")
        if shift is not None and abs(shift) > MEAN_SHIFT_THRESHOLD:
            reasons.append(f"mean moved {shift:+.2f} sd")
        old_rate = old.get("missing", 0) / max(old.get("count", 0) + old.get("missing", 0), 1)
        new_rate = new.get("missing", 0) / max(new.get("count", 0) + new.get("missing", 0), 1)
        if new_rate > old_rate + 0.01:
            reasons.append(f"missing {old_rate:.1%} → {new_rate:.1%}")
        out.append(
            FeatureDrift(
                name,
                round(value, 4),
                old.get("mean"),
                new.get("mean"),
                None if shift is None else round(shift, 4),
                old.get("missing", 0),
                new.get("missing", 0),
                bool(reasons),
                "; ".join(reasons),
            )
        )
    if "label" in before and "label" in after:
        keys = sorted(
            set(before["label"]["distribution"]) | set(after["label"]["distribution"]),
            key=_sort_key,
        )
        b = [before["label"]["distribution"].get(k, 0) for k in keys]
        a = [after["label"]["distribution"].get(k, 0) for k in keys]
        value = psi(b, a)
        new_values = sorted(
            set(after["label"]["distribution"]) - set(before["label"]["distribution"])
        )
        reasons = []
        if value > PSI_THRESHOLD:
            reasons.append(f"PSI {value:.2f} > {PSI_THRESHOLD}")
        if new_values:
            reasons.append("new label values " + ", ".join(new_values))
        out.append(
            FeatureDrift(
                f"{before['label']['name']} (label)",
                round(value, 4),
                None,
                None,
                None,
                before["label"].get("missing", 0),
                after["label"].get("missing", 0),
                bool(reasons),
                "; ".join(reasons),
            )
        )
    return out
