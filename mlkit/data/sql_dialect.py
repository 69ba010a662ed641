"""The SQL each warehouse speaks, as far as statistics pushed down into it need it.

A warehouse that can run aggregate queries returns a :class:`SqlDialect` from
:meth:`~mlkit.data.warehouse.Warehouse.sql_dialect`; the statistics module
(:mod:`mlkit.data.stats_sql`) writes one query text for every warehouse with it, and never asks
which warehouse it talks to. Each method returns a fragment of SQL:

- ``values_join(form, column, tag)``: the ``CROSS JOIN`` that turns a row's stored vector (an
  array, BYTES or a comma-separated STRING) into one row per value, with the value (a float) and
  its 0-based position, so that every value of every row is aggregated in the warehouse. ``tag``
  makes the join's names unique within a statement (bqemulator's translation of
  ``WITH OFFSET`` rewrites every use of an offset's name in the statement, not only its own);
- types, quoting and the few functions whose names differ.
"""

from __future__ import annotations

import abc


class SqlDialect(abc.ABC):
    name: str
    float_type: str
    int_type: str
    string_type: str

    @abc.abstractmethod
    def quote(self, identifier: str) -> str: ...

    @abc.abstractmethod
    def values_join(self, form: str, column: str, tag: str) -> tuple[str, str, str]:
        """``(join, value, position)``: a ``CROSS JOIN`` on the row alias ``src`` giving one row
        per value of ``column`` (stored as ``form``: 'array', 'bytes' or 'string'), the value's
        expression as a float and its 0-based position's."""

    @abc.abstractmethod
    def float_array_type(self) -> str: ...

    @abc.abstractmethod
    def quantiles(self, value: str, parts: int) -> str:
        """An aggregate: ``parts + 1`` approximate quantiles of ``value``, minimum to maximum."""

    def number(self, column: str, *, boolean: bool = False) -> str:
        """A numeric column as a float (a boolean as 0/1)."""
        if boolean:
            column = f"CAST({column} AS {self.int_type})"
        return f"CAST({column} AS {self.float_type})"

    def bin_of(self, value: str, low: float, scale: float, bins: int) -> str:
        """The equal-width bin of ``value`` (``low`` the first edge, ``scale`` bins per unit),
        values outside the edges in the end bins: :func:`mlkit.data.stats.histogram`'s rule."""
        return (
            f"LEAST(GREATEST(CAST(FLOOR(({value} - {low!r}) * {scale!r}) AS {self.int_type}), 0),"
            f" {bins - 1})"
        )


class BigQueryDialect(SqlDialect):
    """GoogleSQL (BigQuery, and the bqemulator that translates it)."""

    name = "bigquery"
    float_type = "FLOAT64"
    int_type = "INT64"
    string_type = "STRING"

    def quote(self, identifier: str) -> str:
        return f"`{identifier}`"

    def values_join(self, form: str, column: str, tag: str) -> tuple[str, str, str]:
        col = f"src.{self.quote(column)}"
        v, pos = f"v_{tag}", f"pos_{tag}"
        if form == "array":
            join = f"CROSS JOIN UNNEST({col}) AS {v} WITH OFFSET AS {pos}"
            return join, f"CAST({v} AS FLOAT64)", pos
        if form == "string":
            join = f"CROSS JOIN UNNEST(SPLIT({col}, ',')) AS {v} WITH OFFSET AS {pos}"
            return join, f"CAST(TRIM({v}) AS FLOAT64)", pos
        if form == "bytes":  # byte i of the hex form, as an integer 0..255
            join = f"CROSS JOIN UNNEST(GENERATE_ARRAY(0, BYTE_LENGTH({col}) - 1)) AS {pos}"
            value = f"CAST(CONCAT('0x', SUBSTR(TO_HEX({col}), 2 * {pos} + 1, 2)) AS INT64)"
            return join, f"CAST({value} AS FLOAT64)", pos
        raise ValueError(f"no values join for storage form {form!r}")

    def float_array_type(self) -> str:
        return "ARRAY<FLOAT64>"

    def quantiles(self, value: str, parts: int) -> str:
        return f"APPROX_QUANTILES({value}, {parts})"


class DuckDBDialect(SqlDialect):
    """DuckDB's SQL (the local warehouse)."""

    name = "duckdb"
    float_type = "DOUBLE"
    int_type = "BIGINT"
    string_type = "VARCHAR"

    def quote(self, identifier: str) -> str:
        return '"' + identifier.replace('"', '""') + '"'

    def values_join(self, form: str, column: str, tag: str) -> tuple[str, str, str]:
        col = f"src.{self.quote(column)}"
        v, pos = f"v_{tag}", f"pos_{tag}"
        if form in ("array", "string"):  # WITH ORDINALITY counts from 1
            values = col if form == "array" else f"string_split({col}, ',')"
            join = f"CROSS JOIN UNNEST({values}) WITH ORDINALITY AS u_{tag}({v}, {pos})"
            value = v if form == "array" else f"TRIM({v})"
            return join, f"CAST({value} AS DOUBLE)", f"({pos} - 1)"
        if form == "bytes":
            join = f"CROSS JOIN UNNEST(range(octet_length({col}))) AS u_{tag}({pos})"
            value = f"CAST('0x' || substr(hex({col}), 2 * {pos} + 1, 2) AS BIGINT)"
            return join, f"CAST({value} AS DOUBLE)", pos
        raise ValueError(f"no values join for storage form {form!r}")

    def float_array_type(self) -> str:
        return "DOUBLE[]"

    def quantiles(self, value: str, parts: int) -> str:
        points = ", ".join(repr(i / parts) for i in range(parts + 1))
        return f"approx_quantile({value}, [{points}])"
