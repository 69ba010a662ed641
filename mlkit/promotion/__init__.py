"""Champion/challenger: evaluate versions on the same data and decide whether the candidate wins."""

from mlkit.promotion.compare import Decision, decide, evaluate_saved_model

__all__ = ["Decision", "decide", "evaluate_saved_model"]
