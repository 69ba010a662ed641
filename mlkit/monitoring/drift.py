"""Drift of served features against a training run's statistics, on the run's own bins.

The served instances (JSON, as clients sent them) become an Arrow table in the storage forms of
the training table (numbers, lists of numbers, comma-separated text, bytes), which
:func:`mlkit.data.stats.relation_stats` summarises on the run's histogram edges exactly as
``mlkit data drift`` summarises a table; :func:`mlkit.data.stats.compare` applies the same tests
(PSI and the mean's shift).
"""

from __future__ import annotations

import base64
from collections.abc import Generator
from typing import Any

import pyarrow as pa

from mlkit.data.stats import FeatureDrift, compare, relation_stats
from mlkit.data.warehouse import BATCH_ROWS, Relation, TableInfo, Warehouse, check_table_name
from mlkit.errors import DataError, TableNotFound

_SERVED = "served"


class ArrowWarehouse(Warehouse):
    """Tables held in memory: what the statistics read when the rows are already here."""

    def __init__(self, tables: dict[str, pa.Table] | None = None) -> None:
        self.tables = dict(tables or {})

    def write_table(self, name: str, table: pa.Table, *, replace: bool = True) -> int:
        name = check_table_name(name)
        if not replace and name in self.tables:
            table = pa.concat_tables([self.tables[name], table])
        self.tables[name] = table
        return table.num_rows

    def read_table(self, name: str, columns: list[str] | None = None) -> pa.Table:
        if name not in self.tables:
            raise TableNotFound(f"table '{name}' not found in {self.describe()}")
        table = self.tables[name]
        return table if columns is None else table.select(columns)

    def has_table(self, name: str) -> bool:
        return name in self.tables

    def list_tables(self) -> list[TableInfo]:
        return [TableInfo(n, t.num_rows, tuple(t.column_names)) for n, t in self.tables.items()]

    def schema(self, name: str) -> pa.Schema:
        return self.read_table(name).schema

    def describe(self) -> str:
        return "served instances in memory"

    def iter_batches(
        self,
        relation: Relation,
        columns: list[str] | None = None,
        batch_rows: int = BATCH_ROWS,
        *,
        where: str | None = None,
    ) -> Generator[pa.RecordBatch, None, None]:
        if where is not None:
            raise DataError(f"{self.describe()} cannot filter rows in SQL")
        if not isinstance(relation, str):
            raise DataError(f"{self.describe()} cannot run queries")
        table = self.read_table(relation, columns)
        if table.num_rows == 0:
            yield from pa.Table.from_batches([], schema=table.schema).to_batches()
            return
        yield from table.to_batches(batch_rows)


def _value(value: object) -> object:
    if isinstance(value, dict) and set(value) == {"b64"} and isinstance(value["b64"], str):
        return base64.b64decode(value["b64"])
    return value


def instances_table(instances: list[dict], features: list[str]) -> pa.Table:
    """The instances' ``features`` as columns (a feature an instance lacks is null there)."""
    columns = {}
    for name in features:
        values = [_value(i.get(name)) for i in instances]
        present = [v for v in values if v is not None]
        sample = present[0] if present else None
        if isinstance(sample, list):
            kind: pa.DataType = pa.list_(pa.float64())
            values = [None if v is None else [float(x) for x in _flatten(v)] for v in values]
        elif isinstance(sample, bytes):
            kind = pa.binary()
        elif isinstance(sample, str):
            kind = pa.string()
        else:
            kind = pa.float64()
            values = [float(v) if isinstance(v, int | float) else None for v in values]
        columns[name] = pa.array(values, type=kind)
    return pa.table(columns) if columns else pa.table({"_": pa.array([], pa.float64())})


def _flatten(value: object) -> list:
    if isinstance(value, list):
        return [x for item in value for x in _flatten(item)]
    return [value]


def served_stats(instances: list[dict], before: dict[str, Any]) -> dict[str, Any]:
    """Statistics of served instances on the histogram edges of ``before`` (a run's stats)."""
    features = list(before.get("features", {}))
    edges = {
        name: s["histogram"]["edges"]
        for name, s in before["features"].items()
        if s.get("histogram", {}).get("edges")
    }
    table = instances_table(instances, features)
    return relation_stats(ArrowWarehouse({_SERVED: table}), _SERVED, edges=edges)


def served_drift(instances: list[dict], before: dict[str, Any]) -> list[FeatureDrift]:
    """Each feature of the run's statistics ``before`` against the served ``instances``
    (the label is not served: it is left out)."""
    if not instances:
        return []
    features_only = {k: v for k, v in before.items() if k != "label"}
    return compare(features_only, served_stats(instances, before))


__all__ = ["ArrowWarehouse", "instances_table", "served_drift", "served_stats"]
