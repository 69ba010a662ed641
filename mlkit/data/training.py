"""Training data: what the search consumes, one interface whether the splits are in memory
(:class:`mlkit.data.loader.SplitData`) or streamed from the warehouse
(:class:`mlkit.data.streamed.StreamedData`).

A :class:`TrainingSplit` says how many rows it has, gives the rows reference models fit
on (all of them, or a bounded sample), and makes the ``tf.data.Dataset`` the search trains or
evaluates on (TensorFlow is imported only then). Its ``features`` and ``labels`` are rows whose
per-value mean and standard deviation are the split's: the split's own rows in memory, two summary
rows when streamed; the search reads only their shapes, means and deviations (normalisation
constants, a regression target's scale, the export's input shapes).
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from mlkit.data.columns import ColumnPlan
    from mlkit.data.loader import Arrays, FeatureSpec


class TrainingSplit(abc.ABC):
    """One split (train, eval or test) as the search consumes it."""

    features: dict[str, np.ndarray]
    labels: np.ndarray

    @abc.abstractmethod
    def __len__(self) -> int:
        """The split's rows."""

    @abc.abstractmethod
    def reference_rows(self) -> Arrays:
        """The rows the reference models fit or score on: every row in memory, else a bounded
        sample."""

    @abc.abstractmethod
    def dataset(self, *, batch_size: int, training: bool, seed: int = 0) -> Any:
        """A ``tf.data.Dataset`` of ``(features, labels)`` batches, labels one value per row:
        shuffled and without end when ``training``, else one pass in key order (in memory) or in
        the order the warehouse streams."""


class TrainingData(abc.ABC):
    """A source split three ways for a run, with its fingerprint and statistics."""

    train: TrainingSplit
    eval: TrainingSplit
    test: TrainingSplit
    label_values: list[int]
    n_classes: int
    feature_specs: list[FeatureSpec]
    fingerprint: dict[str, Any]
    stats: dict[str, Any]
    # Tabular sources (mlkit.data.tabular): the fitted preprocessing of every column, and the
    # label's class names (None: integer class ids, or regression).
    columns: ColumnPlan | None = None
    classes: list[str] | None = None

    def rows(self) -> dict[str, int]:
        """Rows per split."""
        return {"train": len(self.train), "eval": len(self.eval), "test": len(self.test)}

    def storage_forms(self) -> dict[str, str | None]:
        """Each feature as the warehouse stores it ('scalar', 'array', 'bytes', 'string')."""
        return {f.name: f.form for f in self.feature_specs}

    @abc.abstractmethod
    def sample_note(self) -> dict[str, Any] | None:
        """What a run report says of reference models fitted on samples (None: on the whole
        splits)."""

    def close(self) -> None:  # noqa: B027 - nothing to release unless a kind holds something
        """Release what reading the source holds open (a query's scratch table)."""


__all__ = ["TrainingData", "TrainingSplit"]
