"""What the tasks of a training cluster share of a streamed source, so that only the chief scans it.

The chief's streaming pass (:func:`mlkit.data.streamed.scan_splits`) yields, besides its
samples and statistics, the few numbers every task needs to train: each split's row count, the
training split's normalisation constants (per-feature mean and deviation, a regression
target's), the classes, the model's features and a tabular source's fitted preprocessing. The
chief writes them as JSON into the model directory all tasks share (:func:`write_constants`),
before training starts; a worker waits for that file (:func:`wait_constants`) and builds its
splits from it (:func:`streamed_from_constants`) without reading a row. Together the tasks then
read each training row once per pass (each its own shard) and none twice; the only full scan is
the chief's. JSON keeps float64 values exactly (``repr`` round-trips), so every task's graph
holds the same constants.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import time
import weakref
from pathlib import Path
from typing import Any

import numpy as np

from mlkit.data.columns import ColumnPlan
from mlkit.data.loader import Arrays, FeatureSpec
from mlkit.data.split import SPLIT_NAMES
from mlkit.data.stream import StreamSpec
from mlkit.data.streamed import StreamedData, StreamedSplit
from mlkit.data.warehouse import BATCH_ROWS, Relation, Warehouse
from mlkit.errors import DataError

CONSTANTS_FILE = "stream_constants.json"
WAIT_S = 3600.0  # how long a worker waits for the chief's constants (its scan of the source)
_FORMAT = 1


def text_sha256(text: str) -> str:
    """What ties the constants to the experiment: the SHA-256 of its file's text."""
    return hashlib.sha256(text.encode()).hexdigest()


def constants(data: StreamedData, *, experiment_sha256: str) -> dict[str, Any]:
    """The JSON-able constants of ``data`` (its splits unsharded)."""
    train = data.train
    spec = train.stream
    return {
        "format": _FORMAT,
        "experiment_sha256": experiment_sha256,
        "rows": {s.name: s.rows for s in (data.train, data.eval, data.test)},
        "mean": {n: np.asarray(v).tolist() for n, v in train.mean.items()},
        "std": {n: np.asarray(v).tolist() for n, v in train.std.items()},
        "target": np.asarray(train.labels).tolist() if spec.regression else None,
        "label_values": list(data.label_values),
        "features": [
            {"name": f.name, "shape": list(f.shape), "form": f.form, "kind": f.kind}
            for f in data.feature_specs
        ],
        "stream": {
            "label": spec.label,
            "key": spec.key,
            "eval_fraction": spec.eval_fraction,
            "test_fraction": spec.test_fraction,
            "n_classes": spec.n_classes,
            "regression": spec.regression,
        },
        "columns": data.columns.to_json() if data.columns is not None else None,
        "classes": data.classes,
        "fingerprint": data.fingerprint,
    }


def write_constants(model_dir: Path, data: StreamedData, *, experiment_sha256: str) -> Path:
    """Write ``data``'s constants into ``model_dir`` (atomically: a reader sees all or none)."""
    path = Path(model_dir) / CONSTANTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(constants(data, experiment_sha256=experiment_sha256)))
    tmp.replace(path)
    return path


def clear_constants(model_dir: Path) -> None:
    """Remove an earlier run's constants (the chief does, before its scan)."""
    (Path(model_dir) / CONSTANTS_FILE).unlink(missing_ok=True)


def wait_constants(
    model_dir: Path,
    *,
    experiment_sha256: str,
    timeout_s: float = WAIT_S,
    poll_s: float = 0.5,
) -> dict[str, Any]:
    """The chief's constants for this experiment, once it has written them."""
    path = Path(model_dir) / CONSTANTS_FILE
    deadline = time.monotonic() + timeout_s
    while True:
        if path.is_file():
            found = json.loads(path.read_text())
            if (
                found.get("format") == _FORMAT
                and found.get("experiment_sha256") == experiment_sha256
            ):
                return found
        if time.monotonic() >= deadline:
            raise DataError(
                f"the chief wrote no statistics of the streamed source into {path.parent} "
                f"within {timeout_s:.0f} s",
                hint="start the chief with the same experiment file and --model-dir",
            )
        time.sleep(poll_s)


def streamed_from_constants(
    warehouse: Warehouse,
    source: Relation,
    found: dict[str, Any],
    *,
    batch_rows: int = BATCH_ROWS,
    shuffle_buffer: int | None = None,
) -> StreamedData:
    """The splits a task streams, from the chief's constants: no row is read here. A query
    source is run into the warehouse's scratch table (inside the warehouse) as for the chief."""
    features = [
        FeatureSpec(f["name"], tuple(f["shape"]), f["form"], kind=f["kind"])
        for f in found["features"]
    ]
    plan = ColumnPlan.from_json(found["columns"]) if found["columns"] is not None else None
    s = found["stream"]
    stream = StreamSpec(
        s["label"], features, s["key"], "train", s["eval_fraction"], s["test_fraction"],
        s["n_classes"], regression=s["regression"], plan=plan,
    )  # fmt: skip
    label_dtype = np.float64 if s["regression"] else np.int64
    warehouse = warehouse.for_streaming()
    stack = contextlib.ExitStack()
    try:
        relation = stack.enter_context(warehouse.materialize(source))
    except BaseException:
        stack.close()
        raise
    splits = []
    for split in SPLIT_NAMES:
        train = split == "train"
        mean = {n: np.asarray(v, np.float64) for n, v in found["mean"].items()} if train else {}
        std = {n: np.asarray(v, np.float64) for n, v in found["std"].items()} if train else {}
        target = found["target"] if train and found["target"] is not None else []
        empty = Arrays(
            {f.name: np.zeros((0, *f.shape), np.float32) for f in features},
            np.zeros(0, label_dtype),
        )
        made = StreamedSplit(
            name=split,
            rows=int(found["rows"][split]),
            features={n: np.stack([mean[n] - std[n], mean[n] + std[n]]) for n in mean},
            labels=np.asarray(target, label_dtype),
            mean=mean,
            std=std,
            sample=empty,
            stream=dataclasses.replace(stream, split=split),
            warehouse=warehouse,
            relation=relation,
            batch_rows=batch_rows,
        )
        if shuffle_buffer is not None:
            made.shuffle_buffer = shuffle_buffer
        splits.append(made)
    data = StreamedData(
        train=splits[0],
        eval=splits[1],
        test=splits[2],
        label_values=list(found["label_values"]),
        n_classes=len(found["label_values"]),
        feature_specs=features,
        fingerprint=dict(found["fingerprint"]),
        columns=plan,
        classes=found["classes"],
    )
    data._closer = weakref.finalize(data, stack.close)
    return data


__all__ = [
    "CONSTANTS_FILE",
    "clear_constants",
    "constants",
    "streamed_from_constants",
    "text_sha256",
    "wait_constants",
    "write_constants",
]
