"""The prediction log: what the endpoint answered, written to a warehouse table in the background.

:class:`PredictionLogger` is an :class:`~mlkit.serving.observe.AnswerObserver` (and a feedback
observer): the server hands it each answer and each posted truth; it only appends to an in-memory
queue, and one background thread writes what queued, in batches, every ``flush_interval_s`` (or
as soon as ``batch_rows`` instances wait). So logging never fails or delays an answer:

- a request is logged with probability ``sample`` (1.0: every request);
- when the warehouse cannot be written (down, locked, full) the batch is counted as dropped and
  the endpoint keeps serving; so is what arrives while ``max_queue`` instances already wait;
- :meth:`close` (SIGTERM) writes what is queued; a killed process loses what queued since the
  last write: at most one flush interval.

Rows, one per answered instance (table ``prediction_log``)::

    request_id, at (epoch seconds), model, version, route, status, latency_s, instance_index,
    instance (the instance's JSON), prediction (the prediction's JSON)

and one per truth received (table ``prediction_log_labels``: the log's name + ``_labels``)::

    request_id, instance_index, model, label (JSON), at
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyarrow as pa

from mlkit.data.warehouse import Warehouse, check_table_name
from mlkit.serving.observe import Answered, Feedback

logger = logging.getLogger("mlkit.monitoring")

LOG_TABLE = "prediction_log"
LABELS_TABLE = "prediction_log_labels"  # the log table's name + "_labels"
DEFAULT_FLUSH_S = 1.0

LOG_SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("at", pa.float64()),
        ("model", pa.string()),
        ("version", pa.int64()),
        ("route", pa.string()),
        ("status", pa.int64()),
        ("latency_s", pa.float64()),
        ("instance_index", pa.int64()),
        ("instance", pa.string()),
        ("prediction", pa.string()),
    ]
)
LABELS_SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("instance_index", pa.int64()),
        ("model", pa.string()),
        ("label", pa.string()),
        ("at", pa.float64()),
    ]
)


@dataclass(frozen=True)
class LogCounts:
    """What the logger did since it started: instances written, dropped, waiting."""

    logged: int
    labels: int
    dropped: int
    pending: int
    sampled_out: int


class PredictionLogger:
    """Writes answered requests (and feedback) to ``warehouse`` in a background thread."""

    def __init__(
        self,
        warehouse: Warehouse,
        *,
        table: str = LOG_TABLE,
        labels_table: str | None = None,
        sample: float = 1.0,
        flush_interval_s: float = DEFAULT_FLUSH_S,
        batch_rows: int = 2000,
        max_queue: int = 200_000,
        on_dropped: Callable[[int], None] | None = None,
        seed: int | None = None,
    ) -> None:
        if not 0.0 <= sample <= 1.0:
            raise ValueError(f"sample must be between 0 and 1, got {sample}")
        self.warehouse = warehouse
        self.table = check_table_name(table)
        self.labels_table = check_table_name(labels_table or f"{table}_labels")
        self.sample = sample
        self.flush_interval_s = max(0.01, flush_interval_s)
        self.batch_rows = max(1, batch_rows)
        self.max_queue = max(1, max_queue)
        self._on_dropped = on_dropped
        self._random = random.Random(seed)
        self._answers: deque[Answered] = deque()
        self._truths: deque[Feedback] = deque()
        self._queued = 0  # instances waiting
        self._lock = threading.Lock()
        self._writing = threading.Lock()  # one write at a time; flush() waits for one under way
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.logged = 0
        self.labels = 0
        self.dropped = 0
        self.labels_dropped = 0
        self.sampled_out = 0
        self._thread = threading.Thread(target=self._run, name="mlkit-prediction-log", daemon=True)
        self._thread.start()

    # -- the observer side (request threads): enqueue only ---------------------------------------

    def answered(self, record: Answered) -> None:
        if self.sample < 1.0 and self._random.random() >= self.sample:
            self.sampled_out += 1
            return
        size = max(1, len(record.instances))
        with self._lock:
            if self._stop.is_set() or self._queued + size > self.max_queue:
                self.dropped += size
                return
            self._answers.append(record)
            self._queued += size
            full = self._queued >= self.batch_rows
        if full:
            self._wake.set()

    def feedback(self, items: Sequence[Feedback]) -> None:
        with self._lock:
            self._truths.extend(items)

    def counts(self) -> LogCounts:
        with self._lock:
            pending = self._queued
        return LogCounts(self.logged, self.labels, self.dropped, pending, self.sampled_out)

    # -- the writer thread -----------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        """Write what is queued now; when it returns, everything answered before the call is
        written or counted as dropped (the writer thread calls this; so does :meth:`close`)."""
        with self._writing:
            with self._lock:
                answers, self._answers = self._answers, deque()
                truths, self._truths = self._truths, deque()
                queued, self._queued = self._queued, 0
            if answers:
                self._write(self.table, _rows_yielding(answers), queued)
            if truths:
                self._write(self.labels_table, label_rows(truths), 0)

    def _write(self, table: str, rows: pa.Table, instances: int) -> None:
        try:
            self.warehouse.write_table(table, rows, replace=False)
        except Exception as exc:  # the sink is down: count, keep serving
            logger.warning(
                "prediction log: %d rows for table '%s' dropped: %s", rows.num_rows, table, exc
            )
            if table != self.table:
                self.labels_dropped += rows.num_rows
                return
            self.dropped += instances
            if self._on_dropped is not None:
                try:
                    self._on_dropped(self.dropped)
                except Exception:
                    logger.exception("recording dropped prediction-log rows failed")
            return
        if table == self.table:
            self.logged += rows.num_rows
        else:
            self.labels += rows.num_rows

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop the writer and write what is queued (within ``timeout_s``); the rest is dropped."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout_s)
        if not self._thread.is_alive():
            self.flush()
        else:
            with self._lock:
                self.dropped += self._queued
                self._answers.clear()
                self._queued = 0


_encode = json.JSONEncoder(separators=(",", ":"), default=str).encode


def _json(value: object) -> str:
    return _encode(value)


def log_rows(answers: Sequence[Answered]) -> pa.Table:
    """One row per answered instance (a request without instances: one row, no instance)."""
    columns: dict[str, list] = {name: [] for name in LOG_SCHEMA.names}
    for a in answers:
        count = max(1, len(a.instances))
        for i in range(count):
            columns["request_id"].append(a.request_id)
            columns["at"].append(a.at)
            columns["model"].append(a.model)
            columns["version"].append(a.version)
            columns["route"].append(a.route)
            columns["status"].append(a.status)
            columns["latency_s"].append(a.latency_s)
            columns["instance_index"].append(i)
            columns["instance"].append(_json(a.instances[i]) if i < len(a.instances) else None)
            columns["prediction"].append(
                _json(a.predictions[i]) if i < len(a.predictions) else None
            )
    return pa.Table.from_pydict(columns, schema=LOG_SCHEMA)


_CHUNK = 64  # answers turned into rows between two yields of the GIL (about 2 ms of Python)


def _rows_yielding(answers: Sequence[Answered]) -> pa.Table:
    """``log_rows`` in chunks, giving the GIL away between them: a flush of a second of answers
    is tens of milliseconds of Python, which would otherwise hold the endpoint's event loop
    (measured: 10 to 14 ms stalls once a second at one client, gone with this)."""
    items = list(answers)
    if len(items) <= _CHUNK:
        return log_rows(items)
    tables = []
    for start in range(0, len(items), _CHUNK):
        tables.append(log_rows(items[start : start + _CHUNK]))
        time.sleep(0)  # lets a thread waiting for the GIL (the event loop) run
    return pa.concat_tables(tables)


def label_rows(items: Sequence[Feedback]) -> pa.Table:
    now = time.time()
    return pa.Table.from_pydict(
        {
            "request_id": [f.request_id for f in items],
            "instance_index": [f.index for f in items],
            "model": [f.model for f in items],
            "label": [_json(f.label) for f in items],
            "at": [f.at or now for f in items],
        },
        schema=LABELS_SCHEMA,
    )


__all__ = [
    "LABELS_SCHEMA",
    "LABELS_TABLE",
    "LOG_SCHEMA",
    "LOG_TABLE",
    "LogCounts",
    "PredictionLogger",
    "label_rows",
    "log_rows",
]
