"""What the endpoint tells observers after each answer, and the feedback it receives.

The server calls every observer's ``answered`` after each predict answer (prediction logging,
the bandit), and every :class:`FeedbackObserver` with the truths posted to
``POST /v1/models/NAME:feedback``. Observers must not block the request: they enqueue and return.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Answered:  # one answered predict request
    request_id: str
    model: str
    version: int
    route: str
    status: int
    latency_s: float
    instances: list[object]
    predictions: list[object]
    at: float  # time.time()


class AnswerObserver(Protocol):
    def answered(self, record: Answered) -> None: ...  # must not block: enqueue only

    def close(self, timeout_s: float) -> None: ...  # flush on shutdown (SIGTERM)


@dataclass(frozen=True)
class Feedback:
    """The truth for one answered instance: ``index`` is its place in the request's instances."""

    request_id: str
    model: str
    label: object
    index: int = 0
    at: float = 0.0


@runtime_checkable
class FeedbackObserver(Protocol):
    def feedback(self, items: Sequence[Feedback]) -> None: ...  # must not block: enqueue only


__all__ = ["AnswerObserver", "Answered", "Feedback", "FeedbackObserver"]
