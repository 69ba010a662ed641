"""Export with the preprocessing inside and a ``serving_default`` signature on stored values.

An Estimator export with a raw-tensor receiver has only a ``predict`` signature (its
classification outputs want serialized ``tf.Example``), and Vertex AI's TensorFlow serving
containers call ``serving_default``. So the Estimator's export is loaded and saved again with:

- ``serving_default`` (and ``predict``, the same function): one input per feature, named as the
  feature, taking the value as the warehouse stores it, so a client sends a row as it has it:

  - numbers and ARRAY features: float32 ``[batch, *feature shape]``;
  - STRING features (comma-separated numbers, ``"0,0,17,255"``): tf.string ``[batch]``, split on
    the commas and parsed in the graph;
  - BYTES features (one unsigned byte per value): tf.string ``[batch]``, decoded in the graph with
    ``tf.io.decode_raw`` to uint8, then float.

  A value with the wrong count fails the call with an assertion naming the feature and the
  count expected (not a reshape error, nor garbage);
- ``features``: the decoded float32 arrays ``[batch, *feature shape]`` (what the data loader
  gives), for mlkit's own evaluation.

Scaling, reshaping an image's pixel list and every other transform are in the graph. The storage
form of each input is also written to ``assets.extra/mlkit_inputs.json`` (TF Serving's folder for
extra files), which tells ``mlkit.savedmodel`` how a JSON value maps onto each input.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import tensorflow as tf

from mlkit.data.columns import ColumnPlan
from mlkit.savedmodel import COLUMNS_FILE, ENCODED_FORMS, FEATURES_SIGNATURE, INPUTS_FILE
from mlkit.search.inputs import serving_input_receiver_fn
from mlkit.search.preprocess import RAW_FORMS, Preprocessor, raw_specs


def decode_stored(name: str, value: tf.Tensor, form: str, shape: tuple[int, ...]) -> tf.Tensor:
    """A batch of stored values of feature ``name`` → float32 ``[batch, *shape]``."""
    if form not in ENCODED_FORMS:
        return tf.cast(value, tf.float32)
    width = math.prod(shape)
    if form == "string":
        parts = tf.strings.split(value, ",")
        counts = parts.row_lengths()
        check = tf.debugging.assert_equal(
            counts,
            tf.cast(width, counts.dtype),
            message=f"feature {name} expects {width} comma-separated numbers per instance",
        )
        with tf.control_dependencies([check]):
            numbers = tf.strings.to_number(tf.strings.strip(parts.flat_values), tf.float32)
        numbers = tf.debugging.check_numerics(
            numbers, f"feature {name} has a value that is not a finite number"
        )
    else:
        check = tf.debugging.assert_equal(
            tf.strings.length(value),
            width,
            message=f"feature {name} expects {width} bytes per instance (one byte per value)",
        )
        with tf.control_dependencies([check]):
            numbers = tf.cast(tf.io.decode_raw(value, tf.uint8), tf.float32)
    return tf.reshape(numbers, [-1, *shape])


def export_for_serving(
    estimator,
    export_base: Path,
    train_features: Mapping[str, np.ndarray],
    storage_forms: Mapping[str, str | None] | None = None,
    columns: ColumnPlan | None = None,
):
    """Export ``estimator``'s final ensemble under ``export_base``; return the SavedModel dir.

    ``columns``: a tabular source's preprocessing; ``serving_default`` then takes the raw row
    (see :func:`export_tabular`).

    ``storage_forms`` gives each feature's form in the warehouse (``'scalar'``, ``'array'``,
    ``'bytes'`` or ``'string'``, as ``mlkit.data.decode.storage_form`` names them); a feature
    left out takes floats."""
    export_base = Path(export_base)
    if columns is not None:
        return export_tabular(estimator, export_base, train_features, columns)
    shapes = {name: tuple(v.shape[1:]) for name, v in train_features.items()}
    forms = {
        name: (storage_forms or {}).get(name) or ("array" if shape else "scalar")
        for name, shape in shapes.items()
    }
    for name, form in forms.items():
        if form in ENCODED_FORMS and not shapes[name]:
            raise ValueError(f"feature '{name}' stored as {form} needs a shape")
    raw = estimator.export_saved_model(
        str(export_base / "estimator"), serving_input_receiver_fn(shapes)
    )
    raw_dir = Path(raw.decode() if isinstance(raw, bytes) else raw)
    target = export_base / raw_dir.name
    loaded = tf.saved_model.load(str(raw_dir))
    predict = loaded.signatures["predict"]
    float_specs = {
        name: tf.TensorSpec([None, *shape], tf.float32, name=name) for name, shape in shapes.items()
    }
    stored_specs = {
        name: (
            tf.TensorSpec([None], tf.string, name=name)
            if forms[name] in ENCODED_FORMS
            else float_specs[name]
        )
        for name in shapes
    }
    module = tf.Module()
    module.model = loaded  # tracks the variables the signatures read

    @tf.function(autograph=False)  # no tensor-dependent Python control flow: no conversion
    def from_features(**features):
        return predict(**features)

    @tf.function(autograph=False)  # no tensor-dependent Python control flow: no conversion
    def from_stored(**inputs):
        decoded = {
            name: decode_stored(name, value, forms[name], shapes[name])
            for name, value in inputs.items()
        }
        return predict(**decoded)

    serving = from_stored.get_concrete_function(**stored_specs)
    features = from_features.get_concrete_function(**float_specs)
    tf.saved_model.save(
        module,
        str(target),
        signatures={"serving_default": serving, "predict": serving, FEATURES_SIGNATURE: features},
    )
    meta = {name: {"form": forms[name], "shape": list(shapes[name])} for name in sorted(shapes)}
    (target / INPUTS_FILE).parent.mkdir(parents=True, exist_ok=True)
    (target / INPUTS_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    shutil.rmtree(export_base / "estimator", ignore_errors=True)
    return target


def export_tabular(
    estimator, export_base: Path, train_features: Mapping[str, np.ndarray], plan: ColumnPlan
) -> Path:
    """The export of a model trained on a tabular source: ``serving_default`` (and ``predict``)
    take one input per raw column (``mlkit.search.preprocess``: numbers with NaN for missing,
    text for categories and ISO times) and apply the fitted imputation, vocabularies and time
    parts in the graph; ``features`` takes the model's features as the loader gives them. A
    model with class names also outputs ``class`` (the name of ``class_ids``). The plan is in
    ``assets.extra/mlkit_columns.json``."""
    categorical = plan.categorical()
    shapes = {name: tuple(v.shape[1:]) for name, v in train_features.items()}
    raw = estimator.export_saved_model(
        str(export_base / "estimator"), serving_input_receiver_fn(shapes, categorical)
    )
    raw_dir = Path(raw.decode() if isinstance(raw, bytes) else raw)
    target = export_base / raw_dir.name
    loaded = tf.saved_model.load(str(raw_dir))
    predict = loaded.signatures["predict"]
    module = tf.Module()
    module.model = loaded
    module.preprocessor = Preprocessor(plan)
    classes = list(plan.classes) if plan.classes is not None else None

    def named(outputs):
        if classes is None or "class_ids" not in outputs:
            return outputs
        ids = tf.reshape(outputs["class_ids"], [-1])
        return {**outputs, "class": tf.gather(tf.constant(classes, tf.string), ids)}

    @tf.function(autograph=False)  # no tensor-dependent Python control flow: no conversion
    def from_features(**features):
        return named(predict(**features))

    @tf.function(autograph=False)  # no tensor-dependent Python control flow: no conversion
    def from_raw(**inputs):
        return named(predict(**module.preprocessor(inputs)))

    feature_specs = {
        name: tf.TensorSpec(
            [None, *shape], tf.int64 if name in categorical else tf.float32, name=name
        )
        for name, shape in shapes.items()
    }
    serving = from_raw.get_concrete_function(**raw_specs(plan))
    features = from_features.get_concrete_function(**feature_specs)
    tf.saved_model.save(
        module,
        str(target),
        signatures={"serving_default": serving, "predict": serving, FEATURES_SIGNATURE: features},
    )
    meta = {
        c.name: {
            "form": RAW_FORMS[c.kind],
            "shape": list(c.shape),
            "kind": c.kind,
            "nullable": c.kind != "array",
        }
        for c in plan.columns
    }
    (target / INPUTS_FILE).parent.mkdir(parents=True, exist_ok=True)
    (target / INPUTS_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    (target / COLUMNS_FILE).write_text(json.dumps(plan.to_json(), indent=1) + "\n")
    shutil.rmtree(export_base / "estimator", ignore_errors=True)
    return target
