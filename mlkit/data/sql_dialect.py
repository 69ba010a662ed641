"""The SQL each warehouse speaks, as far as statistics pushed down into it need it.

A warehouse that can run aggregate queries returns a :class:`SqlDialect` from
:meth:`~mlkit.data.warehouse.Warehouse.sql_dialect`; the statistics module
(:mod:`mlkit.data.stats_sql`) writes one query text for every warehouse with it, and never asks
which warehouse it talks to. Each method returns a fragment of SQL:

- ``values_from(form, column, tag, source)``: a ``FROM`` clause that turns each row's stored
  vector (an array, BYTES or a comma-separated STRING) into one row per value, with the value (a
  float) and its 0-based position (``WITH OFFSET`` on BigQuery), so that every value of every row
  is aggregated in the warehouse. ``tag``
  makes the join's names unique within a statement (bqemulator's translation of
  ``WITH OFFSET`` rewrites every use of an offset's name in the statement, not only its own);
- ``fingerprint(column)``: ``FARM_FINGERPRINT(CAST(column AS STRING))`` as a signed 64-bit
  integer, the hash :mod:`mlkit.data.split` assigns splits and shards with; so
  :func:`mlkit.data.split.rows_predicate` can push a split's (and a cluster task's shard's) filter
  into the read, and only those rows leave the warehouse;
- types, quoting and the few functions whose names differ.
"""

from __future__ import annotations

import abc

FINGERPRINT_FUNCTION = "mlkit_farm_fingerprint"  # the local warehouse's FARM_FINGERPRINT


class SqlDialect(abc.ABC):
    name: str
    float_type: str
    int_type: str
    string_type: str

    @abc.abstractmethod
    def quote(self, identifier: str) -> str: ...

    @abc.abstractmethod
    def values_from(self, form: str, column: str, tag: str, source: str) -> tuple[str, str, str]:
        """``(from, value, position)``: a ``FROM`` clause over ``source`` giving one row per
        value of ``column`` (stored as ``form``: 'array', 'bytes' or 'string'), the value's
        expression as a float and its 0-based position's."""

    @abc.abstractmethod
    def float_array_type(self) -> str: ...

    @abc.abstractmethod
    def fingerprint(self, column: str) -> str:
        """``FARM_FINGERPRINT(CAST(column AS STRING))`` (INT64) of an integer or string column."""

    @abc.abstractmethod
    def quantiles(self, value: str, points: tuple[float, ...]) -> tuple[str, list[int]]:
        """An aggregate giving an array from which the quantiles ``points`` (fractions) of
        ``value`` are read at the returned indices."""

    @abc.abstractmethod
    def days(self, column: str, kind: str, naive: bool) -> str:
        """A TIMESTAMP/DATETIME (``naive``: without a zone) or DATE column as days since
        1970-01-01 (a float; timestamps to the whole second), as
        :func:`mlkit.data.stats.time_days` counts them."""

    @abc.abstractmethod
    def full_match(self, column: str, pattern: str) -> str:
        """True when the STRING ``column`` matches the RE2 ``pattern`` (no quotes or backslashes
        in it) in full."""

    @abc.abstractmethod
    def is_nan(self, value: str) -> str: ...

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

    def values_from(self, form: str, column: str, tag: str, source: str) -> tuple[str, str, str]:
        col = f"src.{self.quote(column)}"
        v, pos = f"v_{tag}", f"pos_{tag}"
        if form == "array":
            join = f"CROSS JOIN UNNEST({col}) AS {v} WITH OFFSET AS {pos}"
            value = f"CAST({v} AS FLOAT64)"
        elif form == "string":
            join = f"CROSS JOIN UNNEST(SPLIT({col}, ',')) AS {v} WITH OFFSET AS {pos}"
            value = f"CAST(TRIM({v}) AS FLOAT64)"
        elif form == "bytes":  # byte i of the hex form, as an integer 0..255
            join = f"CROSS JOIN UNNEST(GENERATE_ARRAY(0, BYTE_LENGTH({col}) - 1)) AS {pos}"
            byte = f"CAST(CONCAT('0x', SUBSTR(TO_HEX({col}), 2 * {pos} + 1, 2)) AS INT64)"
            value = f"CAST({byte} AS FLOAT64)"
        else:
            raise ValueError(f"no values for storage form {form!r}")
        return f"{source} AS src {join}", value, pos

    def float_array_type(self) -> str:
        return "ARRAY<FLOAT64>"

    def fingerprint(self, column: str) -> str:
        return f"FARM_FINGERPRINT(CAST({column} AS STRING))"

    def quantiles(self, value: str, points: tuple[float, ...]) -> tuple[str, list[int]]:
        # APPROX_QUANTILES(x, 100): the percentiles, each a value of the data whose rank is
        # approximate (exact on small inputs)
        return f"APPROX_QUANTILES({value}, 100)", [round(p * 100) for p in points]

    def days(self, column: str, kind: str, naive: bool) -> str:
        if kind == "date":
            return f"CAST(UNIX_DATE({column}) AS FLOAT64)"
        stamp = f"TIMESTAMP({column})" if naive else column
        return f"UNIX_SECONDS({stamp}) / 86400.0"

    def full_match(self, column: str, pattern: str) -> str:
        return f"REGEXP_CONTAINS({column}, '^{pattern}$')"

    def is_nan(self, value: str) -> str:
        return f"IS_NAN({value})"


class DuckDBDialect(SqlDialect):
    """DuckDB's SQL (the local warehouse)."""

    name = "duckdb"
    float_type = "DOUBLE"
    int_type = "BIGINT"
    string_type = "VARCHAR"

    def quote(self, identifier: str) -> str:
        return '"' + identifier.replace('"', '""') + '"'

    def values_from(self, form: str, column: str, tag: str, source: str) -> tuple[str, str, str]:
        # UNNEST in a select list with generate_subscripts: DuckDB runs it as a plain projection
        # (a lateral join WITH ORDINALITY was measured 40x slower).
        col = f"src.{self.quote(column)}"
        v, pos = f"v_{tag}", f"pos_{tag}"
        if form in ("array", "string"):
            values = col if form == "array" else f"string_split({col}, ',')"
            inner = f"UNNEST({values}) AS {v}, generate_subscripts({values}, 1) - 1 AS {pos}"
            value = f"CAST({v} AS DOUBLE)" if form == "array" else f"CAST(TRIM({v}) AS DOUBLE)"
        elif form == "bytes":
            inner = f"hex({col}) AS {v}, UNNEST(range(octet_length({col}))) AS {pos}"
            value = f"CAST(CAST('0x' || substr({v}, 2 * {pos} + 1, 2) AS BIGINT) AS DOUBLE)"
        else:
            raise ValueError(f"no values for storage form {form!r}")
        return f"(SELECT {inner} FROM {source} AS src) AS u_{tag}", value, pos

    def float_array_type(self) -> str:
        return "DOUBLE[]"

    def fingerprint(self, column: str) -> str:
        # DuckDB has no FarmHash: the local warehouse registers this function (FarmHash's
        # Fingerprint64, as the split computes it) on the connections that filter by it.
        return f"{FINGERPRINT_FUNCTION}(CAST({column} AS VARCHAR))"

    def quantiles(self, value: str, points: tuple[float, ...]) -> tuple[str, list[int]]:
        # exact, interpolated as numpy's default (linear) does
        listed = ", ".join(repr(p) for p in points)
        return f"quantile_cont({value}, [{listed}])", list(range(len(points)))

    def days(self, column: str, kind: str, naive: bool) -> str:
        if kind == "date":
            return f"CAST(date_diff('day', DATE '1970-01-01', {column}) AS DOUBLE)"
        return f"floor(epoch_us({column}) / 1000000) / 86400.0"

    def full_match(self, column: str, pattern: str) -> str:
        return f"regexp_full_match({column}, '{pattern}')"

    def is_nan(self, value: str) -> str:
        return f"isnan({value})"

    def bin_of(self, value: str, low: float, scale: float, bins: int) -> str:
        """In float32 (FLOAT), as :func:`mlkit.data.stats.histogram_bins` computes it: the same
        bin for every value (BigQuery has no float32: there a value within float32 rounding of
        an edge may fall in the neighbouring bin)."""
        at = f"(CAST({value} AS FLOAT) - CAST({low!r} AS FLOAT)) * CAST({scale!r} AS FLOAT)"
        return f"LEAST(GREATEST(CAST(FLOOR({at}) AS {self.int_type}), 0), {bins - 1})"
