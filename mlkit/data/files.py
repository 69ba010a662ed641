"""A CSV or Parquet file as a warehouse of one table: read in record batches, written in parts.

Batch prediction reads its rows and writes its predictions through the :class:`Warehouse`
interface, so a file is one more place rows come from and go to:

- reading streams the file (``pyarrow.parquet.ParquetFile.iter_batches``, or pyarrow's
  streaming CSV reader), whatever the table name asked for;
- writing (``write_table``; ``replace=True`` first removes the file and its parts) adds one
  Parquet *part* beside the file,
  ``<file>.parts/part-NNNNNN.parquet``, atomically (written under a temporary name, then renamed),
  so an interrupted job leaves whole parts only; reads see the file and its parts;
- :meth:`FileTable.finish` writes the file from its parts (CSV or Parquet by its suffix; a
  list column, such as class probabilities, as a JSON array in CSV) and removes them.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Generator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from mlkit.data.warehouse import BATCH_ROWS, Relation, TableInfo, Warehouse, check_columns
from mlkit.errors import DataError, TableNotFound

SUFFIXES = (".csv", ".parquet", ".pq")


def is_file(text: str) -> bool:
    """Whether a SOURCE or --output names a CSV or Parquet file (by its suffix)."""
    return Path(text.strip()).suffix.lower() in SUFFIXES


class FileTable(Warehouse):
    """One CSV or Parquet file (and, while a job appends to it, its parts)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).expanduser().resolve()
        self.csv = self.path.suffix.lower() == ".csv"
        self.parts_dir = self.path.with_name(self.path.name + ".parts")

    def describe(self) -> str:
        return f"file {self.path}"

    def _parts(self) -> list[Path]:
        if not self.parts_dir.is_dir():
            return []
        return sorted(p for p in self.parts_dir.glob("part-*.parquet"))

    def _files(self) -> list[Path]:
        return ([self.path] if self.path.is_file() else []) + self._parts()

    def has_table(self, name: str) -> bool:
        return bool(self._files())

    def list_tables(self) -> list[TableInfo]:
        if not self._files():
            return []
        schema = self.schema(self.path.name)
        return [TableInfo(self.path.name, self.count_rows(self.path.name), tuple(schema.names))]

    def _missing(self) -> TableNotFound:
        return TableNotFound(f"file {self.path} not found")

    def _reader_batches(
        self, path: Path, columns: list[str] | None, batch_rows: int
    ) -> Generator[pa.RecordBatch, None, None]:
        try:
            if path.suffix.lower() == ".csv" and path == self.path:
                reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 22))
                for batch in reader:
                    yield batch.select(columns) if columns is not None else batch
                return
            parquet = pq.ParquetFile(path)
            yield from parquet.iter_batches(batch_size=batch_rows, columns=columns)
        except (pa.ArrowInvalid, OSError) as error:
            raise DataError(f"cannot read {path}: {' '.join(str(error).split())}") from error

    def schema(self, name: str) -> pa.Schema:
        files = self._files()
        if not files:
            raise self._missing()
        first = files[0]
        if first.suffix.lower() == ".csv" and first == self.path:
            try:
                return pacsv.open_csv(first).schema
            except (pa.ArrowInvalid, OSError) as error:
                raise DataError(f"cannot read {first}: {' '.join(str(error).split())}") from error
        return pq.read_schema(first)

    def relation_schema(self, relation: Relation) -> pa.Schema:
        return self.schema(str(relation))

    def count_rows(self, relation: Relation) -> int:
        total = 0
        for path in self._files():
            if path.suffix.lower() == ".csv" and path == self.path:
                total += sum(b.num_rows for b in self._reader_batches(path, [], BATCH_ROWS))
            else:
                total += pq.ParquetFile(path).metadata.num_rows
        return total

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
        files = self._files()
        if not files:
            raise self._missing()
        if columns is not None:
            names = self.schema(str(relation)).names
            for column in columns:
                if column not in names:
                    raise DataError(
                        f"column '{column}' not found in {self.path} (columns: {', '.join(names)})"
                    )
        for path in files:
            yield from self._reader_batches(path, columns, batch_rows)

    def read_table(self, name: str, columns: list[str] | None = None) -> pa.Table:
        batches = list(self.iter_batches(name, columns))
        schema = self.schema(name)
        if columns is not None:
            schema = pa.schema([schema.field(c) for c in columns])
        return pa.Table.from_batches(batches, schema=schema)

    def write_table(self, name: str, table: pa.Table, *, replace: bool = True) -> int:
        check_columns(table, self.path.name)
        if replace:
            shutil.rmtree(self.parts_dir, ignore_errors=True)
            self.path.unlink(missing_ok=True)
        self.parts_dir.mkdir(parents=True, exist_ok=True)
        parts = self._parts()
        number = int(parts[-1].stem.split("-")[1]) + 1 if parts else 1
        final = self.parts_dir / f"part-{number:06d}.parquet"
        temporary = final.with_suffix(".tmp")
        pq.write_table(table, temporary)
        os.replace(temporary, final)
        return table.num_rows

    def finish(self) -> int:
        """Write the file from what it holds and its parts; return its rows."""
        files = self._files()
        if not files:
            return 0
        if files == [self.path]:
            return self.count_rows(self.path.name)
        temporary = self.path.with_name(self.path.name + ".tmp")
        rows = 0
        writer: pq.ParquetWriter | pacsv.CSVWriter | None = None
        try:
            for batch in self.iter_batches(self.path.name):
                if self.csv:
                    batch = _csv_ready(batch)
                if writer is None:
                    writer = (
                        pacsv.CSVWriter(temporary, batch.schema)
                        if self.csv
                        else pq.ParquetWriter(temporary, batch.schema)
                    )
                writer.write_batch(batch)
                rows += batch.num_rows
        finally:
            if writer is not None:
                writer.close()
        os.replace(temporary, self.path)
        shutil.rmtree(self.parts_dir, ignore_errors=True)
        return rows


def _csv_ready(batch: pa.RecordBatch) -> pa.RecordBatch:
    """List columns as JSON arrays (CSV holds no lists)."""
    columns = []
    for column in batch.columns:
        if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
            column = pa.array(
                [None if v is None else json.dumps(v) for v in column.to_pylist()], pa.string()
            )
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)
