"""Reading the prediction log back: the rows of one model since a time, from any warehouse.

The local endpoint's log (``mlkit.monitoring.log``) and Vertex AI's request-response log in
BigQuery (:func:`from_vertex_log`) are read into the same :class:`Served` rows, so every report
(requests, latency, drift, live metrics) is computed one way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from mlkit.data.warehouse import Query, Warehouse, check_table_name
from mlkit.monitoring.log import LOG_SCHEMA


@dataclass(frozen=True)
class Served:
    """The log of one model: one row per answered instance (``LOG_SCHEMA``)."""

    model: str
    rows: pa.Table

    @property
    def versions(self) -> list[int]:
        return sorted({int(v) for v in self.rows.column("version").to_pylist()})

    def of_version(self, version: int) -> pa.Table:
        return self.rows.filter(pc.equal(self.rows.column("version"), version))

    def instances(self, version: int | None = None, ok_only: bool = True) -> list[dict]:
        rows = self.rows if version is None else self.of_version(version)
        if ok_only:
            rows = rows.filter(pc.equal(rows.column("status"), 200))
        out = []
        for text in rows.column("instance").to_pylist():
            value = json.loads(text) if text else None
            if isinstance(value, dict):
                out.append(value)
        return out


def read_served(
    warehouse: Warehouse,
    table: str,
    model: str,
    since: float | None = None,
    *,
    vertex: bool = False,
) -> Served:
    """The rows of ``model`` in the log ``table`` (answered at or after ``since``, epoch s);
    none when the table does not exist yet. ``vertex``: the table is Vertex AI's
    request-response log (BigQuery; its TIMESTAMP and NUMERIC columns are cast in the query)."""
    if not warehouse.has_table(table):
        return Served(model, LOG_SCHEMA.empty_table())
    if vertex:
        rows = from_vertex_log(_vertex_rows(warehouse, table), model)
    elif not _is_bigquery(warehouse):
        # The local file: read whole (record batches of a DuckDB query keep its database open in
        # this process, which the next connection would collide with).
        rows = warehouse.read_table(table)
    else:  # the model's rows (since) only, filtered in BigQuery
        where = "model = @model" + (" AND at >= @since" if since is not None else "")
        params: dict[str, object] = {"model": model}
        if since is not None:
            params["since"] = float(since)
        query = Query(f"SELECT * FROM {_reference(warehouse, table)} WHERE {where}", params)
        with warehouse.materialize(query) as relation:
            batches = list(warehouse.iter_batches(relation))
        rows = pa.Table.from_batches(batches) if batches else LOG_SCHEMA.empty_table()
    rows = rows.filter(pc.equal(rows.column("model"), model))
    if since is not None:
        rows = rows.filter(pc.greater_equal(rows.column("at"), since))
    return Served(model, rows.select(LOG_SCHEMA.names).cast(LOG_SCHEMA))


def _is_bigquery(warehouse: Warehouse) -> bool:
    from mlkit.data.bigquery import BigQueryWarehouse

    return isinstance(warehouse, BigQueryWarehouse)


def _reference(warehouse: Warehouse, table: str) -> str:
    """How SQL on ``warehouse`` names ``table`` (BigQuery: the full id, quoted)."""
    from mlkit.data.bigquery import BigQueryWarehouse

    check_table_name(table)
    if isinstance(warehouse, BigQueryWarehouse):
        return f"`{warehouse.table_id(table)}`"
    return f'"{table}"'


def _vertex_rows(warehouse: Warehouse, table: str) -> pa.Table:
    query = Query(
        "SELECT deployed_model_id, UNIX_MICROS(logging_time) / 1000000.0 AS logging_time, "
        "CAST(CAST(request_id AS INT64) AS STRING) AS request_id, request_payload, "
        f"response_payload FROM {_reference(warehouse, table)}"
    )
    with warehouse.materialize(query) as relation:
        batches = list(warehouse.iter_batches(relation))
    return pa.Table.from_batches(batches) if batches else pa.table({})


def from_vertex_log(rows: pa.Table, model: str) -> pa.Table:
    """Vertex AI's request-response log (columns ``endpoint``, ``deployed_model_id``,
    ``logging_time``, ``request_id``, ``request_payload``, ``response_payload``) as log rows: one
    per instance; ``deployed_model_id`` maps to the version through the response's
    ``modelVersionId`` (or ``vN``)."""
    columns: dict[str, list] = {name: [] for name in LOG_SCHEMA.names}
    for record in rows.to_pylist():
        request = _first_json(record.get("request_payload"))
        response = _first_json(record.get("response_payload"))
        instances = request.get("instances") if isinstance(request, dict) else None
        predictions = response.get("predictions") if isinstance(response, dict) else None
        version = _vertex_version(record, response)
        at = record.get("logging_time")
        when = at.timestamp() if hasattr(at, "timestamp") else float(at or 0.0)
        instances = instances if isinstance(instances, list) else []
        predictions = predictions if isinstance(predictions, list) else []
        for i in range(max(1, len(instances))):
            columns["request_id"].append(str(record.get("request_id") or ""))
            columns["at"].append(when)
            columns["model"].append(model)
            columns["version"].append(version)
            columns["route"].append("vertex")
            columns["status"].append(200 if predictions else 500)
            columns["latency_s"].append(None)
            columns["instance_index"].append(i)
            columns["instance"].append(json.dumps(instances[i]) if i < len(instances) else None)
            columns["prediction"].append(
                json.dumps(predictions[i]) if i < len(predictions) else None
            )
    return pa.Table.from_pydict(columns, schema=LOG_SCHEMA)


def _first_json(value: object) -> object:
    if isinstance(value, list):  # BigQuery's REPEATED JSON/STRING column
        value = value[0] if value else None
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value


def _vertex_version(record: dict, response: object) -> int:
    if isinstance(response, dict) and str(response.get("modelVersionId", "")).isdigit():
        return int(response["modelVersionId"])
    deployed = str(record.get("deployed_model_id") or "")
    return int(deployed[1:]) if deployed[:1] == "v" and deployed[1:].isdigit() else 0


__all__ = ["Served", "from_vertex_log", "read_served"]
