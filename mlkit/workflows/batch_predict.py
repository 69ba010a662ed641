"""``mlkit predict NAME --table SOURCE --output TABLE``: a registered version over a whole table,
in this process, no endpoint.

Reads SOURCE through the data layer (a local table, ``bq://project.dataset.table``, a SQL query,
or a CSV/Parquet file) in record batches; decodes each batch's features as the version's
SavedModel takes them; predicts; appends the predictions, with the source's key column, to
OUTPUT (a local table, ``bq://project.dataset.table``, or a CSV/Parquet file) as Arrow tables —
one atomic append per ``WRITE_ROWS`` rows (a DuckDB ``INSERT ... SELECT`` from the Arrow table in
one transaction, a Parquet part renamed into place), ``BIGQUERY_WRITE_ROWS`` on BigQuery (a load
job each). A bounded pipeline (:mod:`mlkit.workflows.background`): the next batch is read and
decoded in one thread and the previous predictions written in another while this one is
predicted. The local warehouse is held open for the whole job (:meth:`Warehouse.kept_open`), so
its reads and appends do not each open the file again.

Resuming: when OUTPUT already holds predictions of the same version, the keys it holds are read
first (the key column only) and those rows are passed over, so a job killed part-way and run again
writes every row once, none twice (an anti-join on the keys already written). Predictions of
another version in OUTPUT are refused unless ``replace``.

Output columns: the key, ``prediction`` (the class id, or the regression value),
``confidence`` (the top class probability; null for regression), ``probabilities`` (a list; a
JSON array in CSV), ``model_version``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from mlkit.config import Settings
from mlkit.data.bigquery import BigQueryConfig
from mlkit.data.decode import decode_column
from mlkit.data.files import FileTable, is_file
from mlkit.data.local import LocalWarehouse
from mlkit.data.source import BQ_SCHEME, parse_bq, resolve_source
from mlkit.data.warehouse import Relation, Warehouse, check_table_name
from mlkit.errors import DataError, UsageError
from mlkit.registry import open_store
from mlkit.search.stages import StageClock
from mlkit.workflows.background import WriteBehind, read_ahead

Progress = Callable[[int, int], None]  # (rows done, rows in all)
BATCH_ROWS = 8192  # rows read, decoded and predicted at a time
# Rows an append holds at least (the last one excepted); a killed job redoes at most this many.
# With the warehouse held open a DuckDB append costs about what its rows do, so appends are small
# enough to overlap prediction and leave a short last one; a BigQuery append is a load job (a
# second or more whatever its size), so there they are bigger.
WRITE_ROWS = 32_768
BIGQUERY_WRITE_ROWS = 262_144
# Decoded rows the reader may hold ahead of the model (at least two batches): enough to keep
# decoding while the model's first call warms up, so the model then finds its input ready.
READ_AHEAD_ROWS = 131_072
WARM_UP_ROWS = 1  # a first call on one row costs what one on a full batch does, less its rows
VERSION_COLUMN = "model_version"


@dataclass(frozen=True)
class BatchRequest:
    model: str  # NAME, NAME:VERSION or NAME@ALIAS
    source: str  # a table, bq://..., a SQL query, or a .csv/.parquet file
    output: str  # a local table, bq://project.dataset.table, or a .csv/.parquet file
    key: str | None = None  # default: the key column the version's run trained with, else "id"
    params: dict[str, Any] | None = None  # a SQL source's parameters
    backend: str | None = None  # where a SQL source runs: local (default) or bigquery
    batch_rows: int = BATCH_ROWS
    replace: bool = False  # start over even where OUTPUT holds another version's predictions
    target: str = "local"  # local: in this process; vertex: a Vertex AI batch prediction job
    # rows an append holds at least (what a killed job redoes); default: by OUTPUT's kind
    write_rows: int | None = None


@dataclass
class BatchOutcome:
    model: str
    version: int
    source: str
    output: str
    rows: int  # rows in the source
    written: int  # rows predicted and written by this job
    skipped: int  # rows already in the output (a resumed job)
    seconds: float
    job: str | None = None  # --target vertex: the BatchPredictionJob's resource name
    failed: int = 0  # --target vertex: instances the job failed on or left incomplete
    # in process: seconds per stage, summed over batches, each in its own thread (read, decode,
    # predict, build, write), and the model's waits (for input, the warm-up, the last appends)
    stages: dict[str, float] = field(default_factory=dict)

    @property
    def rows_per_s(self) -> float:
        return self.written / self.seconds if self.seconds > 0 else 0.0


def open_output(text: str, *, local_path: Path | str) -> tuple[Warehouse, str]:
    """Where predictions go: a file, ``bq://project.dataset.table``, or a local table."""
    text = text.strip()
    if is_file(text):
        return FileTable(text), Path(text).name
    if text.startswith(BQ_SCHEME):
        from mlkit.data.bigquery import BigQueryWarehouse

        project, dataset, table = parse_bq(text)
        config = BigQueryConfig()
        config = replace(config, project=project or config.project, dataset=dataset)
        return BigQueryWarehouse(config), str(table)
    return LocalWarehouse(local_path), check_table_name(text)


def open_input(request: BatchRequest, settings: Settings) -> tuple[Warehouse, Relation]:
    if is_file(request.source):
        if request.params:
            raise UsageError("params apply to a SQL source, not to a file", hint="remove them")
        return FileTable(request.source), Path(request.source).name
    resolved = resolve_source(
        request.source,
        local_path=settings.warehouse_path,
        params=request.params,
        backend=request.backend,
    )
    return resolved.warehouse, resolved.relation


def batch_predict(
    request: BatchRequest, settings: Settings, on_progress: Progress | None = None
) -> BatchOutcome:
    """Predict every row of the source with a registered version and write the predictions."""
    if request.batch_rows < 1:
        raise UsageError(f"--batch-rows is {request.batch_rows}; expected at least 1")
    if not request.output:
        raise UsageError(
            "--table needs --output: a local table, bq://project.dataset.table or a file"
        )
    if request.target not in ("local", "vertex"):
        raise UsageError(f"--target is {request.target!r}; expected local or vertex")
    if request.target == "vertex":
        from mlkit.workflows.batch_vertex import vertex_batch_predict

        return vertex_batch_predict(request, settings, on_progress)
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        mv = store.resolve(request.model)
        path = store.artifact_path(mv)
        trained_key = None
        if mv.run_id is not None:
            trained_key = (store.get_run(mv.run_id).data_fingerprint or {}).get("key")
    key = request.key or trained_key or "id"
    reader, relation = open_input(request, settings)
    writer, table = open_output(request.output, local_path=settings.warehouse_path)
    if isinstance(writer, LocalWarehouse):
        writer = writer.for_writing_beside()
        if isinstance(reader, LocalWarehouse):
            reader = reader.for_writing_beside()
    write_rows = request.write_rows or (
        WRITE_ROWS if isinstance(writer, LocalWarehouse | FileTable) else BIGQUERY_WRITE_ROWS
    )
    from mlkit.savedmodel import SavedModelRunner

    runner = SavedModelRunner(path)
    started = time.perf_counter()
    clock = StageClock()
    warm = _warm_up(runner, WARM_UP_ROWS, clock)
    with writer.kept_open(), reader.kept_open(), reader.materialize(relation) as rel:
        schema = reader.relation_schema(rel)
        where = f"table '{relation}'" if isinstance(relation, str) else "the query"
        features = runner.input_spec
        missing = [c for c in [key, *features] if c not in schema.names]
        if missing:
            raise DataError(
                f"column '{missing[0]}' not found in {where} (columns: {', '.join(schema.names)})",
                hint="name the key column with --key" if missing[0] == key else None,
            )
        done = None if request.replace else _written_keys(writer, table, key, mv.version)
        total = reader.count_rows(rel)
        if on_progress:
            on_progress(0, total)
        clock.add("open", time.perf_counter() - started)
        written, skipped = _run(
            runner,
            read_ahead(
                lambda: _decoded(reader, rel, key, features, where, done, request, clock),
                depth=max(2, READ_AHEAD_ROWS // request.batch_rows),
            ),
            lambda out, fresh: writer.write_table(table, out, replace=fresh),
            clock,
            key=key,
            version=mv.version,
            fresh=request.replace,
            write_rows=write_rows,
            on_progress=(lambda done_rows: on_progress(done_rows, total)) if on_progress else None,
            before_first=warm.join,
        )
        ran = time.perf_counter()
    if isinstance(writer, FileTable):
        writer.finish()
    clock.add("close", time.perf_counter() - ran)
    return BatchOutcome(
        model=mv.model,
        version=mv.version,
        source=request.source,
        output=request.output,
        rows=total,
        written=written,
        skipped=skipped,
        seconds=time.perf_counter() - started,
        stages=clock.rounded(),
    )


def _decoded(
    reader: Warehouse,
    relation: Relation,
    key: str,
    features: dict[str, tuple[int | None, ...]],
    where: str,
    done: np.ndarray | None,
    request: BatchRequest,
    clock: StageClock,
) -> Iterator[tuple[pa.Array | pa.ChunkedArray, dict[str, np.ndarray], int]]:
    """``(keys, decoded features, rows passed over)`` per record batch (run read-ahead)."""
    batches = reader.iter_batches(relation, [key, *features], request.batch_rows)
    try:
        while True:
            with clock.timing("read"):
                batch = next(batches, None)
            if batch is None:
                return
            with clock.timing("decode"):
                decoded = _decode_batch(batch, key, features, where, done)
            yield decoded
    finally:
        batches.close()


def _decode_batch(
    batch: pa.RecordBatch,
    key: str,
    features: dict[str, tuple[int | None, ...]],
    where: str,
    done: np.ndarray | None,
) -> tuple[pa.Array | pa.ChunkedArray, dict[str, np.ndarray], int]:
    skipped = 0
    if done is not None:
        keep = ~_member(batch.column(key).to_numpy(zero_copy_only=False), done)
        skipped = int(batch.num_rows - keep.sum())
        if skipped:
            batch = batch.filter(pa.array(keep))
    arrays = {
        name: decode_column(batch.column(name), name, _fixed(name, shape), where)
        for name, shape in features.items()
    }
    return batch.column(key), arrays, skipped


def _run(
    runner: Any,
    batches: Iterator[tuple[pa.Array | pa.ChunkedArray, dict[str, np.ndarray], int]],
    write: Callable[[pa.Table, bool], object],
    clock: StageClock,
    *,
    key: str,
    version: int,
    fresh: bool,
    write_rows: int,
    on_progress: Callable[[int], None] | None,
    before_first: Callable[[], None] = lambda: None,
) -> tuple[int, int]:
    """Predict each decoded batch while the next is read and decoded (read-ahead) and the
    previous predictions are written (write-behind, at least ``write_rows`` rows an append);
    ``before_first`` runs once, when the first batch is there. Returns ``(written, skipped)``;
    ``clock`` gets the seconds of each stage and of the model's waits."""
    writes = WriteBehind()
    pending: list[pa.Table] = []
    written = skipped = predicted = 0

    def flush() -> None:
        nonlocal fresh
        if pending:
            out = pa.concat_tables(pending)
            pending.clear()
            first = fresh

            def append() -> None:
                with clock.timing("write"):
                    write(out, first)

            with clock.timing("wait_write"):
                writes.submit(append)
            fresh = False

    try:
        while True:
            with clock.timing("wait_input"):
                item = next(batches, None)
            if item is None:
                break
            keys, arrays, passed = item
            skipped += passed
            if len(keys):
                with clock.timing("wait_warm_up"):
                    before_first()
                before_first = _nothing
                with clock.timing("predict"):
                    outputs = runner.predict_arrays(arrays, batch_size=len(keys))
                with clock.timing("build"):
                    pending.append(prediction_table(key, keys, outputs, version))
                predicted += len(keys)
                if predicted - written >= write_rows:
                    flush()
                    written = predicted
            if on_progress:
                on_progress(predicted + skipped)
        flush()
        written = predicted
    finally:
        with clock.timing("wait_write"):
            writes.close()
    return written, skipped


def _nothing() -> None:
    return None


def _warm_up(runner: Any, rows: int, clock: StageClock) -> threading.Thread:
    """Run the model once on ``rows`` rows of zeros in a thread, while the job opens its source
    and reads and decodes ahead: TensorFlow's first call of a loaded function (its graph
    optimised: 0.04 s on one row, 0.08 s on 8,192, against ~0.02 s for a batch afterwards, measured
    alone for a small model) is then off the job's path. A failure is left for the first real
    batch to report."""

    def run() -> None:
        try:
            zeros = {
                name: np.zeros((rows, *_fixed(name, shape)), dtype=runner.input_dtypes[name])
                for name, shape in runner.input_spec.items()
            }
            with clock.timing("warm_up"):
                runner.predict_arrays(zeros, batch_size=rows)
        except Exception:  # reported by the first real batch, with the rows it concerns
            return

    thread = threading.Thread(target=run, name="mlkit-warm-up", daemon=True)
    thread.start()
    return thread


def _member(keys: np.ndarray, done: np.ndarray) -> np.ndarray:
    """Which ``keys`` are in ``done`` (sorted, unique): a binary search each."""
    at = np.searchsorted(done, keys)
    found = np.zeros(len(keys), dtype=bool)
    inside = at < len(done)
    found[inside] = done[at[inside]] == keys[inside]
    return found


def _written_keys(writer: Warehouse, table: str, key: str, version: int) -> np.ndarray | None:
    """The keys OUTPUT already holds predictions for (None: none), checked to be this
    version's."""
    if not writer.has_table(table):
        return None
    names = writer.relation_schema(table).names
    if VERSION_COLUMN not in names or key not in names:
        raise DataError(
            f"output {table} exists and does not hold mlkit predictions keyed by '{key}' "
            f"(columns: {', '.join(names)})",
            hint="name another output, or pass --replace to overwrite it",
        )
    keys, versions = [], set()
    for batch in writer.iter_batches(table, [key, VERSION_COLUMN]):
        keys.append(batch.column(key).to_numpy(zero_copy_only=False))
        versions.update(batch.column(VERSION_COLUMN).unique().to_pylist())
    others = sorted(v for v in versions if v != version)
    if others:
        raise DataError(
            f"output {table} holds predictions of version {others[0]}, not {version}",
            hint="name another output, or pass --replace to overwrite it",
        )
    return np.unique(np.concatenate(keys)) if keys else None


def _fixed(name: str, shape: tuple[int | None, ...]) -> tuple[int, ...]:
    if any(d is None for d in shape):
        raise DataError(f"feature '{name}' has a free dimension {shape}; a table needs fixed ones")
    return tuple(int(d) for d in shape if d is not None)


def prediction_table(
    key: str, keys: pa.Array | pa.ChunkedArray, outputs: dict[str, np.ndarray], version: int
) -> pa.Table:
    """The rows written: key, prediction, confidence, probabilities, model_version."""
    n = len(keys)
    if "class_ids" in outputs and "probabilities" in outputs:
        prediction = pa.array(outputs["class_ids"].reshape(n, -1)[:, 0].astype(np.int64))
        probs = np.asarray(outputs["probabilities"], dtype=np.float64).reshape(n, -1)
        confidence = pa.array(probs.max(axis=1))
        flat = pa.array(probs.reshape(-1))
        offsets = pa.array(np.arange(0, probs.size + 1, probs.shape[1], dtype=np.int32))
        probabilities = pa.ListArray.from_arrays(offsets, flat)
    elif "predictions" in outputs:
        values = np.asarray(outputs["predictions"], dtype=np.float64).reshape(n, -1)[:, 0]
        prediction = pa.array(values)
        confidence = pa.nulls(n, pa.float64())
        probabilities = pa.nulls(n, pa.list_(pa.float64()))
    else:
        raise DataError(
            f"the model's outputs ({', '.join(sorted(outputs))}) are neither class ids with "
            "probabilities nor predictions"
        )
    return pa.table(
        {
            key: keys,
            "prediction": prediction,
            "confidence": confidence,
            "probabilities": probabilities,
            VERSION_COLUMN: pa.array(np.full(n, version, dtype=np.int64)),
        }
    )


__all__ = ["BatchOutcome", "BatchRequest", "batch_predict", "open_output", "prediction_table"]
