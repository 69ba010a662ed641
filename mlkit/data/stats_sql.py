"""Statistics pushed down into the warehouse: the same numbers as the streamed pass
(:func:`mlkit.data.stats.relation_stats`), computed by two SQL queries where the rows live.

1. *Moments*: one ``UNION ALL`` query gives, per feature, the count of values, missing rows, sum,
   sum of squares, minimum, maximum, values per row (``MAX(pos) + 1`` over the values of a stored
   vector, unnested ``WITH OFFSET``) and approximate deciles; the label's frequencies (and, for the
   columns named ``categorical``, their categories' frequencies); the row count.
2. *Histograms*: one ``UNION ALL`` query counts each feature's values in the ``BINS`` equal-width
   bins between its edges (the run's edges for drift, else ``min``..``max`` from query 1).

Only the aggregates' rows leave the warehouse (a few per feature and per label value): on
BigQuery, no table row reaches the client. Array, BYTES and comma-separated STRING features are
summarised over all their values, as the streamed pass does. The SQL comes from the warehouse's
:class:`~mlkit.data.sql_dialect.SqlDialect`; a warehouse without one is read by the streamed pass
(:func:`statistics` chooses).

Float tolerance: the streamed pass decodes values to float32 before summing in float64; SQL sums
the stored values in float64. Means and deviations agree to about 1e-6 relative; a value that lies
on a bin edge within float32 rounding may fall in the neighbouring bin.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from mlkit.data.decode import storage_form
from mlkit.data.sql_dialect import SqlDialect
from mlkit.data.stats import BINS, Moments, histogram_edges, relation_stats
from mlkit.data.validation import MissingColumnError
from mlkit.data.warehouse import NAME_PATTERN, Relation, Warehouse
from mlkit.errors import DataError

QUANTILE_PARTS = 10  # deciles: "quantiles" holds 11 values, minimum to maximum
MAX_VALUES = 10_000  # a label's or category's frequencies are left out beyond this many values

_COLUMNS = ("kind", "name", "text", "num", "n", "total", "squares", "low", "high", "width", "q")


def statistics(
    warehouse: Warehouse,
    relation: Relation,
    *,
    label: str | None = None,
    skip: Iterable[str] = (),
    edges: dict[str, list[float]] | None = None,
    features: Iterable[str] | None = None,
    categorical: Iterable[str] = (),
    pushdown: bool = False,
) -> dict[str, Any]:
    """The statistics of a source: one streamed pass (two when no ``edges`` are given), by column
    kind (:func:`mlkit.data.stats.relation_stats`); pushed down into the warehouse with
    ``pushdown=True`` when it runs SQL (numbers, arrays, pixels and labels only so far: the
    pushed-down result does not yet have the per-kind summaries of categories, booleans, times
    and array positions). ``features``: only these columns."""
    if pushdown and warehouse.sql_dialect() is not None:
        return pushdown_stats(
            warehouse,
            relation,
            label=label,
            skip=skip,
            edges=edges,
            features=features,
            categorical=categorical,
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
    categorical: Iterable[str] = (),
) -> dict[str, Any]:
    """:func:`mlkit.data.stats.relation_stats`'s result, from two queries run in the warehouse
    (a query source is first run into a scratch table there, as every read of it is)."""
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
        cats = [c for c in dict.fromkeys(categorical) if c in schema.names and c != label]
        names = _feature_names(schema, label, set(skip) | set(cats), features)
        if not names and not cats:
            raise DataError(f"{where} has no numeric, list, BYTES or STRING columns to summarise")
        forms = {n: str(storage_form(schema.field(n).type)) for n in names}
        booleans = {n for n in names if pa.types.is_boolean(schema.field(n).type)}
        label_type = schema.field(label).type if label else None
        grouped = ([label] if label else []) + cats
        first = warehouse.aggregate(
            rel, lambda source: _moments_sql(dialect, source, forms, booleans, grouped)
        )
        out, distinct = _assemble(first.to_pylist(), names, forms, label, cats, edges or {})
        need = {
            n: out["features"][n]["histogram"]["edges"]
            for n in names
            if out["features"][n]["count"] and out["features"][n]["histogram"]["edges"]
        }
        listed = [n for n in grouped if 0 < distinct[n] <= MAX_VALUES]
        if need or listed:
            second = warehouse.aggregate(
                rel,
                lambda source: _second_sql(dialect, source, forms, booleans, need, listed),
            )
            _add_second(out, second.to_pylist(), label, label_type)
        return out


def _feature_names(
    schema: pa.Schema, label: str | None, skip: set[str], features: Iterable[str] | None
) -> list[str]:
    wanted = None if features is None else set(features)
    return [
        f.name
        for f in schema
        if f.name != label
        and f.name not in skip
        and (wanted is None or f.name in wanted)
        and storage_form(f.type) is not None
    ]


def _values(
    dialect: SqlDialect, form: str, name: str, boolean: bool, tag: int, source: str
) -> tuple[str, str, str | None]:
    """``(from, value, position)`` for a feature (no position for a scalar column)."""
    if form == "scalar":
        value = dialect.number(f"src.{dialect.quote(name)}", boolean=boolean)
        return f"{source} AS src", value, None
    return dialect.values_from(form, name, str(tag), source)


def _literal(text: str) -> str:
    """A column name or kind as a string literal (names are identifiers: no quotes inside)."""
    if not NAME_PATTERN.match(text) and text != "":
        raise DataError(f"cannot summarise column {text!r} in SQL: expected an identifier")
    return f"'{text}'"


def _moments_sql(
    d: SqlDialect,
    source: str,
    forms: dict[str, str],
    booleans: set[str],
    grouped: list[str],
) -> str:
    f, i, s = d.float_type, d.int_type, d.string_type
    none_f, none_i, none_s = f"CAST(NULL AS {f})", f"CAST(NULL AS {i})", f"CAST(NULL AS {s})"
    none_q = f"CAST(NULL AS {d.float_array_type()})"

    def row(kind: str, name: str, n: str, rest: list[str], q: str, frm: str = "") -> str:
        values = [_literal(kind), _literal(name), none_s, none_f, f"CAST({n} AS {i})", *rest, q]
        select = ", ".join(f"{v} AS {c}" for v, c in zip(values, _COLUMNS, strict=True))
        return f"SELECT {select} FROM {frm or source + ' AS src'}"

    nothing = [none_f, none_f, none_f, none_f, none_i]
    parts = [row("rows", "", "COUNT(*)", nothing, none_q)]
    for tag, (name, form) in enumerate(forms.items()):
        frm, value, position = _values(d, form, name, name in booleans, tag, source)
        column = f"src.{d.quote(name)}"
        moments = [
            f"SUM({value})",
            f"SUM({value} * {value})",
            f"MIN({value})",
            f"MAX({value})",
            none_i if position is None else f"CAST(MAX({position}) + 1 AS {i})",
        ]
        q = d.quantiles(value, QUANTILE_PARTS)
        count = f"COUNT({value})"
        parts.append(row("values", name, count, moments, q, frm))
        missing = f"COUNT(*) - COUNT({column})"
        parts.append(row("missing", name, missing, nothing, none_q))
    for name in grouped:  # how many values: their frequencies come in the second query
        column = f"src.{d.quote(name)}"
        distinct, missing = f"COUNT(DISTINCT {column})", f"COUNT(*) - COUNT({column})"
        counts = [none_f, none_f, none_f, none_f, f"CAST({missing} AS {i})"]
        parts.append(row("distinct", name, distinct, counts, none_q))
    return "\nUNION ALL\n".join(parts)


def _second_sql(
    d: SqlDialect,
    source: str,
    forms: dict[str, str],
    booleans: set[str],
    edges: dict[str, list[float]],
    grouped: list[str],
) -> str:
    """Histograms on ``edges``, and the frequencies of the ``grouped`` columns' values."""
    parts = []
    i, s = d.int_type, d.string_type

    def row(kind: str, name: str, text: str, bin_: str) -> str:
        return (
            f"SELECT {_literal(kind)} AS kind, {_literal(name)} AS name, {text} AS text, "
            f"CAST({bin_} AS {i}) AS bin, CAST(COUNT(*) AS {i}) AS n"
        )

    for tag, (name, bounds) in enumerate(edges.items()):
        frm, value, _ = _values(d, forms[name], name, name in booleans, tag, source)
        low, high = float(bounds[0]), float(bounds[-1])
        scale = BINS / (high - low) if high > low else 0.0
        bin_ = d.bin_of(value, low, scale, BINS)
        parts.append(
            row("histogram", name, f"CAST(NULL AS {s})", bin_)
            + f" FROM {frm} WHERE {value} IS NOT NULL GROUP BY {bin_}"
        )
    for name in grouped:
        column = f"src.{d.quote(name)}"
        parts.append(
            row("values", name, f"CAST({column} AS {s})", "0")
            + f" FROM {source} AS src WHERE {column} IS NOT NULL GROUP BY {column}"
        )
    return "\nUNION ALL\n".join(parts)


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


def _sort_key(value: str) -> tuple[int, float | str]:
    try:
        return (0, float(value))
    except ValueError:
        return (1, value)


def _assemble(
    rows: list[dict[str, Any]],
    names: list[str],
    forms: dict[str, str],
    label: str | None,
    categorical: list[str],
    edges: dict[str, list[float]],
) -> tuple[dict[str, Any], dict[str, int]]:
    """The statistics from the first query's rows (histograms and frequencies still empty), and
    how many distinct values each label or categorical column has."""
    moments = {n: Moments() for n in names}
    quantiles: dict[str, list[float]] = {}
    distinct: dict[str, int] = {}
    missing: dict[str, int] = {}
    total_rows = 0
    for row in rows:
        kind, name, n = row["kind"], row["name"], int(row["n"] or 0)
        if kind == "rows":
            total_rows = n
        elif kind == "values":
            m = moments[name]
            m.count = n
            if n:
                m.total, m.squares = float(row["total"]), float(row["squares"])
                m.low, m.high = float(row["low"]), float(row["high"])
                if row["q"]:
                    quantiles[name] = [float(v) for v in row["q"]]
            if forms[name] != "scalar":
                m.per_row = int(row["width"]) if row["width"] is not None else 0
        elif kind == "missing":
            moments[name].missing = n
        elif kind == "distinct":
            distinct[name], missing[name] = n, int(row["width"] or 0)
    out: dict[str, Any] = {"rows": total_rows, "features": {}}
    for name in names:
        summary = moments[name].result()
        summary["histogram"] = {
            "edges": edges.get(name) or histogram_edges(summary["min"], summary["max"]),
            "counts": [0] * BINS,
        }
        if name in quantiles:
            summary["quantiles"] = [float(f"{v:.6g}") for v in quantiles[name]]
        out["features"][name] = summary
    for name in categorical:
        out["features"][name] = {
            "count": total_rows - missing[name],
            "missing": missing[name],
            "distinct": distinct[name],
            "categories": {} if distinct[name] <= MAX_VALUES else None,
        }
    if label:
        out["label"] = {"name": label, "missing": missing[label]}
        if distinct[label] <= MAX_VALUES:
            out["label"]["distribution"] = {}
    return out, distinct


def _add_second(
    out: dict[str, Any],
    rows: list[dict[str, Any]],
    label: str | None,
    label_type: pa.DataType | None,
) -> None:
    """The second query's histogram counts and value frequencies, into ``out``."""
    for row in rows:
        name, n = row["name"], int(row["n"])
        if row["kind"] == "histogram":
            out["features"][name]["histogram"]["counts"][int(row["bin"])] += n
        elif name == label:
            text = str(_label_text(row["text"], label_type))
            out["label"]["distribution"][text] = out["label"]["distribution"].get(text, 0) + n
        else:
            out["features"][name]["categories"][row["text"]] = n
    if label and "distribution" in out["label"]:
        ordered = sorted(out["label"]["distribution"].items(), key=lambda kv: _sort_key(kv[0]))
        out["label"]["distribution"] = dict(ordered)
    for summary in out["features"].values():
        if summary.get("categories"):
            ordered = sorted(summary["categories"].items(), key=lambda kv: (-kv[1], kv[0]))
            summary["categories"] = dict(ordered)


__all__ = ["QUANTILE_PARTS", "pushdown_stats", "statistics"]
