"""Record batches → one split's decoded batches → tf.data, without materialising the table.

Each record batch the warehouse streams (DuckDB's reader or the BigQuery Storage Read API) is
assigned to splits by its keys (the same FARM_FINGERPRINT buckets as :func:`load_splits`), filtered
to the wanted split, decoded (vectorised) and handed on; only a batch at a time is in memory, plus
whatever shuffle buffer tf.data is asked to keep.

    ds = tf_dataset(warehouse, "mnist", label="label", features=[FeatureSpec("pixels", (784,))],
                    split="train", batch_size=256)

TensorFlow is imported only by :func:`tf_dataset`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from mlkit.data.columns import ColumnPlan, encode
from mlkit.data.decode import decode_column
from mlkit.data.loader import FeatureSpec, _check_nulls, _infer_shape, describe_source, slices
from mlkit.data.loader import resolve_features as _resolve
from mlkit.data.split import SPLIT_NAMES, assign_splits, rows_predicate, shard_of
from mlkit.data.tabular import class_ids
from mlkit.data.validation import LabelValuesError
from mlkit.data.warehouse import BATCH_ROWS, Relation, Warehouse
from mlkit.errors import DataError


@dataclass(frozen=True)
class StreamSpec:
    label: str
    features: list[FeatureSpec]
    key: str
    split: str
    eval_fraction: float
    test_fraction: float
    n_classes: int | None = None
    regression: bool = False  # real-valued targets (float32), no classes
    shard: int = 0  # this reader's share of the rows: those of shard_of(key) == shard ...
    shards: int = 1  # ... of this many (the tasks of a training cluster, each reading one)
    # A tabular source (mlkit.data.columns): the fitted preprocessing applied to each record
    # batch; ``features`` are then the model's features, the plan's columns are what is read.
    plan: ColumnPlan | None = None

    def raw_columns(self) -> list[str]:
        """The source columns a batch of this split needs (besides the key and label)."""
        if self.plan is not None:
            return [c.name for c in self.plan.columns]
        return [f.name for f in self.features]


class RowCounter:
    """Rows this process has received from the warehouse while streaming (the scan and every
    split's batches): what a cluster task's share of the reading is measured by."""

    def __init__(self) -> None:
        self.rows = 0

    def add(self, rows: int) -> None:
        self.rows += rows


ROWS_READ = RowCounter()


def rows_read() -> int:
    """Rows streamed into this process so far (see :class:`RowCounter`)."""
    return ROWS_READ.rows


def _check_split(split: str) -> int:
    if split not in SPLIT_NAMES:
        raise DataError(f"unknown split '{split}': expected one of {', '.join(SPLIT_NAMES)}")
    return SPLIT_NAMES.index(split)


def feature_shapes(
    warehouse: Warehouse,
    source: Relation,
    *,
    label: str,
    key: str,
    features: list[FeatureSpec] | None,
) -> list[FeatureSpec]:
    """The features with their shapes, reading one record batch where a shape must be inferred."""
    where = describe_source(source)
    specs = _resolve(warehouse.relation_schema(source), where, label, key, features)
    todo = [s for s in specs if isinstance(s, str)]
    shapes = {}
    if todo:
        batches = warehouse.iter_batches(source, todo)
        try:
            first = next(batches)
        except StopIteration:
            raise DataError(f"{where} has no rows") from None
        finally:
            batches.close()
        shapes = {name: _infer_shape(first.column(name), name, where) for name in todo}
    return [FeatureSpec(s, shapes[s]) if isinstance(s, str) else s for s in specs]


def iter_split(
    warehouse: Warehouse,
    source: Relation,
    spec: StreamSpec,
    batch_rows: int = BATCH_ROWS,
    start: int = 0,
) -> Iterator[tuple[dict[str, np.ndarray], np.ndarray]]:
    """``(features, labels)`` numpy batches of one split, in the order the warehouse streams.

    ``start`` rows of the split are passed over first (read, not decoded). With
    ``spec.shards > 1`` only the rows of shard ``spec.shard`` (by a hash range of the key): the
    shards of one split are disjoint and together hold every row of it.

    A warehouse that speaks SQL (:meth:`~Warehouse.sql_dialect`) is asked for only the split's
    (and the shard's) rows, by the same hash (:func:`mlkit.data.split.rows_predicate`): the other
    rows never leave it. Otherwise every row is read and the split is chosen here."""
    code = _check_split(spec.split)
    where = describe_source(source)
    columns = list(dict.fromkeys([spec.key, spec.label, *spec.raw_columns()]))
    dialect = warehouse.sql_dialect()
    condition = None
    if dialect is not None:
        condition = rows_predicate(
            dialect.fingerprint(dialect.quote(spec.key)),
            code,
            spec.eval_fraction,
            spec.test_fraction,
            spec.shard,
            spec.shards,
        )
    batches = warehouse.iter_batches(source, columns, batch_rows, where=condition)
    row = 0
    for batch in slices(batches, batch_rows):
        ROWS_READ.add(batch.num_rows)
        keys = batch.column(spec.key)
        _check_nulls(keys, f"key column '{spec.key}'", where)
        if condition is not None:  # the warehouse sent only this split's (and shard's) rows
            mask = np.ones(batch.num_rows, dtype=bool)
        else:
            key_values = keys.to_numpy(zero_copy_only=False)
            mask = assign_splits(key_values, spec.eval_fraction, spec.test_fraction) == code
            if spec.shards > 1:
                mask &= shard_of(key_values, spec.shards) == spec.shard
        first_row = row
        row += batch.num_rows
        if not mask.any():
            continue
        if start:
            members = np.flatnonzero(mask)
            if start >= members.size:
                start -= members.size
                continue
            mask[members[:start]] = False
            start = 0
        part = batch if mask.all() else batch.filter(pa.array(mask))
        labels_column = part.column(spec.label)
        _check_nulls(labels_column, f"label column '{spec.label}'", where)
        labels = _labels(labels_column, spec, where)
        if spec.plan is not None:
            features = model_features(part, spec.plan, where)
        else:
            features = {
                f.name: decode_column(
                    part.column(f.name), f.name, f.shape, where, first_row=first_row
                )
                for f in spec.features
            }
        yield features, labels


def model_features(batch: pa.RecordBatch, plan: ColumnPlan, where: str) -> dict[str, np.ndarray]:
    """A record batch of a tabular source → the model's features (category ids as int64)."""
    encoded = encode(pa.Table.from_batches([batch]), plan, where)
    return {
        n: v.astype(np.int64) if v.dtype.kind in "iu" else v.astype(np.float32, copy=False)
        for n, v in encoded.items()
    }


def _labels(column: pa.Array, spec: StreamSpec, where: str) -> np.ndarray:
    if spec.plan is not None and spec.plan.classes is not None and not spec.regression:
        return class_ids(column, spec.plan.classes, spec.label, where)
    if spec.regression:
        number = pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
        if not (number or pa.types.is_decimal(column.type)):
            raise LabelValuesError(
                f"label column '{spec.label}' in {where} is {column.type}; regression targets "
                "must be numbers",
                hint="cast the target to FLOAT64 in the source or a query",
            )
        labels = column.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np.float32)
        if not np.isfinite(labels).all():
            raise LabelValuesError(
                f"label column '{spec.label}' in {where} has NaN or infinite values"
            )
        return labels
    if not pa.types.is_integer(column.type):
        raise LabelValuesError(
            f"label column '{spec.label}' in {where} is {column.type}; "
            "classification labels must be integers 0..K-1",
            hint="map the classes to 0..K-1 in the source or a query",
        )
    labels = column.to_numpy(zero_copy_only=False).astype(np.int64)
    if (
        spec.n_classes is not None
        and labels.size
        and (labels.min() < 0 or labels.max() >= spec.n_classes)
    ):
        bad = labels[(labels < 0) | (labels >= spec.n_classes)][0]
        raise LabelValuesError(
            f"label column '{spec.label}' in {where} has value {bad}; expected 0.."
            f"{spec.n_classes - 1}",
            hint="set n_classes to the number of classes, or filter the rows",
        )
    return labels


def tf_dataset(
    warehouse: Warehouse,
    source: Relation,
    *,
    label: str,
    features: list[FeatureSpec] | None,
    key: str = "id",
    split: str = "train",
    eval_fraction: float = 0.1,
    test_fraction: float = 0.2,
    batch_size: int = 256,
    n_classes: int | None = None,
    shuffle_buffer: int = 0,
    seed: int = 0,
    batch_rows: int = BATCH_ROWS,
    regression: bool = False,
):
    """A ``tf.data.Dataset`` of ``(features, labels)`` batches of one split, streamed.

    Each pass over the dataset streams the source again; nothing is cached.
    """
    specs = feature_shapes(warehouse, source, label=label, key=key, features=features)
    spec = StreamSpec(
        label, specs, key, split, eval_fraction, test_fraction, n_classes, regression=regression
    )
    _check_split(split)
    data = rows_dataset(lambda: iter_split(warehouse, source, spec, batch_rows), spec)
    if shuffle_buffer:
        data = data.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    return data.batch(batch_size).prefetch(2)


def rows_dataset(batches: Callable[[], Iterator], spec: StreamSpec):
    """A ``tf.data.Dataset`` of single rows from a generator of numpy ``(features, labels)``
    batches (called again for each pass): bounded by one batch, whatever the source's size."""
    import tensorflow as tf

    signature = (
        {
            f.name: tf.TensorSpec(
                (None, *f.shape), tf.int64 if f.kind == "categorical" else tf.float32
            )
            for f in spec.features
        },
        tf.TensorSpec((None,), tf.float32 if spec.regression else tf.int64),
    )
    return tf.data.Dataset.from_generator(batches, output_signature=signature).unbatch()
