"""mlkit from Python (a notebook): load a registered version and predict, search runs and models
with the CLI's filters. ``import mlkit`` stays light: this module loads on first use of
``mlkit.load_model`` / ``mlkit.runs`` / ``mlkit.models``, and TensorFlow only when a model first
predicts. The project is found as the CLI finds it (``mlkit.config``); ``home=`` names another.

    import mlkit
    model = mlkit.load_model("digits@champion")      # or "digits:3", "digits" (the latest)
    model.predict(frame)                             # a DataFrame, a dict of arrays, an array
    mlkit.runs(where="metrics.accuracy > 0.9", sort="metrics.loss")
    mlkit.models("digits", where="tags.team = 'vision'")

See docs/python-api.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlkit.config import Settings, load_settings, quiet_tensorflow
from mlkit.errors import UsageError
from mlkit.registry import ModelSummary, ModelVersion, Run, open_store

__all__ = ["Model", "load_model", "models", "runs"]


def _settings(home: Path | str | None) -> Settings:
    return load_settings(home)


@dataclass
class Model:
    """A registered version, its SavedModel verified against the registry's hash."""

    version: ModelVersion
    path: Path
    _runner: Any = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.version.model

    @property
    def task(self) -> str:
        return str(self.version.signature.get("task", "classification"))

    @property
    def features(self) -> dict[str, tuple[int | None, ...]]:
        """Each input's shape per row (``()`` for a number)."""
        return {k: tuple(v) for k, v in self.version.signature.get("inputs", {}).items()}

    def _loaded(self) -> Any:
        if self._runner is None:
            quiet_tensorflow()
            from mlkit.savedmodel import SavedModelRunner  # imports TensorFlow

            self._runner = SavedModelRunner(self.path)
        return self._runner

    def outputs(self, data: Any) -> dict[str, np.ndarray]:
        """Every output of the model (``probabilities``, ``class_ids``, ``predictions``...)."""
        return self._loaded().predict_arrays(self._arrays(data))

    def predict(self, data: Any) -> np.ndarray:
        """The class of each row (classification) or its predicted value (regression)."""
        out = self.outputs(data)
        if "class_ids" in out:
            return np.asarray(out["class_ids"]).reshape(-1)
        key = "predictions" if "predictions" in out else sorted(out)[0]
        return np.asarray(out[key]).reshape(len(out[key]), -1).squeeze(axis=1)

    def predict_proba(self, data: Any) -> np.ndarray:
        """Each row's class probabilities (classification)."""
        out = self.outputs(data)
        if "probabilities" not in out:
            raise UsageError(f"{self.name} version {self.version.version} gives no probabilities")
        return np.asarray(out["probabilities"])

    def _arrays(self, data: Any) -> dict[str, np.ndarray]:
        """Features by name from a DataFrame (a column per feature; a list per cell for an
        array feature), a dict of arrays, or one array (the single feature, or the scalar
        features as columns in sorted order)."""
        names = sorted(self.features)
        if hasattr(data, "columns") and hasattr(data, "to_numpy"):  # a pandas DataFrame
            missing = [n for n in names if n not in data.columns]
            if missing:
                raise UsageError(
                    f"the DataFrame has no column '{missing[0]}' (the model takes "
                    f"{', '.join(names)})"
                )
            return {n: _column(data[n].to_numpy(), self.features[n]) for n in names}
        if isinstance(data, dict):
            return {k: np.asarray(v) for k, v in data.items()}
        array = np.asarray(data)
        if len(names) == 1:
            return {names[0]: array}
        if array.ndim == 2 and array.shape[1] == len(names) and not any(self.features.values()):
            return {n: array[:, i] for i, n in enumerate(names)}
        raise UsageError(
            f"an array of shape {array.shape} does not map onto the features "
            f"{', '.join(names)}: give a DataFrame or a dict of arrays"
        )


def _column(values: np.ndarray, shape: tuple[int | None, ...]) -> np.ndarray:
    if shape and values.dtype == object:
        dims = tuple(-1 if d is None else d for d in shape)
        return np.stack([np.asarray(v, dtype=np.float32).reshape(dims) for v in values])
    return values


def load_model(ref: str, *, home: Path | str | None = None) -> Model:
    """``NAME`` (the latest version), ``NAME:VERSION`` or ``NAME@ALIAS``; its artifact's hash is
    checked before it is used. TensorFlow loads on the first prediction."""
    settings = _settings(home)
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        version = store.resolve(ref)
        path = store.artifact_path(version, verify=True)
    return Model(version=version, path=Path(path))


def runs(
    experiment: str | None = None,
    *,
    where: str | None = None,
    sort: str | None = None,
    limit: int = 50,
    home: Path | str | None = None,
) -> list[Run]:
    """Runs, newest first, filtered as ``mlkit runs list --where/--sort`` do."""
    settings = _settings(home)
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        return store.list_runs(experiment, limit, where=where, sort=sort)


def models(
    name: str | None = None,
    *,
    where: str | None = None,
    sort: str | None = None,
    limit: int = 50,
    home: Path | str | None = None,
) -> list[ModelSummary] | list[ModelVersion]:
    """Without ``name``: the registered models. With it: its versions, filtered as ``mlkit
    models versions NAME --where/--sort`` do (oldest first, or by ``sort``)."""
    from mlkit.registry.query import filter_versions

    settings = _settings(home)
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        if name is None:
            return store.list_models()
        every = store.list_versions(name)
    return filter_versions(every, where=where, sort=sort, limit=limit or None)
