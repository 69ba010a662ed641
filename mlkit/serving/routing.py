"""What the endpoint serves: the traffic split of each model, and picking a version per request.

``Target`` is one deployed version of a model with its share of the traffic. A source of targets
(the registry, in ``mlkit.workflows.serve``) is asked on every request; the server picks one
target by weight, so a canary at 10 % gets about one request in ten.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeAlias


@dataclass(frozen=True)
class Target:
    """A version of a model that serves a share (percent) of the model's traffic."""

    version: int
    path: Path
    percent: int = 100
    deployed_model_id: str = ""

    @property
    def id(self) -> str:
        """The Vertex-style ``deployedModelId``: the registry's deployment id, or ``vN``."""
        return self.deployed_model_id or f"v{self.version}"


# What a resolver answers for a model: nothing, one ``(version, path)``, or its targets.
Resolution: TypeAlias = "Iterable[Target] | tuple[int, str | Path] | None"


def as_targets(answer: Resolution) -> list[Target]:
    """Normalise what a resolver returns: None, ``(version, path)``, or a list of targets."""
    if answer is None:
        return []
    if isinstance(answer, tuple) and len(answer) == 2 and isinstance(answer[0], int):
        return [Target(answer[0], Path(answer[1]))]
    return [t for t in answer if isinstance(t, Target)]


class TargetPicker(Protocol):
    """Chooses the version that answers one request for ``model`` among its ``targets``."""

    def pick(self, model: str, targets: Sequence[Target]) -> Target: ...


class Picker:
    """Weighted choice between targets by traffic share; thread-safe, seedable for tests."""

    def __init__(self, seed: int | None = None) -> None:
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def pick(self, model: str, targets: Sequence[Target]) -> Target:
        if len(targets) == 1:
            return targets[0]
        weights = [max(0, t.percent) for t in targets]
        if not any(weights):
            weights = [1] * len(targets)
        with self._lock:
            return self._random.choices(list(targets), weights=weights, k=1)[0]
