"""A table or query → validated float32 feature arrays and integer labels, split three ways.

The rows are read in record batches and each batch is decoded straight into preallocated float32
arrays (no per-row Python, no second copy of the table in Arrow), so the peak memory is about the
decoded arrays twice (once whole, once split) plus one batch.

Rows are then put in key order (then label), so the arrays and the fingerprint do not depend on
the order a warehouse returns rows in, nor on which warehouse it is.
"""

from __future__ import annotations

import difflib
import hashlib
import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlkit.data.columns import ColumnPlan
from mlkit.data.decode import decode_rows, is_list, is_number, is_text, storage_form
from mlkit.data.fingerprint import _hash_array, schema_string
from mlkit.data.kinds import Declared, column_kinds, is_tabular, looks_like_pixels
from mlkit.data.split import SPLIT_NAMES, assign_splits, check_fractions
from mlkit.data.stats import array_stats, as_uint8
from mlkit.data.tabular import TabularOptions, load_tabular, read_all
from mlkit.data.training import TrainingData, TrainingSplit
from mlkit.data.validation import (
    FeatureNullsError,
    FeatureShapeError,
    FeatureTypeError,
    LabelValuesError,
    MissingColumnError,
    NullValuesError,
)
from mlkit.data.warehouse import BATCH_ROWS, Query, Relation, Warehouse
from mlkit.errors import DataError

SPLIT_METHOD = "ABS(MOD(FARM_FINGERPRINT(CAST(key AS STRING)), 1000))"


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    shape: tuple[int, ...] = ()
    # How the source stores it: 'scalar', 'array', 'bytes' or 'string' (decode.storage_form);
    # set by the loader, None where unknown (given in a spec).
    form: str | None = field(default=None, compare=False)
    # The column's kind when the experiment declares one (mlkit.data.kinds), e.g. "categorical".
    kind: str | None = None


@dataclass
class Arrays(TrainingSplit):
    """One split's rows in memory, in key order: features, labels, extra columns and row keys."""

    features: dict[str, np.ndarray]
    labels: np.ndarray
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    keys: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def reference_rows(self) -> Arrays:
        return self

    def dataset(self, *, batch_size: int, training: bool, seed: int = 0) -> Any:
        import tensorflow as tf

        data = tf.data.Dataset.from_tensor_slices(
            # category ids (int32, mlkit.data.columns) as int64, every other value as float32
            (
                {
                    k: v.astype(np.int64 if v.dtype.kind in "iu" and v.ndim == 1 else np.float32)
                    for k, v in self.features.items()
                },
                self.labels,
            )
        )
        if training:
            data = data.shuffle(len(self.labels), seed=seed, reshuffle_each_iteration=True)
            data = data.repeat()
        return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)


@dataclass
class SplitData(TrainingData):
    """A source loaded into memory, split three ways."""

    train: Arrays
    eval: Arrays
    test: Arrays
    label_values: list[int]
    n_classes: int
    feature_specs: list[FeatureSpec]
    fingerprint: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    columns: ColumnPlan | None = None
    classes: list[str] | None = None

    def sample_note(self) -> dict[str, Any] | None:
        return None


def describe_source(source: Relation) -> str:
    """How messages name a source: ``table 'digits'`` or ``the query``."""
    return f"table '{source}'" if isinstance(source, str) else "the query"


def _columns_note(schema: pa.Schema) -> str:
    return f"(columns: {', '.join(schema.names)})"


def _check_type(schema: pa.Schema, where: str, name: str) -> pa.DataType:
    dtype = schema.field(name).type
    if storage_form(dtype) is None:
        raise FeatureTypeError(
            f"feature column '{name}' in {where} is {dtype}; features must be numbers, lists "
            "of numbers, BYTES or comma-separated STRING",
            hint="leave it out of data.features, or cast it in a query",
        )
    return dtype


def _needs_shape(dtype: pa.DataType) -> bool:
    return storage_form(dtype) in ("array", "bytes", "string")


def resolve_features(
    schema: pa.Schema,
    where: str,
    label: str,
    key: str,
    features: list[FeatureSpec] | None,
    extra_columns: tuple[str, ...] = (),
) -> list[FeatureSpec | str]:
    """Checked specs; a bare name where the shape of a vector column must be read from the data."""
    for role, name in [("label", label), ("key", key), *(("extra", c) for c in extra_columns)]:
        if name not in schema.names:
            raise MissingColumnError(
                f"{role} column '{name}' not found in {where} {_columns_note(schema)}",
                hint=f"name the {role} column in the experiment's data section",
            )
    if features is None:
        names = [n for n in schema.names if n not in (label, key, *extra_columns)]
        if not names:
            raise DataError(f"{where} has no columns besides label '{label}' and key '{key}'")
        resolved: list[FeatureSpec | str] = []
        for name in names:
            dtype = _check_type(schema, where, name)
            resolved.append(name if _needs_shape(dtype) else FeatureSpec(name, ()))
        return resolved
    if not features:
        raise DataError(f"no features given for {where}")
    seen: set[str] = set()
    for spec in features:
        if spec.name not in schema.names:
            close = difflib.get_close_matches(spec.name, schema.names, n=3)
            maybe = (
                f"did you mean {', '.join(repr(c) for c in close)}?"
                if close
                else _columns_note(schema)
            )
            raise MissingColumnError(
                f"feature column '{spec.name}' not found in {where}; {maybe}",
                hint="fix the name in data.features",
            )
        if spec.name == label:
            raise DataError(f"feature '{spec.name}' is the label column of {where}")
        if spec.name in seen:
            raise DataError(f"feature '{spec.name}' is listed twice for {where}")
        seen.add(spec.name)
        if not all(isinstance(d, int) and d > 0 for d in spec.shape):
            raise FeatureShapeError(
                f"feature '{spec.name}' has invalid shape {spec.shape}: expected positive sizes"
            )
        dtype = _check_type(schema, where, spec.name)
        if _needs_shape(dtype) and not spec.shape:
            raise FeatureShapeError(
                f"feature column '{spec.name}' in {where} holds {_form_words(dtype)}; give its "
                "shape, e.g. (64,)",
                hint=f'features = [{{ name = "{spec.name}", shape = [64] }}]',
            )
        if not _needs_shape(dtype) and spec.shape:
            raise FeatureShapeError(
                f"feature column '{spec.name}' in {where} holds single numbers, "
                f"not shape {spec.shape}",
                hint="leave the shape out for a scalar feature",
            )
    return list(features)


def _form_words(dtype: pa.DataType) -> str:
    form = storage_form(dtype)  # a vector's form: array, bytes or string
    words = {"array": "lists", "bytes": "BYTES", "string": "STRING vectors"}
    return words[form] if form is not None else str(dtype)


def _infer_shape(column: pa.Array, name: str, where: str) -> tuple[int, ...]:
    """A vector column's width from its first non-null row."""
    values = column.drop_null()
    if len(values) == 0:
        raise NullValuesError(
            f"feature column '{name}' in {where} has {column.null_count} null values",
            hint="fill or filter them in the source",
        )
    first = values[0].as_py()
    width = first.count(",") + 1 if isinstance(first, str) else len(first)
    return (width,)


def _check_nulls(column: pa.ChunkedArray | pa.Array, what: str, where: str) -> None:
    if column.null_count:
        raise NullValuesError(
            f"{what} in {where} has {column.null_count} null values",
            hint="fill or filter them in the source (e.g. a query with WHERE ... IS NOT NULL)",
        )


def _labels(column: pa.ChunkedArray, where: str, label: str) -> tuple[np.ndarray, list[int]]:
    if not pa.types.is_integer(column.type):
        raise LabelValuesError(
            f"label column '{label}' in {where} is {column.type}; "
            "classification labels must be integers 0..K-1",
            hint="map the classes to 0..K-1 in the source or a query",
        )
    labels = column.to_numpy().astype(np.int64)
    values = np.unique(labels)
    if values.size < 2 or values[0] != 0 or values[-1] != values.size - 1:
        shown = ", ".join(str(v) for v in values[:10]) + (", ..." if values.size > 10 else "")
        raise LabelValuesError(
            f"label column '{label}' in {where} has values {shown}; "
            "classification labels must be integers 0..K-1 with K >= 2",
            hint="map the classes to 0..K-1 in the source or a query",
        )
    return labels, values.tolist()


def _number_labels(column: pa.ChunkedArray, where: str, label: str) -> tuple[np.ndarray, list[int]]:
    """Labels to score a model with: integers as int64 (any classes), else finite float64."""
    if not pa.types.is_integer(column.type):
        return _regression_labels(column, where, label, "labels must be numbers"), []
    labels = column.to_numpy().astype(np.int64)
    return labels, np.unique(labels).tolist()


def _regression_labels(
    column: pa.ChunkedArray,
    where: str,
    label: str,
    expected: str = "regression targets must be numbers",
) -> np.ndarray:
    dtype = column.type
    if not (pa.types.is_integer(dtype) or pa.types.is_floating(dtype)):
        raise LabelValuesError(
            f"label column '{label}' in {where} is {dtype}; {expected}",
            hint="cast the target to FLOAT64 in the source or a query",
        )
    labels = column.to_numpy().astype(np.float64)
    if not np.isfinite(labels).all():
        raise LabelValuesError(f"label column '{label}' in {where} has NaN or infinite values")
    return labels


def _source_fields(warehouse: Warehouse, source: Relation) -> dict[str, Any]:
    if isinstance(source, Query):
        return {"table": None, "query": str(source), "params": dict(source.params)}
    return {"table": source, "query": None, "params": {}}


# What the labels must be: class ids 0..K-1 (training a classifier), real-valued targets
# (regression), or any numbers (scoring a trained model on rows that may hold only some classes).
LabelRule = Literal["classes", "regression", "numbers"]


@dataclass
class _Read:
    """What one read of a relation gives: the row plan, the split arrays and how each feature is
    stored."""

    plan: _Plan
    parts: dict[str, Arrays]
    shapes: dict[str, tuple[int, ...]]
    integral: set[str]
    bytes_: dict[str, list]
    schema: pa.Schema
    names: list[str]
    columns: list[str]


def _read(
    warehouse: Warehouse,
    table: Relation,
    *,
    label: str,
    features: list[FeatureSpec] | None,
    key: str,
    fractions: tuple[float, float] | None,
    extra_columns: tuple[str, ...],
    rule: LabelRule,
    unique_keys: bool = False,
    tabular: _Tabular | None = None,
) -> _Read | SplitData:
    """The one reader of a split: validate ``table`` against the columns asked for, put every
    row in its split (``fractions``: eval and test fractions; None: every row in ``test``) in key
    order, and decode the features. ``unique_keys`` refuses repeated keys."""
    where = describe_source(table)
    with warehouse.materialize(table) as relation:
        with warehouse.reading():  # one connection for the schema and the tabular read
            schema = warehouse.relation_schema(relation)
            if tabular is not None:
                found = tabular.route(warehouse, relation, schema, where)
                if found is not None:
                    return found
        specs = resolve_features(schema, where, label, key, features, extra_columns)
        names = [s if isinstance(s, str) else s.name for s in specs]
        columns = list(dict.fromkeys([key, label, *names, *extra_columns]))
        key_type = schema.field(key).type
        if not (pa.types.is_integer(key_type) or pa.types.is_string(key_type)):
            raise FeatureTypeError(
                f"key column '{key}' in {where} is {key_type}; expected integers or strings",
                hint="use a unique integer or string id column as the key",
            )
        if all(storage_form(schema.field(n).type) == "bytes" for n in names):
            # BYTES only: one pass, the values kept as uint8 in read order (a quarter of the
            # decoded arrays) until the plan says where each row goes.
            plan, parts, shapes, bytes_ = _one_pass(
                warehouse, relation, schema, where, key, label, specs, extra_columns,
                (fractions, rule),
            )  # fmt: skip
            integral = set(names)
        else:
            plan = _plan(warehouse, relation, schema, where, key, label, fractions, rule)
            parts, shapes, integral, bytes_ = _fill(
                warehouse, relation, where, plan, key, specs, extra_columns
            )
    if unique_keys and not plan.unique:
        raise DataError(
            f"key column '{key}' in {where} has repeated values; evaluation needs one row per key",
            hint="use a unique key column",
        )
    return _Read(plan, parts, shapes, integral, bytes_, schema, names, columns)


def read_rows(
    warehouse: Warehouse,
    table: Relation,
    *,
    label: str,
    features: list[FeatureSpec],
    key: str,
    split: tuple[float, float] | None,
    extra_columns: tuple[str, ...] = (),
    regression: bool = False,
) -> tuple[Arrays, pa.Schema]:
    """The test split of ``table`` (``split``: its eval and test fractions) or, with ``split``
    None, every row: read, validated and decoded exactly as :func:`load_splits` reads it, with the
    row keys and ``extra_columns`` alongside, for scoring trained models. Labels are any numbers
    (a regression model's targets as float64); keys must be unique. Returns the rows and the
    schema of the columns read."""
    if split is not None:
        check_fractions(*split)
    read = _read(
        warehouse, table, label=label, features=features, key=key, fractions=split,
        extra_columns=tuple(extra_columns), rule="regression" if regression else "numbers",
        unique_keys=True,
    )  # fmt: skip
    assert isinstance(read, _Read)
    rows = read.parts["test"]
    if len(rows) == 0:
        raise DataError(f"the test split of {describe_source(table)} is empty")
    return rows, pa.schema([read.schema.field(c) for c in read.columns])


def load_splits(
    warehouse: Warehouse,
    table: Relation,
    *,
    label: str,
    features: list[FeatureSpec] | None,
    key: str,
    eval_fraction: float,
    test_fraction: float,
    extra_columns: tuple[str, ...] | list[str] = (),
    with_stats: bool = True,
    regression: bool = False,
    exclude: tuple[str, ...] | list[str] = (),
    tabular: TabularOptions | None = None,
) -> SplitData:
    """Load a table or query (``table`` is a name or a :class:`Query`) into split arrays.

    ``extra_columns`` come back as-is (numpy, not validated as features) in each split's
    ``Arrays.extras``, aligned with its rows: e.g. a slice column for per-slice evaluation.
    """
    check_fractions(eval_fraction, test_fraction)
    extra_columns = tuple(extra_columns)
    fractions = (eval_fraction, test_fraction)
    route = _Tabular(
        table, label, key, features, extra_columns, tuple(exclude), regression,
        tabular or TabularOptions(), fractions, with_stats,
    )  # fmt: skip
    try:
        read = _read(
            warehouse, table, label=label, features=features, key=key,
            fractions=fractions, extra_columns=extra_columns,
            rule="regression" if regression else "classes", tabular=route,
        )  # fmt: skip
    except FeatureNullsError:  # numbers with NULLs: imputed by the tabular reader
        read = _read(
            warehouse, table, label=label, features=features, key=key,
            fractions=fractions, extra_columns=extra_columns,
            rule="regression" if regression else "classes", tabular=route.forced(),
        )  # fmt: skip
    if isinstance(read, SplitData):
        return read
    plan, parts, shapes, integral, bytes_ = (
        read.plan, read.parts, read.shapes, read.integral, read.bytes_,
    )  # fmt: skip
    schema, names, columns = read.schema, read.names, read.columns
    if features is None:  # what every column was taken as, stored with the run
        kinds = {n: ("image" if storage_form(schema.field(n).type) in ("bytes", "string")
                     else "array" if shapes[n] else "numeric") for n in names}  # fmt: skip
    else:
        kinds = {n: ("array" if shapes[n] else "numeric") if storage_form(schema.field(n).type)
                 in ("scalar", "array") else "image" for n in names}  # fmt: skip

    labels, label_values, sorted_keys, total = (
        plan.labels,
        plan.label_values,
        plan.sorted_keys,
        plan.total,
    )
    order = plan.order
    feature_specs = [
        FeatureSpec(name, shapes[name], storage_form(schema.field(name).type)) for name in names
    ]
    by_feature = {n: [parts[s].features[n] for s in SPLIT_NAMES] for n in names}
    # Pixel-like features (integers 0..255) once more as uint8: hashed and summarised from those.
    small = {
        n: parts_
        for n in names
        if (parts_ := bytes_.get(n) or as_uint8(by_feature[n], n in integral)) is not None
    }
    # The hash runs in a thread while the statistics are computed: hashlib and numpy both
    # release the GIL on large buffers, so the two overlap where a second core is free.
    with ThreadPoolExecutor(max_workers=1) as pool:
        hashing = pool.submit(_content_sha256, sorted_keys, labels[order], parts, names, small)
        stats = array_stats(by_feature, labels, label, small) if with_stats else {}
        content = hashing.result()
    del small, bytes_
    loaded = pa.schema([schema.field(c) for c in columns])
    fingerprint = {
        "source": warehouse.describe(),
        **_source_fields(warehouse, table),
        "rows": total,
        "schema": schema_string(loaded),
        "key": key,
        "label": label,
        "features": [{"name": s.name, "shape": list(s.shape)} for s in feature_specs],
        "kinds": kinds,
        "storage_forms": {n: storage_form(schema.field(n).type) for n in names},
        "extra_columns": list(extra_columns),
        "content_sha256": content,
        "split_method": SPLIT_METHOD,
        "eval_fraction": eval_fraction,
        "test_fraction": test_fraction,
        "split_rows": {split: len(parts[split]) for split in SPLIT_NAMES},
    }
    return SplitData(
        train=parts["train"],
        eval=parts["eval"],
        test=parts["test"],
        label_values=label_values,
        n_classes=len(label_values),
        feature_specs=feature_specs,
        fingerprint=fingerprint,
        stats=stats,
    )


@dataclass(frozen=True)
class _Tabular:
    """When and how a source goes to the tabular reader (``mlkit.data.tabular``)."""

    source: Relation
    label: str
    key: str
    features: list[FeatureSpec] | None
    extra_columns: tuple[str, ...]
    exclude: tuple[str, ...]
    regression: bool
    options: TabularOptions
    fractions: tuple[float, float]
    with_stats: bool
    force: bool = False

    def forced(self) -> _Tabular:
        return replace(self, force=True)

    def route(
        self, warehouse: Warehouse, relation: Relation, schema: pa.Schema, where: str
    ) -> SplitData | None:
        """The source read by the tabular reader, or None when the pixel reader reads it (as
        before: numbers without NULLs, lists, BYTES, comma-separated STRING pixels)."""
        names_in = set(schema.names)
        if self.label not in names_in or self.key not in names_in:
            return None
        declared: dict[str, Declared] = {}
        if self.features is None:
            skip = {self.label, self.key, *self.extra_columns, *self.exclude}
            for name in self.exclude:
                if name not in names_in:
                    raise MissingColumnError(
                        f"excluded column '{name}' not found in {where} {_columns_note(schema)}",
                        hint="fix the name in data.exclude",
                    )
            names = [n for n in schema.names if n not in skip]
        else:
            names = [f.name for f in self.features]
            if any(n not in names_in for n in names):
                return None  # the pixel reader names the missing column
            declared = {f.name: Declared(f.name, f.kind, f.shape) for f in self.features}
        if not names:
            return None
        kinds = column_kinds(schema, where, names, declared)
        label_type = schema.field(self.label).type
        text_label = not self.regression and (
            is_text(label_type) or pa.types.is_boolean(label_type)
        )
        # STRING columns of comma-separated numbers are pixels, as before (auto features only)
        text = []
        if self.features is None:
            text = [n for n in names if kinds[n] == "categorical" and is_text(schema.field(n).type)]
        sure = (
            self.force
            or text_label
            or any(k in ("timestamp", "date") for k in kinds.values())
            or any(d.kind for d in declared.values())
        )
        if text and not sure:  # a look at the first rows decides (pixels: the pixel reader)
            for name, value in _first_values(warehouse, relation, text).items():
                if looks_like_pixels(value):
                    kinds[name] = "image"
            text = []
        if not (sure or is_tabular(kinds)):
            return None
        columns = list(dict.fromkeys([self.key, self.label, *names, *self.extra_columns]))
        table = read_all(warehouse, relation, columns)
        for name in text:
            values = table.column(name).drop_null()
            if len(values) and looks_like_pixels(values[0].as_py()):
                kinds[name] = "image"
        images = [n for n, k in kinds.items() if k == "image"]
        if images:
            raise FeatureTypeError(
                f"feature column '{images[0]}' in {where} holds pixels (BYTES or comma-separated "
                "STRING), which cannot be mixed with categorical, time or NULL-holding columns",
                hint="train on the pixels alone, or leave them out with data.exclude",
            )
        shapes = {n: d.shape for n, d in declared.items() if d.shape}
        for name in (n for n, k in kinds.items() if k == "array" and n not in shapes):
            values = table.column(name).drop_null()
            first = values[0].as_py() if len(values) else None
            shapes[name] = (len(first) if isinstance(first, list) else 1,)
        return load_tabular(
            warehouse, relation, self.source, schema, where=where, label=self.label,
            key=self.key, kinds=kinds, shapes=shapes, fractions=self.fractions,
            extra_columns=self.extra_columns, regression=self.regression,
            options=self.options, with_stats=self.with_stats, table=table,
        )  # fmt: skip


def _first_values(warehouse: Warehouse, relation: Relation, names: list[str]) -> dict[str, Any]:
    """The first non-NULL value of each of ``names`` in the first record batch read."""
    if not names:
        return {}
    batches = warehouse.iter_batches(relation, names)
    try:
        batch = next(iter(batches), None)
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()
    out: dict[str, Any] = {}
    if batch is None:
        return out
    for name in names:
        values = batch.column(name).drop_null()
        if len(values):
            out[name] = values[0].as_py()
    return out


@dataclass
class _Plan:
    """Pass one: where every row goes. ``order`` sorts the rows as read into key order;
    ``codes`` is the split of each row in key order, ``dest`` its row within that split."""

    total: int
    key_column: pa.ChunkedArray
    labels: np.ndarray
    label_values: list[int]
    order: np.ndarray
    sorted_keys: pa.Array
    codes: np.ndarray
    dest: np.ndarray
    sizes: list[int]
    unique: bool


def _plan(
    warehouse: Warehouse,
    relation: Relation,
    schema: pa.Schema,
    where: str,
    key: str,
    label: str,
    fractions: tuple[float, float] | None,
    rule: LabelRule,
    read: tuple[list[pa.Array], list[pa.Array]] | None = None,
) -> _Plan:
    """``fractions``: the eval and test fractions (None: every row is in ``test``); ``read``: the
    key and label columns' chunks when the caller has read them already."""
    keys: list[pa.Array] = []
    labels_in: list[pa.Array] = []
    if read is not None:
        keys, labels_in = read
    else:
        for batch in warehouse.iter_batches(relation, list(dict.fromkeys([key, label]))):
            keys.append(batch.column(key))
            labels_in.append(batch.column(label))
    key_column = pa.chunked_array(keys, type=schema.field(key).type)
    total = len(key_column)
    if total == 0:
        raise DataError(f"{where} has no rows")
    _check_nulls(key_column, f"key column '{key}'", where)
    label_column = pa.chunked_array(labels_in, type=schema.field(label).type)
    if label_column.null_count:
        from mlkit.data.tabular import label_nulls_error

        raise label_nulls_error(label_column.null_count, label, where, relation)
    label_values: list[int] = []
    if rule == "regression":  # real-valued targets: no classes
        labels = _regression_labels(label_column, where, label)
    elif rule == "numbers":
        labels, label_values = _number_labels(label_column, where, label)
    else:
        labels, label_values = _labels(label_column, where, label)
    ascending = _strictly_ascending(key_column)  # the usual table: no sort, keys unique
    if ascending:
        order = np.arange(total, dtype=np.int64)
        sorted_keys = key_column.combine_chunks()
    else:
        order = pc.sort_indices(
            pa.table({"k": key_column, "l": labels}),
            sort_keys=[("k", "ascending"), ("l", "ascending")],
        ).to_numpy()
        sorted_keys = key_column.take(order).combine_chunks()
    if fractions is None:
        codes = np.full(total, SPLIT_NAMES.index("test"), dtype=np.int8)
        wanted = {"train": 0.0, "eval": 0.0, "test": 1.0}
    else:
        eval_fraction, test_fraction = fractions
        codes = assign_splits(sorted_keys.to_numpy(zero_copy_only=False), *fractions)
        wanted = {"train": 1.0, "eval": eval_fraction, "test": test_fraction}
    dest = np.empty(total, dtype=np.int64)
    sizes = []
    for code, split in enumerate(SPLIT_NAMES):
        members = codes == code
        size = int(np.count_nonzero(members))
        if size == 0 and wanted[split] > 0 and fractions is not None:
            raise DataError(
                f"split '{split}' of {where} is empty ({total} rows, "
                f"eval_fraction {eval_fraction}, test_fraction {test_fraction}); "
                "use more rows or a larger fraction"
            )
        dest[members] = np.arange(size)
        sizes.append(size)
    unique = ascending or pc.count_distinct(key_column).as_py() == total
    return _Plan(
        total, key_column, labels, label_values, order, sorted_keys, codes, dest, sizes, unique
    )


def _strictly_ascending(keys: pa.ChunkedArray) -> bool:
    """Integer keys that come back strictly ascending (so sorted and unique)."""
    if not pa.types.is_integer(keys.type) or len(keys) < 2:
        return False
    values = keys.combine_chunks().to_numpy(zero_copy_only=False)
    return bool((values[1:] > values[:-1]).all())


def _fill(
    warehouse: Warehouse,
    relation: Relation,
    where: str,
    plan: _Plan,
    key: str,
    specs: list[FeatureSpec | str],
    extra_columns: tuple[str, ...],
) -> tuple[dict[str, Arrays], dict[str, tuple[int, ...]], set[str], dict[str, list]]:
    """Pass two: decode each record batch and put its rows straight into their split, in key
    order (no whole-table intermediate). Rows returned in pass one's order (the usual case) are
    placed by position; otherwise, with unique keys, by key; with duplicate keys a different
    order is an error. Each value is copied once: from the Arrow buffer (or the STRING parser's
    integers) into its split's float32 array. Also returns the features decoded from integers,
    and BYTES features' values as uint8 too (split by split; gathered once for both)."""
    names = [s if isinstance(s, str) else s.name for s in specs]
    integral = set(names)
    shapes = {s.name: s.shape for s in specs if isinstance(s, FeatureSpec)}
    arrays: list[dict[str, np.ndarray]] = [{} for _ in SPLIT_NAMES]
    small: list[dict[str, np.ndarray]] = [{} for _ in SPLIT_NAMES]
    extras_in: dict[str, list[pa.Array]] = {c: [] for c in extra_columns}
    positions: list[np.ndarray] = []
    inverse = np.empty(plan.total, dtype=np.int64)
    inverse[plan.order] = np.arange(plan.total)
    row = 0
    columns = list(dict.fromkeys([key, *names, *extra_columns]))
    for batch in slices(warehouse.iter_batches(relation, columns)):
        n = batch.num_rows
        if row + n > plan.total:
            raise DataError(f"{where} grew while it was being read; load again")
        pos = _positions(batch.column(key), plan, inverse, row, where)
        positions.append(pos)
        codes, dest = plan.codes[pos], plan.dest[pos]
        members = [np.flatnonzero(codes == code) for code in range(len(SPLIT_NAMES))]
        for name in names:
            column = batch.column(name)
            if name not in shapes:
                shapes[name] = _infer_shape(column, name, where)
            if name not in arrays[0]:
                for code, size in enumerate(plan.sizes):
                    arrays[code][name] = np.empty((size, *shapes[name]), dtype=np.float32)
            values = decode_rows(column, name, shapes[name], where, row)
            if values.dtype.kind not in "iub":
                integral.discard(name)
            if row == 0 and values.dtype == np.uint8:
                for code, size in enumerate(plan.sizes):
                    small[code][name] = np.empty((size, values.shape[1]), dtype=np.uint8)
            for code, index in enumerate(members):
                if index.size:
                    target = arrays[code][name]
                    target = target.reshape(len(target), -1)
                    _place(target, dest[index], values, index, small[code].get(name))
        for c in extra_columns:  # copied: a slice would keep the whole message alive
            extras_in[c].append(pa.concat_arrays([batch.column(c)]))
        row += n
        del batch, column, values  # nothing of this message held while the next one arrives
    if row != plan.total:
        raise DataError(f"{where} changed while it was being read; load again")

    sorted_labels = plan.labels[plan.order]
    all_pos = np.concatenate(positions)
    parts = {}
    for code, split in enumerate(SPLIT_NAMES):
        in_split = plan.codes == code
        extras = {}
        if extra_columns:
            rows_here = np.flatnonzero(plan.codes[all_pos] == code)
            by_dest = rows_here[np.argsort(plan.dest[all_pos[rows_here]])]
            for c in extra_columns:
                column = pa.chunked_array(extras_in[c]).combine_chunks()
                extras[c] = column.take(pa.array(by_dest)).to_numpy(zero_copy_only=False)
        parts[split] = Arrays(
            {name: arrays[code][name] for name in names},
            sorted_labels[in_split],
            extras,
            _split_keys(plan, code),
        )
    bytes_ = {n: [small[code][n] for code in range(len(SPLIT_NAMES))] for n in small[0]}
    return parts, shapes, integral, bytes_


def _one_pass(
    warehouse: Warehouse,
    relation: Relation,
    schema: pa.Schema,
    where: str,
    key: str,
    label: str,
    specs: list[FeatureSpec | str],
    extra_columns: tuple[str, ...],
    split_options: tuple[tuple[float, float] | None, LabelRule],
) -> tuple[_Plan, dict[str, Arrays], dict[str, tuple[int, ...]], dict[str, list]]:
    """Keys, labels and BYTES features in one read: each batch's bytes are kept as they came
    (uint8 views of the Arrow buffers, a quarter of the decoded arrays), and once the plan is made
    the rows are placed into the split arrays as :func:`_fill` places them. No second read, so no
    order to check, whatever the keys."""
    names = [s if isinstance(s, str) else s.name for s in specs]
    shapes = {s.name: s.shape for s in specs if isinstance(s, FeatureSpec)}
    keys: list[pa.Array] = []
    labels_in: list[pa.Array] = []
    staged: list[list[np.ndarray]] = []  # per batch, per feature
    extras_in: dict[str, list[pa.Array]] = {c: [] for c in extra_columns}
    row = 0
    columns = list(dict.fromkeys([key, label, *names, *extra_columns]))
    for batch in slices(warehouse.iter_batches(relation, columns)):
        keys.append(batch.column(key))
        labels_in.append(batch.column(label))
        views = []
        for name in names:
            column = batch.column(name)
            if name not in shapes:
                shapes[name] = _infer_shape(column, name, where)
            views.append(decode_rows(column, name, shapes[name], where, row))
        staged.append(views)
        for c in extra_columns:
            extras_in[c].append(batch.column(c))
        row += batch.num_rows
        del batch
    fractions, rule = split_options
    plan = _plan(
        warehouse, relation, schema, where, key, label, fractions, rule, read=(keys, labels_in),
    )  # fmt: skip
    del keys, labels_in
    inverse = np.empty(plan.total, dtype=np.int64)
    inverse[plan.order] = np.arange(plan.total)
    arrays = [
        {n: np.empty((size, *shapes[n]), dtype=np.float32) for n in names} for size in plan.sizes
    ]
    small = [
        {n: np.empty((size, math.prod(shapes[n])), np.uint8) for n in names} for size in plan.sizes
    ]
    row = 0
    for views in staged:
        n = len(views[0])
        pos = inverse[row : row + n]
        codes, dest = plan.codes[pos], plan.dest[pos]
        for code in range(len(SPLIT_NAMES)):
            index = np.flatnonzero(codes == code)
            if index.size:
                for name, values in zip(names, views, strict=True):
                    target = arrays[code][name]
                    target = target.reshape(len(target), -1)
                    _place(target, dest[index], values, index, small[code][name])
        row += n
    del staged
    sorted_labels = plan.labels[plan.order]
    parts: dict[str, Arrays] = {}
    for code, split in enumerate(SPLIT_NAMES):
        extras = {}
        for c in extra_columns:
            rows = plan.order[plan.codes == code]  # read positions of the split, in key order
            column = pa.chunked_array(extras_in[c]).combine_chunks()
            extras[c] = column.take(pa.array(rows)).to_numpy(zero_copy_only=False)
        parts[split] = Arrays(
            arrays[code], sorted_labels[plan.codes == code], extras, _split_keys(plan, code)
        )
    bytes_ = {n: [small[code][n] for code in range(len(SPLIT_NAMES))] for n in names}
    return plan, parts, shapes, bytes_


def _split_keys(plan: _Plan, code: int) -> np.ndarray:
    """The keys of one split's rows, in key order (its arrays' order)."""
    return plan.sorted_keys.filter(pa.array(plan.codes == code)).to_numpy(zero_copy_only=False)


def _positions(
    keys: pa.Array, plan: _Plan, inverse: np.ndarray, row: int, where: str
) -> np.ndarray:
    """Each row's position in key order: by its place in the read when the keys come back as
    in pass one, else (unique keys) by looking the key up."""
    n = len(keys)
    if keys.equals(plan.key_column.slice(row, n).combine_chunks()):
        return inverse[row : row + n]
    if not plan.unique:
        raise DataError(
            f"{where} returned its rows in a different order on a second read, and its "
            "keys are not unique",
            hint="use a unique key column, or load from a table rather than a view",
        )
    found = pc.index_in(keys, value_set=plan.sorted_keys)
    if found.null_count:
        raise DataError(f"{where} changed while it was being read; load again")
    return found.to_numpy(zero_copy_only=False).astype(np.int64)


def _place(
    target: np.ndarray,
    rows: np.ndarray,
    values: np.ndarray,
    index: np.ndarray,
    small: np.ndarray | None = None,
) -> None:
    """``target[rows] = values[index]`` (cast to float32), and the same into ``small`` (uint8
    values) when given; as one slice when ``rows`` is a run of consecutive rows (rows read in key
    order): no scatter, and a take straight into it when no cast is needed."""
    first, count = int(rows[0]), len(rows)
    if int(rows[-1]) - first == count - 1 and (count == 1 or bool((rows[1:] > rows[:-1]).all())):
        out = target[first : first + count]
        if small is not None:
            gathered = small[first : first + count]
            np.take(values, index, axis=0, out=gathered)
            out[...] = gathered
        elif values.dtype == np.float32:
            np.take(values, index, axis=0, out=out)
        else:
            out[...] = values[index]
    else:
        gathered = values[index]
        target[rows] = gathered
        if small is not None:
            small[rows] = gathered


def slices(batches: Iterator[pa.RecordBatch], rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """Record batches of at most ``rows`` rows (zero-copy slices): a backend may send far bigger
    ones (bqemulator: 65,536 rows), and each slice's decoding scratch is what counts."""
    for batch in batches:
        for start in range(0, batch.num_rows, rows):
            yield batch.slice(start, rows)
        del batch  # released before the next one is read


def _content_sha256(
    keys: pa.Array,
    labels: np.ndarray,
    parts: dict[str, Arrays],
    names: list[str],
    small: dict[str, list[np.ndarray]],
) -> str:
    """SHA-256 of what is trained on: keys and labels in key order, then each split's feature
    values (each split in key order): as uint8 where ``small`` has them (every value of the
    feature an integer in 0..255, so the bytes say exactly what the float32 values are, in a
    quarter of the bytes to hash), else as float32. The same on every backend and for every
    storage form of the same values; it changes with the split fractions, as the splits do."""
    h = hashlib.sha256()
    if pa.types.is_integer(keys.type):  # as int64, whatever width a backend stores
        h.update(b"int64\0")
        h.update(np.ascontiguousarray(keys.to_numpy(zero_copy_only=False), np.int64).tobytes())
    else:
        _hash_array(h, keys.cast(pa.string()) if is_number(keys.type) else keys)
    # class labels as int64; regression targets as float64 (not truncated to integers)
    # ``.data``: the array's buffer (numpy's stubs do not declare ndarray a Buffer before 3.12)
    h.update(
        np.ascontiguousarray(labels, np.float64 if labels.dtype.kind == "f" else np.int64).data
    )
    for split in SPLIT_NAMES:
        h.update(split.encode() + b"\0")
        for name in names:
            if name in small:
                h.update(name.encode() + b"\0uint8\0")
                values = small[name][SPLIT_NAMES.index(split)]
            else:
                h.update(name.encode() + b"\0float32\0")
                values = parts[split].features[name]
            # the bytes in C order; as flat uint8, so that a split without rows hashes nothing
            # (a memoryview cannot be cast to bytes when a dimension is 0)
            h.update(np.ascontiguousarray(values).reshape(-1).view(np.uint8).data)
    return h.hexdigest()


__all__ = [
    "SPLIT_METHOD",
    "Arrays",
    "FeatureSpec",
    "SplitData",
    "describe_source",
    "is_list",
    "load_splits",
    "read_rows",
    "resolve_features",
]
