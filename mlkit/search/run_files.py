"""What a run directory holds, and trimming it once the run has finished.

A search leaves checkpoints (``model.ckpt-STEP.*``, one set per iteration and every few hundred
steps), TensorBoard event files (the run's, and one folder per candidate ensemble and subnetwork
under ``ensemble/`` and ``subnetwork/``), AdaNet's reports and architectures, ``graph.pbtxt`` and
mlkit's small files (budget, fingerprint, learning-curve plot). Most of the bytes are copies of
the graph: ``graph.pbtxt`` and a ``GraphDef`` (and ``MetaGraphDef``) in every event file.

``prune(run_dir, keep)`` keeps, by ``keep``:

- ``all``: everything;
- ``resume`` (the default): the latest checkpoint (what ``mlkit train --resume`` and TensorBoard's
  projector read), every event file without its graph copies (the scalars and curves TensorBoard
  shows), the reports and small files;
- ``events``: the same without any checkpoint.

Event files are rewritten record by record (TFRecord framing, CRC32C from TensorBoard); no
TensorFlow import.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

CHECKPOINT_FILE = "checkpoint"
EVENTS_GLOB = "events.out.tfevents.*"


def size_of(path: Path) -> int:
    """Bytes under ``path`` (a file or a directory)."""
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def latest_checkpoint(run_dir: Path) -> str | None:
    """The file-name prefix of the latest checkpoint (``model.ckpt-20``), from ``checkpoint``."""
    try:
        text = (run_dir / CHECKPOINT_FILE).read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("model_checkpoint_path:"):
            return Path(line.split(":", 1)[1].strip().strip('"')).name
    return None


def prune(run_dir: Path, keep: str) -> int:
    """Trim ``run_dir`` to what ``keep`` needs; return the bytes freed."""
    run_dir = Path(run_dir)
    if keep == "all" or not run_dir.is_dir():
        return 0
    before = size_of(run_dir)
    latest = latest_checkpoint(run_dir)
    for path in run_dir.glob("*.ckpt-*"):
        if keep == "events" or latest is None or not path.name.startswith(f"{latest}."):
            path.unlink(missing_ok=True)
    if keep == "events":
        (run_dir / CHECKPOINT_FILE).unlink(missing_ok=True)
    (run_dir / "graph.pbtxt").unlink(missing_ok=True)
    for events in run_dir.rglob(EVENTS_GLOB):
        drop_graphs(events)
    return before - size_of(run_dir)


def _records(data: bytes) -> Iterator[bytes]:
    offset = 0
    while offset + 12 <= len(data):
        (length,) = struct.unpack_from("<Q", data, offset)
        start = offset + 12
        if start + length + 4 > len(data):  # a record cut short by a killed process
            return
        yield data[start : start + length]
        offset = start + length + 4


def drop_graphs(events: Path) -> None:
    """Rewrite an event file without its ``graph_def`` / ``meta_graph_def`` records."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.summary.writer.record_writer import masked_crc32c

    kept = []
    dropped = False
    for record in _records(events.read_bytes()):
        event = Event.FromString(record)
        if event.HasField("graph_def") or event.HasField("meta_graph_def"):
            dropped = True
            continue
        kept.append(record)
    if not dropped:
        return
    tmp = events.with_name(events.name + ".tmp")
    with tmp.open("wb") as out:
        for record in kept:
            header = struct.pack("<Q", len(record))
            out.write(header + struct.pack("<I", masked_crc32c(header)))
            out.write(record + struct.pack("<I", masked_crc32c(record)))
    tmp.replace(events)
