"""A table bigger than memory, split three ways in one streaming pass, never materialised.

:func:`scan_splits` reads the source once in record batches and keeps, besides one decoded batch
at a time, only small summaries:

- each split's row count, and the label values (classification) or a check that targets are
  finite numbers (regression);
- the training split's per-value mean and standard deviation of every feature (Chan's parallel
  update in float64, as ``np.mean``/``np.std`` over the rows would give) and of a regression
  target: the normalisation constants the search puts in its graph;
- statistics of the whole source (count, mean, std, min, max, label distribution), as
  :func:`mlkit.data.stats.array_stats` gives for loaded arrays; the histograms are of the samples;
- a bounded sample of each split (the ``sample_rows`` rows with the smallest hash of their key, so
  the same rows whatever order the warehouse streams them in): the scikit-learn reference models
  fit and score on it;
- an order-independent content hash (see :class:`~mlkit.data.stream_summaries.ContentHash`).

Rows are assigned to splits with :func:`mlkit.data.split.assign_splits`, the function the
in-memory loader uses, so a row lands in the same split either way. The splits are then streamed
again, as often as training needs them, by :func:`mlkit.data.stream.iter_split`. No TensorFlow.
"""

from __future__ import annotations

import contextlib
import dataclasses
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from mlkit.data.columns import ColumnPlan
from mlkit.data.decode import decode_column, storage_form
from mlkit.data.fingerprint import schema_string
from mlkit.data.loader import (
    SPLIT_METHOD,
    Arrays,
    FeatureSpec,
    _check_nulls,
    _infer_shape,
    _source_fields,
    describe_source,
    resolve_features,
    slices,
)
from mlkit.data.split import SPLIT_NAMES, assign_splits, check_fractions, fingerprints
from mlkit.data.stats import BINS, Moments, histogram, histogram_edges
from mlkit.data.stream import (
    ROWS_READ,
    StreamSpec,
    iter_split,
    model_features,
    rows_dataset,
)
from mlkit.data.stream_summaries import BottomK, ContentHash, RunningMoments, mix64
from mlkit.data.streamed_tabular import streamed_plan
from mlkit.data.tabular import TabularOptions, class_ids, label_nulls_error
from mlkit.data.training import TrainingData, TrainingSplit
from mlkit.data.validation import FeatureTypeError, LabelValuesError
from mlkit.data.warehouse import BATCH_ROWS, Relation, Warehouse
from mlkit.errors import DataError

SAMPLE_ROWS = 10_000  # rows per split kept for the reference models and the histograms
SHUFFLE_BUFFER = 10_000  # rows
CONTENT_HASH = "streamed: SHA-256 of per-split sums of per-row 64-bit hashes (order-independent)"
_MAX_TARGET_VALUES = 10_000  # a regression target's distribution is dropped beyond this


@dataclass
class StreamedSplit(TrainingSplit):
    """One split of a streamed source: what the search needs without its rows in memory.

    ``features`` and ``labels`` are two *summary rows* per feature, ``mean - std`` and
    ``mean + std`` of each value over the split's rows: their shape, mean and (population)
    standard deviation are the split's, which is all the search reads from training arrays
    (normalisation constants, a regression target's scaling, the export's input shapes).
    ``rows`` is the split's real size; ``sample`` a bounded sample of its rows; ``batches()``
    streams its rows again from the warehouse.
    """

    name: str
    rows: int
    features: dict[str, np.ndarray]
    labels: np.ndarray
    mean: dict[str, np.ndarray]
    std: dict[str, np.ndarray]
    sample: Arrays
    stream: StreamSpec
    warehouse: Warehouse
    relation: Relation
    batch_rows: int = BATCH_ROWS
    shuffle_buffer: int = SHUFFLE_BUFFER  # rows tf.data keeps to shuffle the training stream
    position: int = 0  # where :meth:`cycle` continues

    def __len__(self) -> int:
        return self.rows

    def reference_rows(self) -> Arrays:
        return self.sample

    def shard(self, index: int, count: int) -> None:
        """From now on, stream only shard ``index`` of ``count`` of this split's rows (a hash
        range of the key): the tasks of a training cluster each take one, so that together
        they read every row of the split once per pass and none twice."""
        if not 0 <= index < count:
            raise DataError(f"shard {index} of {count}: expected 0..{count - 1}")
        self.stream = dataclasses.replace(self.stream, shard=index, shards=count)
        self.position = 0

    def dataset(self, *, batch_size: int, training: bool, seed: int = 0) -> Any:
        """Each pass streams the split from the warehouse again (AdaNet makes an input function
        once per iteration), one record batch decoded at a time and at most ``shuffle_buffer``
        rows kept to shuffle. Training cycles through the split without end, each dataset
        continuing where the previous one stopped (less the rows still in its shuffle buffer), so
        AdaNet's iterations go through the whole split rather than each starting over."""
        data = rows_dataset(self.cycle if training else self.batches, self.stream)
        if training:
            buffer = max(1, min(self.shuffle_buffer, self.rows))
            data = data.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
        return data.batch(batch_size).prefetch(2)

    def batches(self, start: int = 0):
        """``(features, labels)`` numpy batches of this split, streamed (one batch in memory),
        from its ``start``-th row (in the order the warehouse streams)."""
        return iter_split(self.warehouse, self.relation, self.stream, self.batch_rows, start)

    def cycle(self):
        """Batches of this split without end: each pass over the split streams it again, and a
        new call continues where the previous one stopped (so training that restarts its input
        every iteration, as AdaNet does, still goes through the whole split)."""
        while True:
            yielded = 0
            for features, labels in self.batches(self.position):
                self.position += len(labels)
                yielded += len(labels)
                yield features, labels
            if yielded == 0 and self.position == 0:
                return  # an empty split
            self.position = 0


@dataclass
class StreamedData(TrainingData):
    """What :func:`mlkit.data.loader.load_splits` returns, for a source that is streamed."""

    train: StreamedSplit
    eval: StreamedSplit
    test: StreamedSplit
    label_values: list[int]
    n_classes: int
    feature_specs: list[FeatureSpec]
    fingerprint: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    columns: ColumnPlan | None = None  # a tabular source's preprocessing (fitted in SQL)
    classes: list[str] | None = None  # a text or boolean label's classes
    _closer: Any = None

    def sample_note(self) -> dict[str, Any] | None:
        return {
            "train_rows": len(self.train.sample),
            "test_rows": len(self.test.sample),
            "of_train_rows": self.train.rows,
            "of_test_rows": self.test.rows,
            "how": "the rows with the smallest hash of their key in each split (streamed source)",
        }

    def close(self) -> None:
        """Release what the source holds open (a query's scratch table on BigQuery)."""
        if self._closer is not None:
            self._closer()


def _summary_rows(mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return np.stack([mean - std, mean + std])


def scan_splits(
    warehouse: Warehouse,
    source: Relation,
    *,
    label: str,
    features: list[FeatureSpec] | None,
    key: str,
    eval_fraction: float,
    test_fraction: float,
    extra_columns: tuple[str, ...] | list[str] = (),
    regression: bool = False,
    sample_rows: int = SAMPLE_ROWS,
    batch_rows: int = BATCH_ROWS,
    shuffle_buffer: int = SHUFFLE_BUFFER,
    exclude: tuple[str, ...] | list[str] = (),
    tabular: TabularOptions | None = None,
) -> StreamedData:
    """Validate, split, summarise and fingerprint ``source`` in one streaming pass.

    A tabular source (categories, times, NULLs, a text or boolean label) first has its
    preprocessing fitted on the training split inside the warehouse
    (:func:`mlkit.data.streamed_tabular.streamed_plan`); the pass then applies it to each batch.

    A query is run once into something that can be read again with the same rows (the
    warehouse's :meth:`~Warehouse.materialize`); it stays until :meth:`StreamedData.close`.
    """
    check_fractions(eval_fraction, test_fraction)
    where = describe_source(source)
    warehouse = warehouse.for_streaming()
    stack = contextlib.ExitStack()
    try:
        relation = stack.enter_context(warehouse.materialize(source))
        data = _scan(
            warehouse,
            source,
            relation,
            where,
            label=label,
            features=features,
            key=key,
            eval_fraction=eval_fraction,
            test_fraction=test_fraction,
            extra_columns=tuple(extra_columns),
            regression=regression,
            sample_rows=sample_rows,
            batch_rows=batch_rows,
            exclude=tuple(exclude),
            tabular=tabular or TabularOptions(),
        )
        for split in (data.train, data.eval, data.test):
            split.shuffle_buffer = shuffle_buffer
    except BaseException:
        stack.close()
        raise
    data._closer = weakref.finalize(data, stack.close)
    return data


def _check_types(
    schema: pa.Schema, where: str, key: str, label: str, regression: bool, classes: bool = False
) -> None:
    key_type = schema.field(key).type
    if not (pa.types.is_integer(key_type) or pa.types.is_string(key_type)):
        raise FeatureTypeError(
            f"key column '{key}' in {where} is {key_type}; expected integers or strings",
            hint="use a unique integer or string id column as the key",
        )
    label_type = schema.field(label).type
    number = pa.types.is_integer(label_type) or pa.types.is_floating(label_type)
    if regression and not (number or pa.types.is_decimal(label_type)):
        raise LabelValuesError(
            f"label column '{label}' in {where} is {label_type}; regression targets must be "
            "numbers",
            hint="cast the target to FLOAT64 in the source or a query",
        )
    if not regression and not classes and not pa.types.is_integer(label_type):
        raise LabelValuesError(
            f"label column '{label}' in {where} is {label_type}; "
            "classification labels must be integers 0..K-1",
            hint="map the classes to 0..K-1 in the source or a query",
        )


class _Pass:
    """What the streaming pass accumulates, one record batch at a time."""

    def __init__(
        self,
        names: list[str],
        shapes: dict[str, tuple[int, ...]],
        where: str,
        key: str,
        label: str,
        fractions: tuple[float, float],
        regression: bool,
        sample_rows: int,
        plan: ColumnPlan | None = None,
        source: Relation = "",
    ) -> None:
        self.plan, self.source = plan, source
        self.names, self.shapes, self.where = names, shapes, where
        self.key, self.label, self.fractions, self.regression = key, label, fractions, regression
        self.label_dtype = np.float64 if regression else np.int64
        self.rows = [0] * len(SPLIT_NAMES)
        self.moments = {n: Moments() for n in names}  # all rows: the run's statistics
        self.train = {n: RunningMoments() for n in names}  # train rows: normalisation
        self.target = RunningMoments()  # a regression target's, train rows
        self.samples = [BottomK(sample_rows) for _ in SPLIT_NAMES]
        self.distribution: dict[Any, int] | None = {}
        self.content = ContentHash(names)
        self.row = 0

    def _labels(self, column: pa.Array) -> np.ndarray:
        if self.plan is not None and column.null_count:
            raise label_nulls_error(column.null_count, self.label, self.where, self.source)
        _check_nulls(column, f"label column '{self.label}'", self.where)
        if self.plan is not None and self.plan.classes is not None and not self.regression:
            return class_ids(column, self.plan.classes, self.label, self.where)
        if self.regression:
            column = column.cast(pa.float64())
        return column.to_numpy(zero_copy_only=False).astype(self.label_dtype)

    def add(self, batch: pa.RecordBatch) -> None:
        ROWS_READ.add(batch.num_rows)
        keys_column = batch.column(self.key)
        _check_nulls(keys_column, f"key column '{self.key}'", self.where)
        keys = keys_column.to_numpy(zero_copy_only=False)
        codes = assign_splits(keys, *self.fractions)
        key_hashes = fingerprints(keys)
        labels = self._labels(batch.column(self.label))
        if self.regression and not np.isfinite(labels).all():
            raise LabelValuesError(
                f"label column '{self.label}' in {self.where} has NaN or infinite values"
            )
        if self.plan is not None:
            decoded = model_features(batch, self.plan, self.where)
            for name, values in decoded.items():
                if values.size:
                    self.moments[name].update(values)
        else:
            decoded = self._decode(batch)
        self.content.update(codes, key_hashes, labels, decoded)
        self._split(batch, codes, key_hashes, labels, decoded)

    def _decode(self, batch: pa.RecordBatch) -> dict[str, np.ndarray]:
        decoded = {}
        for name in self.names:
            column = batch.column(name)
            if name not in self.shapes:
                self.shapes[name] = _infer_shape(column, name, self.where)
            values = decode_column(column, name, self.shapes[name], self.where, first_row=self.row)
            decoded[name] = values
            if values.size:
                self.moments[name].update(values)
            if values.ndim > 1:
                self.moments[name].per_row = int(np.prod(values.shape[1:]))
        return decoded

    def _split(
        self,
        batch: pa.RecordBatch,
        codes: np.ndarray,
        key_hashes: np.ndarray,
        labels: np.ndarray,
        decoded: dict[str, np.ndarray],
    ) -> None:
        priority = mix64(key_hashes.view(np.uint64) ^ np.uint64(0x2545F4914F6CDD1D))
        for code in range(len(SPLIT_NAMES)):
            members = np.flatnonzero(codes == code)
            self.rows[code] += members.size
            if not members.size:
                continue
            part = {name: values[members] for name, values in decoded.items()}
            if code == 0:
                for name in self.names:
                    self.train[name].update(part[name])
                if self.regression:
                    self.target.update(labels[members])
            self.samples[code].offer(priority[members], part, labels[members])
        self._count_labels(labels)
        self.row += batch.num_rows

    def _count_labels(self, labels: np.ndarray) -> None:
        if self.distribution is None:
            return
        values, counts = np.unique(labels, return_counts=True)
        for value, count in zip(values.tolist(), counts.tolist(), strict=True):
            self.distribution[value] = self.distribution.get(value, 0) + count
        if self.regression and len(self.distribution) > _MAX_TARGET_VALUES:
            self.distribution = None

    def label_values(self) -> list[int]:
        """Checks what only the whole pass can tell; the classes 0..K-1 (none for regression)."""
        total = sum(self.rows)
        if total == 0:
            raise DataError(f"{self.where} has no rows")
        eval_fraction, test_fraction = self.fractions
        wanted = {"train": 1.0, "eval": eval_fraction, "test": test_fraction}
        for code, split in enumerate(SPLIT_NAMES):
            if self.rows[code] == 0 and wanted[split] > 0:
                raise DataError(
                    f"split '{split}' of {self.where} is empty ({total} rows, "
                    f"eval_fraction {eval_fraction}, test_fraction {test_fraction}); "
                    "use more rows or a larger fraction"
                )
        if self.regression:
            return []
        found = np.asarray(sorted(self.distribution or {}))
        if found.size < 2 or found[0] != 0 or found[-1] != found.size - 1:
            shown = ", ".join(str(v) for v in found[:10]) + (", ..." if found.size > 10 else "")
            raise LabelValuesError(
                f"label column '{self.label}' in {self.where} has values {shown}; "
                "classification labels must be integers 0..K-1 with K >= 2",
                hint="map the classes to 0..K-1 in the source or a query",
            )
        return found.tolist()


def _scan(
    warehouse: Warehouse,
    source: Relation,
    relation: Relation,
    where: str,
    *,
    label: str,
    features: list[FeatureSpec] | None,
    key: str,
    eval_fraction: float,
    test_fraction: float,
    extra_columns: tuple[str, ...],
    regression: bool,
    sample_rows: int,
    batch_rows: int,
    exclude: tuple[str, ...],
    tabular: TabularOptions,
) -> StreamedData:
    schema = warehouse.relation_schema(relation)
    fractions = (eval_fraction, test_fraction)
    plan = streamed_plan(
        warehouse, relation, source, schema, where, label=label, key=key, features=features,
        extra_columns=extra_columns, exclude=exclude, regression=regression,
        fractions=fractions, options=tabular,
    )  # fmt: skip
    if plan is None:
        specs = resolve_features(schema, where, label, key, features, extra_columns)
        names = [s if isinstance(s, str) else s.name for s in specs]
        shapes = {s.name: s.shape for s in specs if isinstance(s, FeatureSpec)}
        raw = names
    else:
        feature_specs = plan_features(plan)
        names = [f.name for f in feature_specs]
        shapes = {f.name: f.shape for f in feature_specs}
        raw = [c.name for c in plan.columns]
    _check_types(schema, where, key, label, regression, classes=plan is not None)
    scan = _Pass(names, shapes, where, key, label, fractions, regression, sample_rows, plan, source)
    columns = list(dict.fromkeys([key, label, *raw]))
    for batch in slices(warehouse.iter_batches(relation, columns, batch_rows), batch_rows):
        if batch.num_rows:
            scan.add(batch)
    label_values = scan.label_values()

    if plan is None:
        feature_specs = [
            FeatureSpec(name, shapes[name], storage_form(schema.field(name).type)) for name in names
        ]
    sampled = [s.arrays(names, shapes, scan.label_dtype) for s in scan.samples]
    stream = StreamSpec(
        label,
        feature_specs,
        key,
        "train",
        eval_fraction,
        test_fraction,
        None if regression else len(label_values),
        regression=regression,
        plan=plan,
    )
    splits = []
    for code, split in enumerate(SPLIT_NAMES):
        train = code == 0
        means = {n: scan.train[n].mean for n in names} if train else {}
        stds = {n: scan.train[n].std for n in names} if train else {}
        labels = np.zeros(0, scan.label_dtype)
        if train and regression:  # what the search scales the target with
            labels = _summary_rows(scan.target.mean, scan.target.std)
        splits.append(
            StreamedSplit(
                name=split,
                rows=scan.rows[code],
                features={n: _summary_rows(means[n], stds[n]) for n in means},
                labels=labels,
                mean=means,
                std=stds,
                sample=sampled[code],
                stream=dataclasses.replace(stream, split=split),
                warehouse=warehouse,
                relation=relation,
                batch_rows=batch_rows,
            )
        )
    loaded = pa.schema([schema.field(c) for c in dict.fromkeys([*columns, *extra_columns])])
    fingerprint = {
        "source": warehouse.describe(),
        **_source_fields(warehouse, source),
        "rows": sum(scan.rows),
        "schema": schema_string(loaded),
        "key": key,
        "label": label,
        "features": [{"name": s.name, "shape": list(s.shape)} for s in feature_specs],
        **({"kinds": plan.kinds(), "columns": plan.to_json()} if plan is not None else {}),
        "storage_forms": (
            {n: storage_form(schema.field(n).type) for n in names}
            if plan is None
            else {n: "scalar" for n in names}
        ),
        "extra_columns": list(extra_columns),
        "content_sha256": scan.content.hexdigest(scan.rows),
        "content_hash": CONTENT_HASH,
        "streamed": True,
        "split_method": SPLIT_METHOD,
        "eval_fraction": eval_fraction,
        "test_fraction": test_fraction,
        "split_rows": dict(zip(SPLIT_NAMES, scan.rows, strict=True)),
    }
    return StreamedData(
        train=splits[0],
        eval=splits[1],
        test=splits[2],
        label_values=label_values,
        n_classes=len(label_values),
        feature_specs=feature_specs,
        fingerprint=fingerprint,
        stats=_stats(names, scan.moments, sampled, sum(scan.rows), label, scan.distribution),
        columns=plan,
        classes=None if plan is None or plan.classes is None else list(plan.classes),
    )


def plan_features(plan: ColumnPlan) -> list[FeatureSpec]:
    """The model's features of a tabular plan (category ids marked ``categorical``)."""
    out = []
    for column in plan.columns:
        if column.kind == "array":
            out.append(FeatureSpec(column.name, column.shape, "array"))
            continue
        for name in column.features():
            kind = "categorical" if column.kind == "categorical" else None
            out.append(FeatureSpec(name, (), "scalar", kind=kind))
    return out


def _stats(
    names: list[str],
    moments: dict[str, Moments],
    samples: list[Arrays],
    total: int,
    label: str,
    distribution: dict[Any, int] | None,
) -> dict[str, Any]:
    """The statistics :func:`mlkit.data.stats.array_stats` gives, histograms from the samples."""
    out: dict[str, Any] = {"rows": int(total), "features": {}}
    for name in names:
        summary = moments[name].result()
        edges = histogram_edges(summary["min"], summary["max"])
        counts = np.zeros(BINS, dtype=np.int64)
        sampled = 0
        for part in samples:
            values = part.features[name]
            if len(values):
                counts += histogram(values, edges)
            sampled += len(values)
        summary["histogram"] = {"edges": edges, "counts": counts.tolist(), "rows": sampled}
        out["features"][name] = summary
    label_stats: dict[str, Any] = {"name": label, "missing": 0}
    if distribution is not None:
        label_stats["distribution"] = {str(v): int(c) for v, c in sorted(distribution.items())}
    out["label"] = label_stats
    return out
