"""The prediction log: what the endpoint answered, written to a warehouse table in the background.

:class:`PredictionLogger` is an :class:`~mlkit.serving.observe.AnswerObserver` (and a feedback
observer): the server hands it each answer and each posted truth; :meth:`answered` only appends
the record the server built to an in-memory queue (no JSON, no columns: about 1 µs), and one
background thread turns what queued into Arrow columns and appends them to the warehouse table in
one write (through the warehouse's :class:`~mlkit.data.warehouse.Appender`: the local warehouse
keeps its DuckDB connection between writes and attaches the file for each). So logging never
fails or delays an answer:

- a request is logged with probability ``sample`` (1.0: every request);
- when the warehouse cannot be written (down, locked, full) the batch is counted as dropped and
  the endpoint keeps serving; so is what arrives while ``max_queue`` instances already wait;
- :meth:`close` (SIGTERM) writes what is queued.

**The bound on a kill.** The writer takes what queued early enough that each answer is committed
within ``flush_interval_s`` of being answered: it takes the queue every ``flush_interval_s`` minus
the time a write takes (the slowest of the last writes, counted from when its take was due, times
1.5, between 5 % and 50 % of the interval), measured from one take to the next, and at once when
``batch_rows`` instances wait. So a process killed with SIGKILL loses only records answered in
the last ``flush_interval_s`` (as long as a late wake-up and a write take under half the
interval); :attr:`PredictionLogger.max_delay_s`, the longest
time from an answer to its commit seen so far, shows whether that held. (Before the first write
is measured the writer takes the queue every half interval.)

Rows, one per answered instance (table ``prediction_log``)::

    request_id, at (epoch seconds), model, version, route, status, latency_s, instance_index,
    instance (the instance's JSON), prediction (the prediction's JSON)

The JSON is built in the writer thread, from what the server already has: a lone instance's
text as the client sent it (when the body is ``{"instances": [X]}`` and nothing else), a lone
prediction's text as the answer carried it (the server encodes the predictions once for both);
otherwise each is encoded (compact separators).

and one per truth received (table ``prediction_log_labels``: the log's name + ``_labels``)::

    request_id, instance_index, model, label (JSON), at
"""

from __future__ import annotations

import json
import logging
import random
import re
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
    max_delay_s: float = 0.0  # the longest time from an answer to its commit


@dataclass
class WriterCost:
    """CPU the writer thread spent (seconds), to divide by the rows: building the columns, and
    the warehouse's appends (the local warehouse's cost is mostly per write: opening the file)."""

    rows: int = 0
    writes: int = 0
    convert_cpu_s: float = 0.0
    write_cpu_s: float = 0.0
    write_wall_s: float = 0.0
    slowest_flush_s: float = 0.0  # from taking the queue to the commit


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
        self.max_delay_s = 0.0
        self.cost = WriterCost()
        # wall seconds from when a take was due to its commit (a late wake-up and the write)
        self._recent_writes: deque[float] = deque(maxlen=8)
        # many small appends: the local warehouse keeps its DuckDB connection between them
        self._appenders = {t: warehouse.appender(t) for t in (self.table, self.labels_table)}
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
        return LogCounts(
            self.logged, self.labels, self.dropped, pending, self.sampled_out, self.max_delay_s
        )

    # -- the writer thread -----------------------------------------------------------------------

    def take_every_s(self) -> float:
        """How long from one take of the queue to the next: the flush interval less the time a
        write takes (1.5 x the slowest of the last 8, counted from when its take was due, so a
        late wake-up counts; between 5 % and 50 % of the interval), so an answer is committed
        within one interval of being answered."""
        if not self._recent_writes:
            return self.flush_interval_s * 0.5  # no write measured yet
        margin = min(0.5, max(0.05, 1.5 * max(self._recent_writes) / self.flush_interval_s))
        return self.flush_interval_s * (1.0 - margin)

    def _run(self) -> None:
        taken = time.monotonic()
        # the first conversion imports what pyarrow converts with (seconds): not in a flush
        log_rows([Answered("", "", 0, "", 0, 0.0, [{}], [{}], 0.0)])
        while not self._stop.is_set():
            planned = taken + self.take_every_s()
            self._wake.wait(max(0.0, planned - time.monotonic()))
            self._wake.clear()
            if self._stop.is_set():
                return  # close() writes what is left
            taken = time.monotonic()
            # woken late (a loaded machine schedules this thread late): the margin covers it too
            self._flush(late=max(0.0, taken - planned))

    def flush(self) -> None:
        """Write what is queued now; when it returns, everything answered before the call is
        written or counted as dropped (the writer thread calls this; so does :meth:`close`)."""
        self._flush(late=0.0)

    def _flush(self, late: float) -> None:
        with self._writing:
            began = time.monotonic()
            with self._lock:
                answers, self._answers = self._answers, deque()
                truths, self._truths = self._truths, deque()
                queued, self._queued = self._queued, 0
            if answers:
                cpu = time.thread_time()
                rows = _rows_yielding(answers)
                self.cost.convert_cpu_s += time.thread_time() - cpu
                if self._write(self.table, rows, queued):
                    oldest = min(a.at for a in answers)
                    self.max_delay_s = max(self.max_delay_s, time.time() - oldest)
                    took = time.monotonic() - began
                    self._recent_writes.append(late + took)
                    self.cost.slowest_flush_s = max(self.cost.slowest_flush_s, took)
            if truths:
                self._write(self.labels_table, label_rows(truths), 0)

    def _write(self, table: str, rows: pa.Table, instances: int) -> bool:
        cpu, wall = time.thread_time(), time.monotonic()
        try:
            self._appenders[table].append(rows)
        except Exception as exc:  # the sink is down: count, keep serving
            logger.warning(
                "prediction log: %d rows for table '%s' dropped: %s", rows.num_rows, table, exc
            )
            if table != self.table:
                self.labels_dropped += rows.num_rows
                return False
            self.dropped += instances
            if self._on_dropped is not None:
                try:
                    self._on_dropped(self.dropped)
                except Exception:
                    logger.exception("recording dropped prediction-log rows failed")
            return False
        self.cost.write_cpu_s += time.thread_time() - cpu
        self.cost.write_wall_s += time.monotonic() - wall
        self.cost.writes += 1
        if table == self.table:
            self.logged += rows.num_rows
            self.cost.rows += rows.num_rows
        else:
            self.labels += rows.num_rows
        return True

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop the writer and write what is queued (within ``timeout_s``); the rest is dropped."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout_s)
        if not self._thread.is_alive():
            self.flush()
            for appender in self._appenders.values():
                appender.close()
        else:
            with self._lock:
                self.dropped += self._queued
                self._answers.clear()
                self._queued = 0


# the answers' values come from JSON bodies and the model's outputs: no cycles to look for (30 %
# of the encoding's time with the check)
_encode = json.JSONEncoder(separators=(",", ":"), default=str, check_circular=False).encode


def _json(value: object) -> str:
    return _encode(value)


def log_rows(answers: Sequence[Answered]) -> pa.Table:
    """One row per answered instance (a request without instances: one row, no instance), built
    column by column (the JSON of the instances is most of the cost; a prediction's JSON is the
    answer's own, :attr:`~mlkit.serving.observe.Answered.predictions_json`, when it has one)."""
    columns: list[list] = [[] for _ in LOG_SCHEMA]
    _add_columns(columns, answers)
    return _table(columns)


def _table(columns: list[list]) -> pa.Table:
    arrays = [pa.array(c, f.type) for c, f in zip(columns, LOG_SCHEMA, strict=True)]
    return pa.Table.from_arrays(arrays, schema=LOG_SCHEMA)


def _add_columns(columns: list[list], answers: Sequence[Answered]) -> None:
    """Append the rows of ``answers`` to ``columns`` (LOG_SCHEMA's order)."""
    if all(len(a.instances) == 1 and len(a.predictions) == 1 for a in answers):
        flat: Sequence[Answered] = answers  # the common case: one instance per request
        index: list[int] = [0] * len(answers)
        instances: list[str | None] = [_lone_instance(a) for a in answers]
        predictions: list[str | None] = [_prediction(a, 0) for a in answers]
    else:
        pairs = [(a, i) for a in answers for i in range(max(1, len(a.instances)))]
        flat = [a for a, _ in pairs]
        index = [i for _, i in pairs]
        instances = [_instance(a, i) for a, i in pairs]
        predictions = [_prediction(a, i) for a, i in pairs]
    parts: tuple[list, ...] = (
        [a.request_id for a in flat],
        [a.at for a in flat],
        [a.model for a in flat],
        [a.version for a in flat],
        [a.route for a in flat],
        [a.status for a in flat],
        [a.latency_s for a in flat],
        index,
        instances,
        predictions,
    )
    for column, part in zip(columns, parts, strict=True):
        column.extend(part)


# a body that holds only "instances": the array's text is between its brackets
_INSTANCES_ONLY = re.compile(rb'\A\s*\{\s*"instances"\s*:\s*\[(.*)\]\s*\}\s*\Z', re.S)


def _lone_instance(answer: Answered) -> str:
    """The JSON of a request's one instance: its text in the request's body when the body is
    ``{"instances": [X]}`` and nothing else (the key once, no escapes that could hide a second
    one: json.loads keeps the last of duplicate keys), else the instance encoded again. The
    text is the client's own (its spacing and number forms), equal to the instance as JSON."""
    body = answer.body
    if body and b"\\u" not in body and body.count(b'"instances"') == 1:
        found = _INSTANCES_ONLY.match(body)
        if found is not None:
            return found.group(1).strip().decode("utf-8")
    return _json(answer.instances[0])


def _instance(answer: Answered, index: int) -> str | None:
    if index >= len(answer.instances):
        return None
    if len(answer.instances) == 1:
        return _lone_instance(answer)
    return _json(answer.instances[index])


def _prediction(answer: Answered, index: int) -> str | None:
    if index >= len(answer.predictions):
        return None
    if answer.predictions_json and len(answer.predictions) == 1:
        # the answer's JSON of a one-prediction list: "[" + the prediction's JSON + "]"
        return answer.predictions_json[1:-1]
    return _json(answer.predictions[index])


_CHUNK = 32  # answers turned into rows at a time
_HOLD_S = 0.002  # the longest the writer holds the GIL while it builds rows


def _rows_yielding(answers: Sequence[Answered]) -> pa.Table:
    """``log_rows`` in chunks, giving the GIL away whenever it held it ``_HOLD_S``: a flush of a
    second of answers is milliseconds of Python, which would otherwise hold the endpoint's event
    loop in one piece (measured: 10 to 14 ms stalls once a second at one client, gone with
    this). Each give-away costs the writer a wait for the GIL (up to the interpreter's switch
    interval, 5 ms, when the loop is busy), so it gives it away no more often than that."""
    items = list(answers)
    columns: list[list] = [[] for _ in LOG_SCHEMA]
    held = time.perf_counter()
    for start in range(0, len(items), _CHUNK):
        _add_columns(columns, items[start : start + _CHUNK])
        if time.perf_counter() - held >= _HOLD_S:
            time.sleep(0)  # lets a thread waiting for the GIL (the event loop) run
            held = time.perf_counter()
    return _table(columns)


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
    "WriterCost",
    "label_rows",
    "log_rows",
]
