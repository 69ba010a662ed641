"""One name per quantity, wherever mlkit shows or stores it.

TensorFlow's Estimator reports two losses for one evaluation: ``loss``, the mean of the per-batch
losses, and ``average_loss``, the mean of the per-example losses. They differ (a short last batch
weighs as much as a full one in the first), and mlkit used to store both. It keeps one:

- ``loss``: the mean per-example loss on the rows evaluated (log loss for classification, squared
  error for regression), the Estimator's ``average_loss``, and the same quantity the promotion
  metrics call ``loss``. The per-batch mean is dropped.

Registries written before this hold both names; :func:`canonical_metrics` translates them when they
are read (no migration: the stored JSON is left as it was), so tables, ``--json``, ``--where
metrics.loss`` and the verdict all show the same number.

Two words that used to be one ("baseline"):

- **reference models**: the quick scikit-learn models fitted on the same split as the search, to
  show what a classical model gets (``[search] reference_models = true``; ``Run.reference_models``).
- **baseline**: the version a candidate is compared with in a verdict (``--baseline``; by default
  the **champion**, the version an endpoint serves).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

V = TypeVar("V")

LOSS = "loss"
_ESTIMATOR_LOSS = "average_loss"


def canonical_metrics(metrics: Mapping[str, V]) -> dict[str, V]:
    """``metrics`` with the Estimator's ``average_loss`` (also ``eval_average_loss``...) under
    the name ``loss`` in place of the per-batch mean; anything else unchanged."""
    if not any(k.endswith(_ESTIMATOR_LOSS) for k in metrics):
        return dict(metrics)
    renamed = {
        k[: -len(_ESTIMATOR_LOSS)] + LOSS: v
        for k, v in metrics.items()
        if k.endswith(_ESTIMATOR_LOSS)
    }
    kept = {
        k: v for k, v in metrics.items() if not k.endswith(_ESTIMATOR_LOSS) and k not in renamed
    }
    return {**kept, **renamed}


def canonical_metric_name(name: str) -> str:
    """One stored metric name as it is shown (``eval_average_loss`` → ``eval_loss``)."""
    if name.endswith(_ESTIMATOR_LOSS):
        return name[: -len(_ESTIMATOR_LOSS)] + LOSS
    return name
