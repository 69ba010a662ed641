"""Export with the preprocessing inside and a ``serving_default`` signature on raw values.

An Estimator export with a raw-tensor receiver has only a ``predict`` signature (its
classification outputs want serialized ``tf.Example``), and Vertex AI's TensorFlow serving
containers call ``serving_default``. So the Estimator's export is loaded and saved again with a
``serving_default`` (and ``predict``) signature that takes one float tensor per feature, named as
the feature, shaped ``[batch, *feature shape]``: the values a client has, as stored in the
warehouse. Scaling, reshaping an image's pixel list and every other transform are in the graph.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import tensorflow as tf

from mlkit.search.inputs import serving_input_receiver_fn


def export_for_serving(estimator, export_base: Path, train_features: Mapping[str, np.ndarray]):
    """Export ``estimator``'s final ensemble under ``export_base``; return the SavedModel dir."""
    export_base = Path(export_base)
    shapes = {name: tuple(v.shape[1:]) for name, v in train_features.items()}
    raw = estimator.export_saved_model(
        str(export_base / "estimator"), serving_input_receiver_fn(shapes)
    )
    raw_dir = Path(raw.decode() if isinstance(raw, bytes) else raw)
    target = export_base / raw_dir.name
    loaded = tf.saved_model.load(str(raw_dir))
    predict = loaded.signatures["predict"]
    specs = {
        name: tf.TensorSpec([None, *shape], tf.float32, name=name) for name, shape in shapes.items()
    }
    module = tf.Module()
    module.model = loaded  # tracks the variables the signature reads

    @tf.function
    def serve(**features):
        return predict(**features)

    signature = serve.get_concrete_function(**specs)
    tf.saved_model.save(
        module, str(target), signatures={"serving_default": signature, "predict": signature}
    )
    shutil.rmtree(export_base / "estimator", ignore_errors=True)
    return target
