"""Sources: what an experiment's ``[data] source`` or a command's SOURCE argument names.

- ``bq://project.dataset.table`` (or ``bq://dataset.table`` in the default project): a BigQuery
  table;
- ``SELECT ...`` / ``WITH ...``: a SQL query with named ``@parameters``, run by the local warehouse
  unless the backend is BigQuery;
- anything else: a table of the local warehouse.

Where BigQuery is (project, credentials, emulator endpoint) comes from a :class:`BigQueryConfig`,
itself defaulting to the environment and Google's defaults.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mlkit.data.bigquery import BigQueryConfig, BigQueryWarehouse
from mlkit.data.local import LocalWarehouse
from mlkit.data.warehouse import Query, Relation, Warehouse
from mlkit.errors import DataError

BQ_SCHEME = "bq://"
_SQL = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)
_BQ = re.compile(r"^bq://(?:([A-Za-z0-9_:\-]+)\.)?([A-Za-z0-9_]+)(?:\.([A-Za-z_][A-Za-z0-9_]*))?$")


@dataclass(frozen=True)
class ResolvedSource:
    warehouse: Warehouse
    relation: Relation
    text: str


def is_query(text: str) -> bool:
    return bool(_SQL.match(text))


def parse_bq(text: str, *, table_required: bool = True) -> tuple[str | None, str, str | None]:
    """``bq://project.dataset.table`` → (project, dataset, table)."""
    match = _BQ.match(text.strip())
    if match is None:
        raise DataError(
            f"invalid BigQuery source {text!r}: expected bq://project.dataset.table",
        )
    first, second, third = match.groups()
    if third is None:  # bq://a.b: dataset.table, or project.dataset when no table is wanted
        if table_required:
            if first is None:
                raise DataError(
                    f"invalid BigQuery source {text!r}: expected bq://project.dataset.table"
                )
            return None, first, second
        return first, second, None
    return first, second, third


def resolve_source(
    text: str,
    *,
    local_path: Path | str,
    params: dict[str, Any] | None = None,
    backend: str | None = None,
    bigquery: BigQueryConfig | None = None,
) -> ResolvedSource:
    text = text.strip()
    config = bigquery or BigQueryConfig()
    if text.startswith(BQ_SCHEME):
        if params:
            raise DataError("params apply to a SQL source, not to a table", hint="remove params")
        project, dataset, table = parse_bq(text)
        config = replace(config, project=project or config.project, dataset=dataset)
        warehouse = BigQueryWarehouse(config)
        return ResolvedSource(warehouse, f"{warehouse.project}.{dataset}.{table}", text)
    if is_query(text):
        query = Query(text, dict(params or {}))
        query.check_params()
        reader: Warehouse = (
            BigQueryWarehouse(config) if backend == "bigquery" else LocalWarehouse(local_path)
        )
        return ResolvedSource(reader, query, text)
    if params:
        raise DataError("params apply to a SQL source, not to a table", hint="remove params")
    if backend == "bigquery":
        return ResolvedSource(BigQueryWarehouse(config), text, text)
    return ResolvedSource(LocalWarehouse(local_path), text, text)


def open_target(
    text: str | None, *, local_path: Path | str, bigquery: BigQueryConfig | None = None
) -> Warehouse:
    """A warehouse to write to or list: ``bq://project.dataset`` or the local one (None)."""
    if text is None or not text.startswith(BQ_SCHEME):
        return LocalWarehouse(local_path)
    project, dataset, _ = parse_bq(text, table_required=False)
    config = bigquery or BigQueryConfig()
    return BigQueryWarehouse(replace(config, project=project or config.project, dataset=dataset))


def table_target(text: str | None, *, local_path: Path | str) -> tuple[Warehouse, str | None]:
    """Where ``mlkit data load -t TABLE`` writes: ``bq://project.dataset.table`` (a BigQuery
    table), a local table name, or None (the dataset's own name, locally)."""
    if text is None or not text.startswith(BQ_SCHEME):
        return LocalWarehouse(local_path), text
    project, dataset, table = parse_bq(text)
    config = BigQueryConfig()
    config = replace(config, project=project or config.project, dataset=dataset)
    return BigQueryWarehouse(config), table
