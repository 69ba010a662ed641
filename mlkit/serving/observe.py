"""What the endpoint tells observers after each answer, and the feedback it receives.

The server calls every observer's ``answered`` after each predict answer (prediction logging,
the bandit), and every :class:`FeedbackObserver` with the truths posted to
``POST /v1/models/NAME:feedback``. Observers must not block the request: they enqueue and return.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

logger = logging.getLogger("mlkit.serving")


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
    # the JSON of ``predictions`` as the answer carried it (the server encodes it once for both);
    # "" when not known (the prediction log then encodes each prediction itself)
    predictions_json: str = ""
    # the request's body as received (the prediction log takes a lone instance's JSON text from
    # it instead of encoding the instance again); b"" when not known
    body: bytes = b""


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


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
MAX_FEEDBACK_ITEMS = 10_000
"""The most truths one feedback request may carry."""


def valid_request_id(text: str) -> bool:
    """A request id a client may send (``X-Request-Id``): 1 to 128 letters, digits, ``._:-``."""
    return _REQUEST_ID.match(text) is not None


def parse_feedback(name: str, payload: object) -> list[Feedback] | str:
    """The feedback a ``POST /v1/models/NAME:feedback`` body carries, or the one-line reason it
    is invalid: ``{"feedback": [{"request_id": "...", "label": 3, "index": 0}, ...]}`` (``index``:
    the instance's place in its request, default 0) or ``{"request_ids": [...], "labels": [...]}``.
    """
    expected = (
        'the body must be {"feedback": [{"request_id": "...", "label": ...}]} '
        'or {"request_ids": [...], "labels": [...]}'
    )
    if not isinstance(payload, dict):
        return expected
    if "request_ids" in payload or "labels" in payload:
        ids, labels = payload.get("request_ids"), payload.get("labels")
        if not isinstance(ids, list) or not isinstance(labels, list) or len(ids) != len(labels):
            return "'request_ids' and 'labels' must be lists of the same length"
        raw: object = [{"request_id": i, "label": v} for i, v in zip(ids, labels, strict=True)]
    else:
        raw = payload.get("feedback")
    if not isinstance(raw, list) or not raw:
        return expected
    if len(raw) > MAX_FEEDBACK_ITEMS:
        return f"'feedback' has {len(raw)} items; at most {MAX_FEEDBACK_ITEMS} per request"
    now = time.time()
    out = []
    for n, item in enumerate(raw):
        if not isinstance(item, dict) or "label" not in item:
            return f"feedback item {n} must be an object with 'request_id' and 'label'"
        rid, index = item.get("request_id"), item.get("index", 0)
        if not isinstance(rid, str) or not valid_request_id(rid):
            return f"feedback item {n}: 'request_id' must be the id an answer returned"
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            return f"feedback item {n}: 'index' must be a whole number >= 0"
        label = item["label"]
        if not isinstance(label, int | float | str | bool):
            return f"feedback item {n}: 'label' must be a number or a string"
        out.append(Feedback(rid, name, label, index, now))
    return out


def tell_feedback(observers: Sequence[object], items: Sequence[Feedback]) -> None:
    """Hand ``items`` to each distinct :class:`FeedbackObserver` among ``observers`` (the
    server's observers and its picker); one that fails is logged, never the client's problem."""
    seen: list[object] = []
    for observer in observers:
        if any(observer is other for other in seen):
            continue
        seen.append(observer)
        if isinstance(observer, FeedbackObserver):
            try:
                observer.feedback(items)
            except Exception:
                logger.exception("feedback observer %r failed", observer)


__all__ = [
    "MAX_FEEDBACK_ITEMS",
    "AnswerObserver",
    "Answered",
    "Feedback",
    "FeedbackObserver",
    "parse_feedback",
    "tell_feedback",
    "valid_request_id",
]
