"""What the local endpoint tells observers about each answered predict request (the seam that
prediction logging and the bandit build on).

The server calls ``answered`` on every observer after each predict answer, on the event loop:
an observer must not block (enqueue only). ``close`` flushes on shutdown (SIGTERM).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


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
