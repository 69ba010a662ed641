"""Statistics pushed down into the warehouse: exactly what the streamed pass
(:func:`mlkit.data.stats.relation_stats`) returns, for every column kind, computed by SQL where
the rows live. Only aggregates leave the warehouse (a few rows per feature, per array position,
per listed category and per label value): no table row reaches the client.

The kinds come from the schema (:func:`mlkit.data.kinds.schema_kind`); a STRING column is
``image`` (comma-separated pixels) when every non-empty value matches the pixel pattern of
:func:`mlkit.data.kinds.looks_like_pixels` (checked in SQL), else ``categorical``.

Queries (each one ``UNION ALL`` statement):

0. *Probe* (only when there are STRING features): how many values of each match the pixel form.
1. *Moments*: the row count; per numeric, boolean, timestamp or date column the count, missing
   (NULL or NaN), sum, sum of squares, minimum, maximum and the quantiles ``QUANTILES``; per array
   or pixel column the same over all its values (unnested) and its values per row (an array's
   from its per-position count, sum, squares, minimum and maximum, the first ``MAX_POSITIONS``
   of which are listed); per categorical column its non-empty values, missing rows and distinct
   values; the label's NULLs.
2. *Histograms and frequencies*: each feature's values counted in the ``BINS`` equal-width bins
   between its edges (a run's edges for drift, else ``min``..``max`` from query 1); each
   categorical column's ``TOP_VALUES`` most frequent values; the label's frequencies.

Tolerance against the streamed pass: the streamed pass reads values as float32 and sums in
float64, SQL sums the stored values in float64: moments agree to about 1e-6 relative. Bins are
computed in float32 as the streamed pass does on DuckDB (equal counts); on BigQuery (no float32)
a value within float32 rounding of a bin edge may fall in the neighbouring bin. Quantiles: DuckDB's
``quantile_cont`` interpolates as numpy does (equal to 1e-6 relative); BigQuery's
``APPROX_QUANTILES(x, 100)`` gives values of the data whose rank is approximate: within 1% of
the rows of the exact quantile (exact on small tables).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from mlkit.data.decode import storage_form
from mlkit.data.sql_dialect import SqlDialect
from mlkit.data.stats import (
    BINS,
    MAX_POSITIONS,
    QUANTILES,
    TOP_VALUES,
    Moments,
    _feature_columns,
    _round,
    _share,
    _sort_key,
    categorical_summary,
    histogram_edges,
    relation_stats,
)
from mlkit.data.validation import MissingColumnError
from mlkit.data.warehouse import NAME_PATTERN, Relation, Warehouse
from mlkit.errors import DataError

PIXEL_PATTERN = (
    "[[:space:]]*[-+]?[0-9]+([.][0-9]*)?"
    "([[:space:]]*,[[:space:]]*[-+]?[0-9]+([.][0-9]*)?)+[[:space:]]*"
)  # looks_like_pixels' pattern in RE2 (no backslashes: one literal for both dialects)

_COLUMNS = ("kind", "name", "text", "pos", "n", "m", "total", "squares", "low", "high", "q")
_SCALAR = ("numeric", "boolean", "timestamp", "date")


def statistics(
    warehouse: Warehouse,
    relation: Relation,
    *,
    label: str | None = None,
    skip: Iterable[str] = (),
    edges: dict[str, list[float]] | None = None,
    features: Iterable[str] | None = None,
    pushdown: bool = True,
) -> dict[str, Any]:
    """The statistics of a source by column kind (:func:`mlkit.data.stats.relation_stats`'s
    result): pushed down into the warehouse when it runs SQL, else (or with
    ``pushdown=False``) one streamed pass of its rows (two when no ``edges`` are given).
    ``features``: only these columns."""
    if pushdown and warehouse.sql_dialect() is not None:
        return pushdown_stats(
            warehouse, relation, label=label, skip=skip, edges=edges, features=features
        )
    skipped = set(skip)
    if features is not None:
        wanted = set(features)
        schema = warehouse.relation_schema(relation)
        skipped |= {n for n in schema.names if n not in wanted and n != label}
    return relation_stats(warehouse, relation, label=label, skip=skipped, edges=edges)


def pushdown_stats(
    warehouse: Warehouse,
    relation: Relation,
    *,
    label: str | None = None,
    skip: Iterable[str] = (),
    edges: dict[str, list[float]] | None = None,
    features: Iterable[str] | None = None,
) -> dict[str, Any]:
    """:func:`mlkit.data.stats.relation_stats`'s result, from queries run in the warehouse (a
    query source is first run into a scratch table there, as every read of it is)."""
    from mlkit.data.kinds import schema_kind

    dialect = warehouse.sql_dialect()
    if dialect is None:
        raise DataError(f"{warehouse.describe()} cannot run SQL; use the streamed statistics")
    where = f"table '{relation}'" if isinstance(relation, str) else "the query"
    with warehouse.materialize(relation) as rel:
        schema = warehouse.relation_schema(rel)
        if label is not None and label not in schema.names:
            raise MissingColumnError(
                f"label column '{label}' not found in {where} (columns: {', '.join(schema.names)})",
                hint="name the label with --label",
            )
        skipped = set(skip)
        if features is not None:
            wanted = set(features)
            skipped |= {n for n in schema.names if n not in wanted and n != label}
        names = _feature_columns(schema, label, skipped)
        if not names:
            raise DataError(f"{where} has no columns to summarise")
        kinds = {n: schema_kind(schema.field(n).type) or "numeric" for n in names}
        for n in [*names, *([label] if label else [])]:
            _literal(n)
        texts = [n for n in names if kinds[n] == "categorical"]
        if texts:
            probe = warehouse.aggregate(rel, lambda source: _probe_sql(dialect, source, texts))
            for row in probe.to_pylist():
                if int(row["n"] or 0) and int(row["m"] or 0) == int(row["n"]):
                    kinds[row["name"]] = "image"  # comma-separated pixels
        plan = _Plan(dialect, schema, kinds, label)
        first = warehouse.aggregate(rel, plan.moments_sql)
        out = plan.assemble(first.to_pylist(), edges or {})
        plan.edges = {
            n: out["features"][n]["histogram"]["edges"]
            for n in names
            if kinds[n] != "categorical"
            and out["features"][n]["count"]
            and out["features"][n]["histogram"]["edges"]
        }
        if plan.edges or plan.categorical or label:
            second = warehouse.aggregate(rel, plan.second_sql)
            plan.add_second(out, second.to_pylist())
        return out


def _literal(text: str) -> str:
    """A column name or kind as a string literal (names are identifiers: no quotes inside)."""
    if not NAME_PATTERN.match(text) and text != "":
        raise DataError(f"cannot summarise column {text!r} in SQL: expected an identifier")
    return f"'{text}'"


def _probe_sql(d: SqlDialect, source: str, texts: list[str]) -> str:
    parts = []
    for name in texts:
        column = f"src.{d.quote(name)}"
        match = d.full_match(column, PIXEL_PATTERN)
        parts.append(
            f"SELECT {_literal(name)} AS name, CAST(COUNT({column}) AS {d.int_type}) AS n, "
            f"CAST(SUM(CASE WHEN {match} THEN 1 ELSE 0 END) AS {d.int_type}) AS m "
            f"FROM {source} AS src"
        )
    return "\nUNION ALL\n".join(parts)


class _Plan:
    """The queries of one relation's statistics, and the reading of their rows."""

    def __init__(
        self, d: SqlDialect, schema: pa.Schema, kinds: dict[str, str], label: str | None
    ) -> None:
        self.d, self.schema, self.kinds, self.label = d, schema, kinds, label
        self.names = list(kinds)
        self.scalar = [n for n in self.names if kinds[n] in _SCALAR]
        self.pooled = [n for n in self.names if kinds[n] in ("array", "image")]
        self.categorical = [n for n in self.names if kinds[n] == "categorical"]
        self.edges: dict[str, list[float]] = {}
        self.points: list[int] = []

    # -- SQL fragments ---------------------------------------------------------------------------

    def _column(self, name: str) -> str:
        return f"src.{self.d.quote(name)}"

    def _scalar_value(self, name: str) -> str:
        """A scalar feature as a float, NULL where the streamed pass counts it missing."""
        d, kind, dtype = self.d, self.kinds[name], self.schema.field(name).type
        column = self._column(name)
        if kind in ("timestamp", "date"):
            naive = kind == "timestamp" and dtype.tz is None
            return d.days(column, kind, naive)
        value = d.number(column, boolean=kind == "boolean")
        if pa.types.is_floating(dtype):
            return f"(CASE WHEN {d.is_nan(column)} THEN NULL ELSE {value} END)"
        return value

    def _pooled(self, name: str, tag: int, source: str) -> tuple[str, str, str]:
        form = str(storage_form(self.schema.field(name).type))
        return self.d.values_from(form, name, str(tag), source)

    def _text(self, name: str) -> str:
        """A categorical column's value as :func:`mlkit.data.stats.value_counts` reads it (the
        empty string as NULL)."""
        return f"NULLIF(CAST({self._column(name)} AS {self.d.string_type}), '')"

    def _row(self, kind: str, name: str, values: dict[str, str], frm: str) -> str:
        d = self.d
        f, i, s = d.float_type, d.int_type, d.string_type
        types = {"text": s, "pos": i, "n": i, "m": i, "total": f, "squares": f, "low": f}
        types |= {"high": f, "q": d.float_array_type()}
        parts = [f"{_literal(kind)} AS kind", f"{_literal(name)} AS name"]
        for c in _COLUMNS[2:]:
            parts.append(f"CAST({values.get(c, 'NULL')} AS {types[c]}) AS {c}")
        return f"SELECT {', '.join(parts)} FROM {frm}"

    # -- query 1 ---------------------------------------------------------------------------------

    def moments_sql(self, source: str) -> str:
        d = self.d
        src = f"{source} AS src"
        parts = [self._row("rows", "", {"n": "COUNT(*)"}, src)]
        for name in self.scalar:
            v = self._scalar_value(name)
            q, self.points = d.quantiles(v, QUANTILES)
            sums = {"n": f"COUNT({v})", "m": f"COUNT(*) - COUNT({v})", "total": f"SUM({v})"}
            sums |= {"squares": f"SUM({v} * {v})", "low": f"MIN({v})", "high": f"MAX({v})"}
            parts.append(self._row("scalar", name, sums | {"q": q}, src))
        for tag, name in enumerate(self.pooled):
            frm, v, pos = self._pooled(name, tag, source)
            sums = {"n": f"COUNT({v})", "total": f"SUM({v})", "squares": f"SUM({v} * {v})"}
            sums |= {"low": f"MIN({v})", "high": f"MAX({v})"}
            if self.kinds[name] == "array":  # per position; pooled from them (one unnest)
                parts.append(
                    self._row("position", name, sums | {"pos": pos}, frm) + f" GROUP BY {pos}"
                )
            else:
                parts.append(self._row("pooled", name, sums | {"pos": f"MAX({pos}) + 1"}, frm))
            column = self._column(name)
            parts.append(self._row("missing", name, {"m": f"COUNT(*) - COUNT({column})"}, src))
        for name in self.categorical:
            t = self._text(name)
            counts = {"n": f"COUNT({t})", "m": f"COUNT(*) - COUNT({t})"}
            parts.append(
                self._row("categories", name, counts | {"pos": f"COUNT(DISTINCT {t})"}, src)
            )
        if self.label:
            column = self._column(self.label)
            parts.append(self._row("label", self.label, {"m": f"COUNT(*) - COUNT({column})"}, src))
        return "\nUNION ALL\n".join(parts)

    # -- query 2 ---------------------------------------------------------------------------------

    def second_sql(self, source: str) -> str:
        d = self.d
        s = d.string_type
        src = f"{source} AS src"
        parts = []
        for tag, (name, bounds) in enumerate(self.edges.items()):
            if name in self.pooled:
                frm, v, _ = self._pooled(name, tag, source)
            else:
                frm, v = src, self._scalar_value(name)
            low, high = float(bounds[0]), float(bounds[-1])
            scale = BINS / (high - low) if high > low else 0.0
            bin_ = d.bin_of(v, low, scale, BINS)
            parts.append(
                self._row("histogram", name, {"pos": bin_, "n": "COUNT(*)"}, frm)
                + f" WHERE {v} IS NOT NULL GROUP BY {bin_}"
            )
        for name in self.categorical:
            t = self._text(name)
            ranked = (
                f"(SELECT {t} AS t, COUNT(*) AS c, ROW_NUMBER() OVER "
                f"(ORDER BY COUNT(*) DESC, {t}) AS r FROM {src} WHERE {t} IS NOT NULL "
                f"GROUP BY {t}) AS top"
            )
            parts.append(
                self._row("top", name, {"text": "top.t", "n": "top.c"}, ranked)
                + f" WHERE top.r <= {TOP_VALUES}"
            )
        if self.label:
            column = self._column(self.label)
            parts.append(
                self._row(
                    "label", self.label, {"text": f"CAST({column} AS {s})", "n": "COUNT(*)"}, src
                )
                + f" WHERE {column} IS NOT NULL GROUP BY {column}"
            )
        return "\nUNION ALL\n".join(parts)

    # -- reading ---------------------------------------------------------------------------------

    def assemble(self, rows: list[dict[str, Any]], fixed: dict[str, list[float]]) -> dict[str, Any]:
        """The statistics from query 1's rows (histograms and frequencies still empty)."""
        moments = {n: Moments() for n in self.scalar + self.pooled}
        found: dict[str, list[float]] = {}
        positions: dict[str, dict[int, Moments]] = {n: {} for n in self.pooled}
        cats: dict[str, tuple[int, int, int]] = {}
        label_missing = 0
        total_rows = 0
        for row in rows:
            kind, name, n = row["kind"], row["name"], int(row["n"] or 0)
            if kind == "rows":
                total_rows = n
            elif kind in ("scalar", "pooled"):
                m = moments[name]
                m.count = n
                if n:
                    m.total, m.squares = float(row["total"]), float(row["squares"])
                    m.low, m.high = float(row["low"]), float(row["high"])
                if kind == "scalar":
                    m.missing = int(row["m"] or 0)
                    if n and row["q"]:
                        found[name] = [float(row["q"][i]) for i in self.points]
                elif row["pos"] is not None:
                    m.per_row = int(row["pos"])
            elif kind == "position" and n:
                at, m, pooled = int(row["pos"]), Moments(), moments[name]
                m.count, m.total, m.squares = n, float(row["total"]), float(row["squares"])
                m.low, m.high = float(row["low"]), float(row["high"])
                pooled.count += n
                pooled.total += m.total
                pooled.squares += m.squares
                pooled.low, pooled.high = min(pooled.low, m.low), max(pooled.high, m.high)
                pooled.per_row = max(pooled.per_row or 0, at + 1)
                if at < MAX_POSITIONS:
                    positions[name][at] = m
            elif kind == "missing":
                moments[name].missing = int(row["m"] or 0)
            elif kind == "categories":
                cats[name] = (n, int(row["m"] or 0), int(row["pos"] or 0))
            elif kind == "label":
                label_missing = int(row["m"] or 0)
        out: dict[str, Any] = {"rows": total_rows, "features": {}}
        for name in self.names:
            kind = self.kinds[name]
            if kind == "categorical":
                count, missing, distinct = cats[name]
                summary = categorical_summary({}, missing)
                summary |= {"count": count, "distinct": distinct}
                summary["missing_share"] = _share(missing, count + missing)
            else:
                summary = moments[name].result()
                summary["kind"] = kind
                given = fixed.get(name)
                edges = given or histogram_edges(summary["min"], summary["max"])
                summary["histogram"] = {"edges": edges, "counts": [0] * BINS}
                if kind in _SCALAR:
                    summary["missing_share"] = _share(
                        summary["missing"], summary["count"] + summary["missing"]
                    )
                    summary["quantiles"] = _quantiles(found.get(name))
                    summary["histogram"]["rows"] = summary["count"]
                    if kind in ("timestamp", "date"):
                        summary["unit"] = "days since 1970-01-01"
                if kind == "array":
                    summary["positions"] = [
                        _position(positions[name][p]) for p in sorted(positions[name])
                    ]
            out["features"][name] = summary
        if self.label:
            out["label"] = {"name": self.label, "missing": label_missing, "distribution": {}}
        return out

    def add_second(self, out: dict[str, Any], rows: list[dict[str, Any]]) -> None:
        """Query 2's histogram counts and value frequencies, into ``out``."""
        label_type = self.schema.field(self.label).type if self.label else None
        for row in rows:
            name, n = row["name"], int(row["n"])
            if row["kind"] == "histogram":
                out["features"][name]["histogram"]["counts"][int(row["pos"])] += n
            elif row["kind"] == "top":
                summary = out["features"][name]
                summary["top"].append(
                    {"value": row["text"], "count": n, "share": _share(n, summary["count"])}
                )
            else:
                text = str(_label_text(row["text"], label_type))
                dist = out["label"]["distribution"]
                dist[text] = dist.get(text, 0) + n
        for name in self.categorical:
            top = out["features"][name]["top"]
            top.sort(key=lambda t: (-t["count"], t["value"]))
        if self.label:
            ordered = sorted(out["label"]["distribution"].items(), key=lambda kv: _sort_key(kv[0]))
            out["label"]["distribution"] = dict(ordered)


def _quantiles(values: list[float] | None) -> dict[str, float]:
    if not values:
        return {}
    return {
        f"p{round(q * 100):02d}": _round(v) or 0.0 for q, v in zip(QUANTILES, values, strict=True)
    }


def _position(m: Moments) -> dict[str, float | None]:
    """One array position's mean, (population) std, min and max, as ``position_summary``."""
    mean = m.total / m.count
    std = math.sqrt(max(m.squares / m.count - mean * mean, 0.0))
    return {"mean": _round(mean), "std": _round(std), "min": _round(m.low), "max": _round(m.high)}


def _label_text(value: str | None, dtype: pa.DataType | None) -> str | None:
    """A label value as the streamed pass names it (``str`` of the Python value)."""
    if value is None or dtype is None:
        return value
    if pa.types.is_boolean(dtype):
        return str(value.lower() == "true")
    if pa.types.is_integer(dtype):
        return str(int(value))
    if pa.types.is_floating(dtype):
        return str(float(value))
    return value


__all__ = ["PIXEL_PATTERN", "pushdown_stats", "statistics"]
