"""The prediction log: what the endpoint answered, written to a warehouse table in the background.

:class:`PredictionLogger` is an :class:`~mlkit.serving.observe.AnswerObserver` (and a feedback
observer): the server hands it each answer and each posted truth; :meth:`answered` only appends
to an in-memory queue (no JSON, no columns: about 1 µs) the row of a one-instance answer (its
instance's and prediction's JSON text taken from the request's body and the answer, so that no
dict or list of the request stays alive until the flush: see :func:`_lone_row`) or else the
record the server built, and one
background thread turns what queued into Arrow columns and appends them to the warehouse table in
one write (through the warehouse's :class:`~mlkit.data.warehouse.Appender`: the local warehouse
keeps its DuckDB connection between writes and attaches the file for each). So logging never
fails or delays an answer:

- a request is logged with probability ``sample`` (1.0: every request);
- when the warehouse cannot be written (down, locked, full) the batch is counted as dropped and
  the endpoint keeps serving; so is what arrives while ``max_queue`` instances already wait;
- :meth:`close` (SIGTERM) writes what is queued.

**The bound on a kill.** The writer plans each take of the queue from the oldest answer
waiting: it takes the queue ``take_every_s`` after that answer, i.e. ``flush_interval_s`` less
the time a flush takes (2 x the slowest of the last 16, counted from when its take was due, so
a late wake-up counts; between 5 % and 50 % of the interval; a quarter of the interval before
the first write is measured), and at once when ``batch_rows`` instances wait; with nothing
waiting it sleeps until the next answer. So a process killed with SIGKILL loses only records
answered in the last ``flush_interval_s`` (as long as a late wake-up and a flush take under
half the interval); :attr:`PredictionLogger.max_delay_s`, the longest time from an answer to its
commit seen so far, shows whether that held.

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
import pyarrow.compute as pc

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
    # the flush whose oldest answer waited longest for its commit: (that wait, the answer's age
    # when the queue was taken, how late the take was, the flush's seconds)
    worst: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)


Row = tuple[str, float, str, int, str, int, float, int, bytes | None, str | None]
"""One row of the log, in LOG_SCHEMA's order; the instance's JSON as UTF-8 bytes."""


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
        # a one-instance answer waits as its row (a tuple of strings and numbers, which the
        # garbage collector stops tracking), any other as the server's record
        self._answers: deque[Row | Answered] = deque()
        self._truths: deque[Feedback] = deque()
        self._queued = 0  # instances waiting
        self._first_at: float | None = None  # when the oldest waiting answer (truth) came
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
        # wall seconds from when a take was due to the end of its flush (a late wake-up and the
        # writes)
        self._recent_writes: deque[float] = deque(maxlen=16)
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
        item = _lone_row(record)
        with self._lock:
            if self._stop.is_set() or self._queued + size > self.max_queue:
                self.dropped += size
                return
            self._answers.append(record if item is None else item)
            self._queued += size
            first = self._first_at is None
            if first:
                self._first_at = record.at
            full = self._queued >= self.batch_rows
        if full or first:  # the writer plans its take from the oldest answer waiting
            self._wake.set()

    def feedback(self, items: Sequence[Feedback]) -> None:
        with self._lock:
            self._truths.extend(items)
            first = self._first_at is None
            if first:
                self._first_at = time.time()
        if first:
            self._wake.set()

    def counts(self) -> LogCounts:
        with self._lock:
            pending = self._queued
        return LogCounts(
            self.logged, self.labels, self.dropped, pending, self.sampled_out, self.max_delay_s
        )

    # -- the writer thread -----------------------------------------------------------------------

    def take_every_s(self) -> float:
        """How long after an answer its queue is taken: the flush interval less the time a
        flush takes (2 x the slowest of the last 16, counted from when its take was due, so a
        late wake-up counts; between 5 % and 50 % of the interval), so an answer is committed
        within one interval of being answered."""
        if not self._recent_writes:  # no write measured yet (the first creates the table)
            return self.flush_interval_s * 0.25
        margin = min(0.5, max(0.05, 2.0 * max(self._recent_writes) / self.flush_interval_s))
        return self.flush_interval_s * (1.0 - margin)

    def _due(self) -> float | None:
        """When (``time.time()``) the queue must be taken: ``take_every_s`` after the oldest
        waiting answer (or truth) was queued; at once when ``batch_rows`` instances wait; None
        when nothing waits."""
        with self._lock:
            first, queued = self._first_at, self._queued
        if queued >= self.batch_rows:
            return time.time()
        return None if first is None else first + self.take_every_s()

    def _run(self) -> None:
        # the first conversion imports what pyarrow converts with (seconds), the first append
        # opens its connection: not in a flush
        log_rows([Answered("", "", 0, "", 0, 0.0, [{}], [{}], 0.0)])
        for appender in self._appenders.values():
            appender.prepare()
        while not self._stop.is_set():
            due = self._due()
            if due is None:
                self._wake.wait()  # nothing waits: the first answer queued wakes the writer
            else:
                self._wake.wait(max(0.0, due - time.time()))
            self._wake.clear()
            if self._stop.is_set():
                return  # close() writes what is left
            now = time.time()
            due = self._due()
            if due is not None and due <= now:
                # woken late (a loaded machine schedules this thread late): the margin covers it
                self._flush(late=now - due)

    def flush(self) -> None:
        """Write what is queued now; when it returns, everything answered before the call is
        written or counted as dropped (the writer thread calls this; so does :meth:`close`)."""
        self._flush(late=0.0)

    def _flush(self, late: float) -> None:
        with self._writing:
            began, taken = time.monotonic(), time.time()
            with self._lock:
                answers, self._answers = self._answers, deque()
                truths, self._truths = self._truths, deque()
                queued, self._queued = self._queued, 0
                self._first_at = None
            written = False
            if answers:
                cpu = time.thread_time()
                rows, oldest = _rows_yielding(answers)
                self.cost.convert_cpu_s += time.thread_time() - cpu
                written = self._write(self.table, rows, queued)
                delay = time.time() - oldest
                if written and delay > self.max_delay_s:
                    self.max_delay_s = delay
                    self.cost.worst = (delay, taken - oldest, late, time.monotonic() - began)
            if truths:
                self._write(self.labels_table, label_rows(truths), 0)
            if written:  # the labels' write too delays the next take
                took = time.monotonic() - began
                self._recent_writes.append(late + took)
                self.cost.slowest_flush_s = max(self.cost.slowest_flush_s, took)

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
                self._first_at = None


# the answers' values come from JSON bodies and the model's outputs: no cycles to look for (30 %
# of the encoding's time with the check)
_encode = json.JSONEncoder(separators=(",", ":"), default=str, check_circular=False).encode


def _json(value: object) -> str:
    return _encode(value)


def log_rows(answers: Sequence[Answered]) -> pa.Table:
    """One row per answered instance (a request without instances: one row, no instance); the
    JSON of a lone instance and of a lone prediction is the request's and the answer's own text
    where they have it (:func:`_lone_row`), else encoded here."""
    rows: list[Row] = []
    for answer in answers:
        row = _lone_row(answer)
        rows.extend(_answer_rows(answer) if row is None else [row])
    return _table(rows)


def _table(rows: Sequence[Row], hold: Callable[[], None] | None = None) -> pa.Table:
    """The rows as an Arrow table, column by column (``hold``, when given, is called after each
    column: the writer gives the GIL away there)."""
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in LOG_SCHEMA]
    arrays = []
    for values, field in zip(columns, LOG_SCHEMA, strict=True):
        if field.name == "instance":  # the JSON text as bytes: checked as UTF-8 by Arrow
            arrays.append(pa.array(values, pa.binary()).cast(pa.string()))
        else:
            arrays.append(pa.array(values, field.type))
        if hold is not None:
            hold()
    return pa.Table.from_arrays(arrays, schema=LOG_SCHEMA)


# a body that holds only "instances": the array's text is between its brackets
_INSTANCES_ONLY = re.compile(rb'\A\s*\{\s*"instances"\s*:\s*\[(.*)\]\s*\}\s*\Z', re.S)


def _lone_text(body: bytes) -> bytes | None:
    """The JSON text of a request's one instance in its body, when the body is ``{"instances":
    [X]}`` and nothing else (the key once, no escapes that could hide a second one: json.loads
    keeps the last of duplicate keys): the client's own text (its spacing and number forms),
    equal to the instance as JSON. None for any other body."""
    if body and b"\\u" not in body and body.count(b'"instances"') == 1:
        found = _INSTANCES_ONLY.match(body)
        if found is not None:
            return found.group(1).strip()
    return None


def _lone_row(answer: Answered) -> Row | None:
    """The row of a one-instance answer whose instance's text is in its body and whose
    prediction's JSON the answer carried (the common case: no JSON made), else None. Made on the
    request's thread (about 1 µs): the queue then holds no reference to the request's dicts and
    lists, which would otherwise live until the next flush, reach the garbage collector's oldest
    generation and make its full collections (which stop the whole process) come far more often.
    """
    if len(answer.instances) != 1 or len(answer.predictions) != 1 or not answer.predictions_json:
        return None
    text = _lone_text(answer.body)
    if text is None:
        return None
    # the answer's JSON of a one-prediction list: "[" + the prediction's JSON + "]"
    prediction = answer.predictions_json[1:-1]
    return (answer.request_id, answer.at, answer.model, answer.version, answer.route,
            answer.status, answer.latency_s, 0, text, prediction)  # fmt: skip


def _answer_rows(answer: Answered) -> list[Row]:
    """The rows of any answer, the instances' and predictions' JSON encoded where the request
    and the answer do not give it."""
    return [
        (answer.request_id, answer.at, answer.model, answer.version, answer.route, answer.status,
         answer.latency_s, i, _instance(answer, i), _prediction(answer, i))
        for i in range(max(1, len(answer.instances)))
    ]  # fmt: skip


def _instance(answer: Answered, index: int) -> bytes | None:
    if index >= len(answer.instances):
        return None
    if len(answer.instances) == 1:
        text = _lone_text(answer.body)
        if text is not None:
            return text
    return _json(answer.instances[index]).encode("utf-8")


def _prediction(answer: Answered, index: int) -> str | None:
    if index >= len(answer.predictions):
        return None
    if answer.predictions_json and len(answer.predictions) == 1:
        return answer.predictions_json[1:-1]
    return _json(answer.predictions[index])


_HOLD_S = 0.002  # the longest the writer holds the GIL while it builds rows


def _rows_yielding(items: Sequence[Row | Answered]) -> tuple[pa.Table, float]:
    """The table of the queued items, and when the oldest was answered, giving the GIL away
    whenever the writer held it ``_HOLD_S`` (a flush of a second of answers would otherwise hold
    the endpoint's event loop in one piece: measured 10 to 14 ms stalls once a second at one
    client before). Each give-away costs the writer a wait for the GIL (up to the interpreter's
    switch interval, 5 ms, when the loop is busy), so it gives it away no more often than that.
    The common case (every item a row already) is a transpose and one Arrow array per column."""
    held = time.perf_counter()

    def hold() -> None:
        nonlocal held
        if time.perf_counter() - held >= _HOLD_S:
            time.sleep(0)  # lets a thread waiting for the GIL (the event loop) run
            held = time.perf_counter()

    rows: list[Row] = []
    for item in items:
        if isinstance(item, Answered):
            rows.extend(_answer_rows(item))  # JSON encoded here: give the GIL away in time
            hold()
        else:
            rows.append(item)
    table = _table(rows, hold)
    oldest = pc.min(table.column("at")).as_py()
    return table, time.time() if oldest is None else float(oldest)


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
    "Row",
    "label_rows",
    "log_rows",
]
