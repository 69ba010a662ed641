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

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from mlkit.data.decode import decode_column
from mlkit.data.loader import FeatureSpec, _check_nulls, _infer_shape, describe_source, slices
from mlkit.data.loader import resolve_features as _resolve
from mlkit.data.split import SPLIT_NAMES, assign_splits
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
) -> Iterator[tuple[dict[str, np.ndarray], np.ndarray]]:
    """``(features, labels)`` numpy batches of one split, in the order the warehouse streams."""
    code = _check_split(spec.split)
    where = describe_source(source)
    names = [f.name for f in spec.features]
    columns = list(dict.fromkeys([spec.key, spec.label, *names]))
    row = 0
    for batch in slices(warehouse.iter_batches(source, columns, batch_rows), batch_rows):
        keys = batch.column(spec.key)
        _check_nulls(keys, f"key column '{spec.key}'", where)
        codes = assign_splits(
            keys.to_numpy(zero_copy_only=False), spec.eval_fraction, spec.test_fraction
        )
        mask = codes == code
        first_row = row
        row += batch.num_rows
        if not mask.any():
            continue
        part = batch.filter(pa.array(mask))
        labels_column = part.column(spec.label)
        _check_nulls(labels_column, f"label column '{spec.label}'", where)
        if not pa.types.is_integer(labels_column.type):
            raise LabelValuesError(
                f"label column '{spec.label}' in {where} is {labels_column.type}; "
                "classification labels must be integers 0..K-1",
                hint="map the classes to 0..K-1 in the source or a query",
            )
        labels = labels_column.to_numpy(zero_copy_only=False).astype(np.int64)
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
        features = {
            f.name: decode_column(part.column(f.name), f.name, f.shape, where, first_row=first_row)
            for f in spec.features
        }
        yield features, labels


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
):
    """A ``tf.data.Dataset`` of ``(features, labels)`` batches of one split, streamed.

    Each pass over the dataset streams the source again; nothing is cached.
    """
    import tensorflow as tf

    specs = feature_shapes(warehouse, source, label=label, key=key, features=features)
    spec = StreamSpec(label, specs, key, split, eval_fraction, test_fraction, n_classes)
    _check_split(split)
    signature = (
        {f.name: tf.TensorSpec((None, *f.shape), tf.float32) for f in specs},
        tf.TensorSpec((None,), tf.int64),
    )
    data = tf.data.Dataset.from_generator(
        lambda: iter_split(warehouse, source, spec, batch_rows), output_signature=signature
    )
    data = data.unbatch()
    if shuffle_buffer:
        data = data.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    return data.batch(batch_size).prefetch(2)
