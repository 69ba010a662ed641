"""BigQuery as a warehouse, through Google's own clients.

REST (google-cloud-bigquery) for metadata, queries and loads; the BigQuery Storage Read API
(google-cloud-bigquery-storage) for bulk reads, straight into Arrow record batches.

Project and credentials come from Google's usual defaults (application default credentials,
``GOOGLE_CLOUD_PROJECT``) unless :class:`BigQueryConfig` overrides them. With an ``endpoint`` (an
emulator such as bqemulator) the clients talk to it instead, anonymously unless a credentials file
is given, and the Storage Read API over plain gRPC at ``storage_endpoint``.

Table names are ``table`` (in the configured dataset), ``dataset.table`` or
``project.dataset.table``. A query runs into a scratch table of the configured dataset
(``CREATE OR REPLACE TABLE ... AS``), is read through the Storage Read API, and is dropped after.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import uuid
import warnings
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from mlkit.data.sql_dialect import BigQueryDialect, SqlDialect
from mlkit.data.warehouse import BATCH_ROWS, Relation, TableInfo, Warehouse, check_columns
from mlkit.errors import DataError, TableNotFound

# Google's libraries warn on import about Python 3.11's end of support (years away): not for users.
warnings.filterwarnings("ignore", "You are using a Python version", FutureWarning)

_PART = r"[A-Za-z0-9_][A-Za-z0-9_\-]*"
_TABLE = re.compile(rf"^(?:(?:({_PART}(?::{_PART})?)\.)?({_PART})\.)?([A-Za-z_][A-Za-z0-9_]*)$")
_SCALARS = {
    "INTEGER": pa.int64(),
    "INT64": pa.int64(),
    "FLOAT": pa.float64(),
    "FLOAT64": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "BOOL": pa.bool_(),
    "STRING": pa.string(),
    "BYTES": pa.binary(),
    "TIMESTAMP": pa.timestamp("us", tz="UTC"),
    "DATETIME": pa.timestamp("us"),
    "DATE": pa.date32(),
    "NUMERIC": pa.decimal128(38, 9),
}


@dataclass(frozen=True)
class BigQueryConfig:
    """Where BigQuery is. Every field falls back to the environment, then Google's defaults.

    ``project``: ``MLKIT_BIGQUERY_PROJECT``, ``GOOGLE_CLOUD_PROJECT``, then the ADC project.
    ``dataset``: for bare table names and query results (``MLKIT_BIGQUERY_DATASET``).
    ``credentials``: a service-account JSON file (default: application default credentials).
    ``endpoint`` / ``storage_endpoint``: REST URL and gRPC ``host:port`` of an emulator
    (``MLKIT_BIGQUERY_ENDPOINT`` / ``MLKIT_BIGQUERY_STORAGE_ENDPOINT``).
    """

    project: str | None = None
    dataset: str | None = None
    credentials: str | None = None
    endpoint: str | None = None
    storage_endpoint: str | None = None
    location: str | None = None

    def resolved(self) -> BigQueryConfig:
        env = os.environ.get
        return BigQueryConfig(
            project=self.project or env("MLKIT_BIGQUERY_PROJECT") or env("GOOGLE_CLOUD_PROJECT"),
            dataset=self.dataset or env("MLKIT_BIGQUERY_DATASET"),
            credentials=self.credentials,
            endpoint=self.endpoint or env("MLKIT_BIGQUERY_ENDPOINT"),
            storage_endpoint=self.storage_endpoint or env("MLKIT_BIGQUERY_STORAGE_ENDPOINT"),
            location=self.location or env("MLKIT_BIGQUERY_LOCATION"),
        )


def _one_line(error: BaseException) -> str:
    message = getattr(error, "message", None) or str(error)
    return " ".join(str(message).split())[:300]


def arrow_type(field: Any) -> pa.DataType:
    """The Arrow type a BigQuery schema field reads as."""
    scalar = _SCALARS.get(field.field_type.upper())
    if scalar is None:
        raise DataError(
            f"column '{field.name}' has BigQuery type {field.field_type}; mlkit reads INT64, "
            "FLOAT64, NUMERIC, BOOL, STRING, BYTES, TIMESTAMP, DATETIME, DATE and ARRAYs of them"
        )
    return pa.list_(scalar) if field.mode == "REPEATED" else scalar


def bigquery_field(name: str, dtype: pa.DataType) -> Any:
    """The BigQuery schema field for an Arrow column."""
    from google.cloud import bigquery

    mode = "NULLABLE"
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        dtype, mode = dtype.value_type, "REPEATED"
    if pa.types.is_integer(dtype):
        kind = "INT64"
    elif pa.types.is_floating(dtype):
        kind = "FLOAT64"
    elif pa.types.is_boolean(dtype):
        kind = "BOOL"
    elif pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        kind = "STRING"
    elif pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype):
        kind = "BYTES"
    elif pa.types.is_timestamp(dtype):
        kind = "TIMESTAMP" if dtype.tz else "DATETIME"
    elif pa.types.is_date(dtype):
        kind = "DATE"
    elif pa.types.is_decimal(dtype):
        kind = "NUMERIC"
    else:
        raise DataError(
            f"column '{name}' is {dtype}; BigQuery tables take integers, floats, booleans, "
            "strings, bytes, timestamps, dates, decimals and lists of those"
        )
    return bigquery.SchemaField(name, kind, mode=mode)


# Rows per Storage Read stream asked for, and the most streams asked for (the API's limit is
# 1,000). See BigQueryWarehouse.iter_batches.
STREAM_ROWS = 8192
MAX_STREAMS = 1000


def read_stream_count(rows: int) -> int:
    """How many streams a read session asks for: about one per ``STREAM_ROWS`` rows. A request
    is an upper bound: BigQuery may give fewer (bqemulator: at most 10, one below 1 MB)."""
    return max(1, min(MAX_STREAMS, -(-rows // STREAM_ROWS)))


class BigQueryWarehouse(Warehouse):
    def __init__(self, config: BigQueryConfig | None = None) -> None:
        self.config = (config or BigQueryConfig()).resolved()
        self._client: Any = None
        self._read_client: Any = None

    # -- clients -----------------------------------------------------------------------------

    def _credentials(self) -> Any:
        if self.config.credentials:
            from google.oauth2 import service_account

            try:
                return service_account.Credentials.from_service_account_file(
                    self.config.credentials,
                    scopes=["https://www.googleapis.com/auth/cloud-platform"],
                )
            except (OSError, ValueError) as error:
                raise DataError(
                    f"cannot read BigQuery credentials {self.config.credentials}: "
                    f"{_one_line(error)}",
                    hint="give a service-account JSON key file, or leave credentials out to use "
                    "application default credentials",
                ) from error
        if self.config.endpoint:
            from google.auth.credentials import AnonymousCredentials

            return AnonymousCredentials()
        return None  # application default credentials, found by the client

    @property
    def client(self) -> Any:
        if self._client is None:
            import google.auth.exceptions
            from google.cloud import bigquery

            options = {"api_endpoint": self.config.endpoint} if self.config.endpoint else None
            try:
                self._client = bigquery.Client(
                    project=self.config.project,
                    credentials=self._credentials(),
                    client_options=options,
                    location=self.config.location,
                )
            except google.auth.exceptions.DefaultCredentialsError as error:
                raise DataError(
                    "no Google credentials found for BigQuery",
                    hint="run `gcloud auth application-default login`, or set "
                    "GOOGLE_APPLICATION_CREDENTIALS to a service-account key file",
                ) from error
            except OSError as error:  # e.g. no project could be determined
                raise DataError(
                    f"cannot create a BigQuery client: {_one_line(error)}",
                    hint="set GOOGLE_CLOUD_PROJECT, or project in the experiment's data section",
                ) from error
            if not self._client.project:
                raise DataError(
                    "no Google Cloud project for BigQuery",
                    hint="set GOOGLE_CLOUD_PROJECT, or project in the experiment's data section",
                )
        return self._client

    @property
    def read_client(self) -> Any:
        if self._read_client is None:
            from google.cloud.bigquery_storage import BigQueryReadClient

            if self.config.storage_endpoint:
                import grpc
                from google.cloud.bigquery_storage_v1.services.big_query_read.transports import (
                    BigQueryReadGrpcTransport,
                )

                channel = grpc.insecure_channel(
                    self.config.storage_endpoint,
                    options=[("grpc.max_receive_message_length", -1)],
                )
                transport = BigQueryReadGrpcTransport(channel=channel)
                self._read_client = BigQueryReadClient(transport=transport)
            else:
                self._read_client = BigQueryReadClient(credentials=self.client._credentials)
        return self._read_client

    @property
    def project(self) -> str:
        return self.config.project or self.client.project

    def describe(self) -> str:
        where = f" at {self.config.endpoint}" if self.config.endpoint else ""
        dataset = f".{self.config.dataset}" if self.config.dataset else ""
        return f"BigQuery {self.config.project or 'default project'}{dataset}{where}"

    def __repr__(self) -> str:
        return f"BigQueryWarehouse({self.config!r})"

    # -- names -------------------------------------------------------------------------------

    def table_id(self, name: object) -> str:
        """``project.dataset.table`` for ``table``, ``dataset.table`` or a full name."""
        match = _TABLE.match(name) if isinstance(name, str) else None
        if match is None:
            raise DataError(
                f"invalid BigQuery table name {name!r}: expected table, dataset.table or "
                "project.dataset.table (letters, digits and underscores)"
            )
        project, dataset, table = match.groups()
        dataset = dataset or self.config.dataset
        if dataset is None:
            raise DataError(
                f"BigQuery table '{name}' names no dataset",
                hint="write it as dataset.table, or set a dataset (bq://project.dataset)",
            )
        return f"{project or self.project}.{dataset}.{table}"

    def _get_table(self, name: str) -> Any:
        from google.api_core import exceptions

        table_id = self.table_id(name)
        try:
            return self.client.get_table(table_id)
        except exceptions.NotFound:
            dataset = table_id.rsplit(".", 1)[0]
            hint = None
            with contextlib.suppress(exceptions.GoogleAPIError):
                names = [t.table_id for t in self.client.list_tables(dataset)]
                hint = ("tables here: " + ", ".join(sorted(names))) if names else None
            raise TableNotFound(
                f"table '{table_id}' not found in {self.describe()}", hint=hint
            ) from None
        except exceptions.GoogleAPIError as error:
            raise DataError(f"cannot read table '{table_id}': {_one_line(error)}") from error

    # -- reading -----------------------------------------------------------------------------

    def has_table(self, name: str) -> bool:
        try:
            self._get_table(name)
        except TableNotFound:
            return False
        return True

    def list_tables(self) -> list[TableInfo]:
        from google.api_core import exceptions

        if not self.config.dataset:
            raise DataError("no BigQuery dataset to list", hint="name one: bq://project.dataset")
        dataset = f"{self.project}.{self.config.dataset}"
        try:
            items = sorted(self.client.list_tables(dataset), key=lambda t: t.table_id)
        except exceptions.NotFound:
            return []
        except exceptions.GoogleAPIError as error:
            raise DataError(f"cannot list tables of {dataset}: {_one_line(error)}") from error
        infos = []
        for item in items:
            table = self.client.get_table(item.reference)
            infos.append(
                TableInfo(
                    item.table_id, int(table.num_rows or 0), tuple(f.name for f in table.schema)
                )
            )
        return infos

    def schema(self, name: str) -> pa.Schema:
        table = self._get_table(name)
        return pa.schema([pa.field(f.name, arrow_type(f)) for f in table.schema])

    def read_table(self, name: str, columns: list[str] | None = None) -> pa.Table:
        schema = self.schema(name)
        if columns == []:
            rows = int(self._get_table(name).num_rows or 0)
            return pa.table({"_": pa.nulls(rows)}).select([])
        if columns is not None:
            schema = pa.schema([schema.field(c) for c in self._check_columns(name, columns)])
        batches = list(self.iter_batches(name, columns))
        return pa.Table.from_batches(batches, schema=schema) if batches else schema.empty_table()

    def _check_columns(self, name: str, columns: list[str]) -> list[str]:
        import difflib

        available = self.schema(name).names
        for column in columns:
            if column not in available:
                close = difflib.get_close_matches(column, available, n=1)
                maybe = f"; did you mean '{close[0]}'?" if close else ""
                raise DataError(
                    f"column '{column}' not found in table '{name}' "
                    f"(columns: {', '.join(available)}){maybe}"
                )
        return columns

    def count_rows(self, relation: Relation) -> int:
        if not isinstance(relation, str):
            with self._as_table(relation) as table:
                return self.count_rows(table)
        return int(self._get_table(relation).num_rows or 0)

    def relation_schema(self, relation: Relation) -> pa.Schema:
        if not isinstance(relation, str):
            with self._as_table(relation) as table:
                return self.schema(table)
        return self.schema(relation)

    def iter_batches(
        self,
        relation: Relation,
        columns: list[str] | None = None,
        batch_rows: int = BATCH_ROWS,
        *,
        where: str | None = None,
    ) -> Generator[pa.RecordBatch, None, None]:
        """Record batches from the Storage Read API.

        The server decides how many rows each message carries (bqemulator: up to 65,536, which
        for 784 INT64s a row is 411 MiB), so the session asks for about one stream per
        ``STREAM_ROWS`` rows and reads the streams one after another: a message holds at most a
        stream's rows. Each message is parsed straight from its bytes and dropped before the next
        one is received, so one message's worth of data is held at a time. ``where`` is the
        session's ``row_restriction``: BigQuery filters, only matching rows are streamed."""
        if not isinstance(relation, str):
            with self._as_table(relation) as table:
                yield from self.iter_batches(table, columns, batch_rows, where=where)
            return
        from google.api_core import exceptions
        from google.cloud.bigquery_storage import DataFormat, ReadSession

        table = self._get_table(relation)
        if columns is not None:
            self._check_columns(relation, columns)
        path = f"projects/{table.project}/datasets/{table.dataset_id}/tables/{table.table_id}"
        options = ReadSession.TableReadOptions(
            selected_fields=list(columns or []), row_restriction=where or ""
        )
        request = ReadSession(table=path, data_format=DataFormat.ARROW, read_options=options)
        streams = read_stream_count(int(table.num_rows or 0))
        try:
            session = self.read_client.create_read_session(
                parent=f"projects/{self.project}", read_session=request, max_stream_count=streams
            )
            schema = None
            for stream in session.streams:
                for message in self.read_client.read_rows(stream.name):
                    data = message.arrow_record_batch.serialized_record_batch
                    del message  # the protobuf copy of the rows: freed before they are decoded
                    if not data:
                        continue
                    if schema is None:
                        schema = pa.ipc.read_schema(
                            pa.py_buffer(session.arrow_schema.serialized_schema)
                        )
                    batch = pa.ipc.read_record_batch(pa.py_buffer(data), schema)
                    del data
                    yield batch
                    del batch  # not held while the next message arrives
        except exceptions.GoogleAPIError as error:
            raise DataError(
                f"cannot read table '{relation}' through the BigQuery Storage Read API: "
                f"{_one_line(error)}"
            ) from error

    @contextlib.contextmanager
    def materialize(self, relation: Relation) -> Iterator[Relation]:
        with self._as_table(relation) as table:
            yield table

    @contextlib.contextmanager
    def _as_table(self, relation: Relation) -> Iterator[str]:
        """The table a relation names, or a scratch table holding a query's rows (dropped on
        exit)."""
        if isinstance(relation, str):
            yield relation
            return
        relation.check_params()
        from google.api_core import exceptions
        from google.cloud import bigquery

        if not self.config.dataset:
            raise DataError(
                "a BigQuery query needs a dataset for its results",
                hint="set dataset in the experiment's data section, or MLKIT_BIGQUERY_DATASET",
            )
        # A name of its own per read, so that two loads of the same query never share a table.
        scratch = f"{self.project}.{self.config.dataset}._mlkit_query_{uuid.uuid4().hex[:16]}"
        config = bigquery.QueryJobConfig(query_parameters=query_parameters(relation.params))
        sql = relation.sql.strip().rstrip(";")
        try:
            self.client.query_and_wait(
                f"CREATE OR REPLACE TABLE `{scratch}` AS {sql}", job_config=config
            )
        except exceptions.GoogleAPIError as error:
            raise DataError(f"BigQuery query failed: {_one_line(error)}") from error
        try:
            yield scratch
        finally:
            with contextlib.suppress(exceptions.GoogleAPIError):
                self.client.delete_table(scratch, not_found_ok=True)

    # -- aggregates inside BigQuery --------------------------------------------------------------

    def sql_dialect(self) -> SqlDialect:
        return BigQueryDialect()

    def aggregate(self, relation: Relation, build: Callable[[str], str]) -> pa.Table:
        """A query's aggregate runs on the scratch table its rows went into (in BigQuery); its
        result comes back through REST (a few rows)."""
        from google.api_core import exceptions

        with self._as_table(relation) as table:
            sql = build(f"`{self.table_id(table)}`")
            try:
                rows = self.client.query_and_wait(sql)
                return rows.to_arrow(create_bqstorage_client=False)
            except exceptions.GoogleAPIError as error:
                raise DataError(f"BigQuery query failed: {_one_line(error)}") from error

    # -- writing -----------------------------------------------------------------------------

    def delete_before(self, name: str, column: str, before: float) -> int:
        """One DML ``DELETE`` (a query job). BigQuery refuses one that would touch rows still in
        a table's streaming buffer (the last ~30 minutes of streamed rows): a cut-off of days is
        far from them."""
        from google.api_core import exceptions
        from google.cloud import bigquery

        self._get_table(name)  # TableNotFound, named as the other reads name it
        table_id = self.table_id(name)
        config = bigquery.QueryJobConfig(
            query_parameters=[bigquery.ScalarQueryParameter("before", "FLOAT64", float(before))]
        )
        try:
            job = self.client.query(
                f"DELETE FROM `{table_id}` WHERE `{column}` < @before", job_config=config
            )
            job.result()
        except exceptions.GoogleAPIError as error:
            raise DataError(
                f"cannot delete from table '{table_id}': {_one_line(error)}",
                hint="the table was left as it was",
            ) from error
        return int(job.num_dml_affected_rows or 0)

    def write_table(self, name: str, table: pa.Table, *, replace: bool = True) -> int:
        from google.api_core import exceptions
        from google.cloud import bigquery

        table_id = self.table_id(name)
        check_columns(table, name)
        fields = [bigquery_field(f.name, f.type) for f in table.schema]
        try:
            dataset = table_id.rsplit(".", 1)[0]
            self.client.create_dataset(dataset, exists_ok=True)
            try:
                existing = self.client.get_table(table_id)
            except exceptions.NotFound:
                existing = None
            if existing is not None and replace and _shape(existing.schema) != _shape(fields):
                # A new schema: BigQuery's WRITE_TRUNCATE would take it, emulators may not; the
                # table is recreated (not atomic, unlike a replace with the same columns).
                self.client.delete_table(table_id, not_found_ok=True)
                existing = None
            if existing is None:
                self.client.create_table(bigquery.Table(table_id, schema=fields))
            elif not replace:
                stored = sorted(f.name.lower() for f in existing.schema)
                if stored != sorted(c.lower() for c in table.column_names):
                    raise DataError(
                        f"cannot append to table '{name}': it has columns "
                        f"{', '.join(f.name for f in existing.schema)}, the new rows have "
                        f"{', '.join(table.column_names)}"
                    )
            if table.num_rows == 0 and existing is None:
                return 0
            config = bigquery.LoadJobConfig(
                source_format=bigquery.SourceFormat.PARQUET,
                schema=fields,
                write_disposition="WRITE_TRUNCATE" if replace else "WRITE_APPEND",
            )
            config.parquet_options = bigquery.ParquetOptions()
            config.parquet_options.enable_list_inference = True
            import pyarrow.parquet as pq

            buffer = io.BytesIO()
            pq.write_table(table, buffer)
            buffer.seek(0)
            # No size: the client then uploads resumably, whatever the size (emulators reject the
            # small multipart form's media type).
            job = self.client.load_table_from_file(buffer, table_id, job_config=config)
            job.result()
        except exceptions.GoogleAPIError as error:
            raise DataError(
                f"cannot write table '{table_id}' to {self.describe()}: {_one_line(error)}"
            ) from error
        return table.num_rows


_STANDARD = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}


def _shape(fields: Any) -> list[tuple[str, str, str]]:
    return [
        (f.name.lower(), _STANDARD.get(f.field_type.upper(), f.field_type.upper()), f.mode)
        for f in fields
    ]


def query_parameters(params: dict[str, Any]) -> list[Any]:
    from google.cloud import bigquery

    def kind(value: Any) -> str:
        if isinstance(value, bool):
            return "BOOL"
        if isinstance(value, int):
            return "INT64"
        if isinstance(value, float):
            return "FLOAT64"
        return "STRING"

    out: list[bigquery.ArrayQueryParameter | bigquery.ScalarQueryParameter] = []
    for name, value in params.items():
        if isinstance(value, list):
            out.append(bigquery.ArrayQueryParameter(name, kind(value[0]), value))
        else:
            out.append(bigquery.ScalarQueryParameter(name, kind(value), value))
    return out
