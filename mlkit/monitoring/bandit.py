"""A multi-armed bandit between the deployed versions of a model: Thompson sampling on feedback.

Each version is an arm with a Beta(1 + successes, 1 + failures) posterior of its reward. The
reward of an answered instance, when its truth arrives as feedback, is:

- classification: 1 when the answered ``class_id`` equals the label, else 0 (accuracy);
- regression: 1 when ``|value - label| <= tolerance`` (the policy's ``tolerance``; without one,
  10 % of ``|label|``, at least 1e-9), else 0: the share of answers within tolerance.

The allocation (each version's share of the traffic) is the posterior probability that the
version is the best, estimated from ``draws`` joint samples (Thompson sampling in its
probability-matching form), recomputed after every ``update_every`` rewards; then every version
gets at least ``min_share`` (exploration) and a version whose checks failed at most ``cap``.
Each request is routed by the current allocation. A change of allocation of at least
``record_step`` (in any version) is reported to ``on_allocation`` (the workflow records it in the
registry), with the counts, so a restarted endpoint resumes from them (``BanditPolicy.prior``).
"""

from __future__ import annotations

import json
import random
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from mlkit.serving.observe import Answered, Feedback
from mlkit.serving.routing import Picker, Target, TargetPicker

DEFAULT_MIN_SHARE = 0.05
DEFAULT_CAP = 0.05
REMEMBERED_ANSWERS = 200_000  # answers kept to match feedback with (oldest forgotten first)


@dataclass(frozen=True)
class BanditPolicy:
    """How the bandit allocates one model's traffic (from ``mlkit endpoints traffic --policy``)."""

    min_share: float = DEFAULT_MIN_SHARE
    cap: float = DEFAULT_CAP
    capped: frozenset[int] = frozenset()  # versions whose checks failed
    tolerance: float | None = None  # regression: |error| that still counts as a success
    prior: Mapping[int, tuple[int, int]] = field(default_factory=dict)  # version -> (wins, losses)


Allocation = dict[int, float]
OnAllocation = Callable[[str, Allocation, dict[int, tuple[int, int]]], None]


def reward(answer: object, label: object, tolerance: float | None = None) -> float | None:
    """1.0 or 0.0 for one answered instance and its truth; None when they cannot be compared."""
    if not isinstance(answer, dict):
        return None
    if "class_id" in answer:
        try:
            return 1.0 if int(answer["class_id"]) == int(float(str(label))) else 0.0
        except (TypeError, ValueError):
            return 1.0 if str(answer["class_id"]) == str(label) else 0.0
    if "value" in answer:
        try:
            value, truth = float(answer["value"]), float(str(label))
        except (TypeError, ValueError):
            return None
        allowed = tolerance if tolerance is not None else max(abs(truth) * 0.1, 1e-9)
        return 1.0 if abs(value - truth) <= allowed else 0.0
    return None


def constrain(shares: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """``shares`` moved as little as proportionally possible to lie within ``low``..``high`` and
    sum to 1 (bounds that cannot all hold are loosened: the caps first give way)."""
    if low.sum() > 1.0:
        low = low / low.sum()
    if high.sum() < 1.0:
        high = np.maximum(high, low)
        high = high + (1.0 - high.sum()) * (high >= high.max())
    p = np.clip(shares, low, high)
    for _ in range(50):
        gap = 1.0 - p.sum()
        if abs(gap) < 1e-12:
            break
        free = (p < high - 1e-12) if gap > 0 else (p > low + 1e-12)
        if not free.any():
            break
        weight = np.where(free, np.maximum(p, 1e-9), 0.0)
        p = np.clip(p + gap * weight / weight.sum(), low, high)
    return p / p.sum()


class _Arms:
    def __init__(self) -> None:
        self.counts: dict[int, list[int]] = {}  # version -> [wins, losses]
        self.allocation: Allocation = {}
        self.recorded: Allocation = {}
        self.since_update = 0


class ThompsonPicker:
    """A :class:`~mlkit.serving.routing.TargetPicker` and answer/feedback observer: models whose
    policy (``policy(model)``) is a bandit are routed by it, the others by ``fallback``."""

    def __init__(
        self,
        policy: Callable[[str], BanditPolicy | None],
        *,
        fallback: TargetPicker | None = None,
        on_allocation: OnAllocation | None = None,
        update_every: int = 20,
        draws: int = 2000,
        record_step: float = 0.05,
        seed: int | None = None,
    ) -> None:
        self._policy = policy
        self._fallback = fallback or Picker(seed)
        self._on_allocation = on_allocation
        self.update_every = max(1, update_every)
        self.draws = max(100, draws)
        self.record_step = record_step
        self._random = random.Random(seed)
        self._rng = np.random.default_rng(seed)
        self._lock = threading.Lock()
        self._models: dict[str, _Arms] = {}
        # (model, request id) -> (version, the answer's predictions as JSON text: the server's own
        # when it gave it), so that what is remembered is strings and numbers, which the garbage
        # collector does not track (200,000 answers of dicts and lists made its full collections
        # stop the endpoint for 0.5 s every ~15 s under load: measured, docs/monitoring.md)
        self._answers: OrderedDict[tuple[str, str], tuple[int, str]] = OrderedDict()
        self.history: list[tuple[int, str, Allocation]] = []  # (rewards seen, model, allocation)
        self.rewards = 0

    # -- routing ---------------------------------------------------------------------------------

    def pick(self, model: str, targets: Sequence[Target]) -> Target:
        policy = self._policy(model) if len(targets) > 1 else None
        if policy is None:
            return self._fallback.pick(model, targets)
        with self._lock:
            arms = self._arms(model, policy)
            versions = sorted(t.version for t in targets)
            if sorted(arms.allocation) != versions:
                self._update(model, arms, policy, versions)
            weights = [arms.allocation[t.version] for t in targets]
            return self._random.choices(list(targets), weights=weights, k=1)[0]

    def allocation(self, model: str) -> Allocation:
        with self._lock:
            arms = self._models.get(model)
            return dict(arms.allocation) if arms else {}

    def counts(self, model: str) -> dict[int, tuple[int, int]]:
        with self._lock:
            arms = self._models.get(model)
            return {v: (c[0], c[1]) for v, c in arms.counts.items()} if arms else {}

    def _arms(self, model: str, policy: BanditPolicy) -> _Arms:
        arms = self._models.get(model)
        if arms is None:
            arms = self._models[model] = _Arms()
            for version, (wins, losses) in policy.prior.items():
                arms.counts[int(version)] = [int(wins), int(losses)]
        return arms

    def _update(self, model: str, arms: _Arms, policy: BanditPolicy, versions: list[int]) -> None:
        """Recompute the allocation over ``versions`` (the lock is held)."""
        wins = np.array([arms.counts.get(v, [0, 0])[0] for v in versions], dtype=np.float64)
        losses = np.array([arms.counts.get(v, [0, 0])[1] for v in versions], dtype=np.float64)
        samples = self._rng.beta(1.0 + wins, 1.0 + losses, size=(self.draws, len(versions)))
        best = np.bincount(samples.argmax(axis=1), minlength=len(versions)) / self.draws
        low = np.full(len(versions), min(policy.min_share, 1.0 / len(versions)))
        high = np.array([policy.cap if v in policy.capped else 1.0 for v in versions])
        shares = constrain(best, np.minimum(low, high), high)
        arms.allocation = {v: float(s) for v, s in zip(versions, shares, strict=True)}
        arms.since_update = 0
        moved = not arms.recorded or set(arms.recorded) != set(arms.allocation)
        moved = moved or any(
            abs(arms.allocation[v] - arms.recorded.get(v, 0.0)) >= self.record_step
            for v in arms.allocation
        )
        if moved:
            arms.recorded = dict(arms.allocation)
            self.history.append((self.rewards, model, dict(arms.allocation)))
            if self._on_allocation is not None:
                counts = {v: (c[0], c[1]) for v, c in arms.counts.items()}
                self._on_allocation(model, dict(arms.allocation), counts)

    # -- observing answers and feedback ----------------------------------------------------------

    def answered(self, record: Answered) -> None:
        if record.status != 200:
            return
        with self._lock:
            self._answers[(record.model, record.request_id)] = (
                record.version,
                record.predictions_json or json.dumps(list(record.predictions)),
            )
            while len(self._answers) > REMEMBERED_ANSWERS:
                self._answers.popitem(last=False)

    def feedback(self, items: Sequence[Feedback]) -> None:
        touched: dict[str, BanditPolicy] = {}
        parsed: dict[tuple[str, str], list[object]] = {}  # each answer's JSON read once
        for item in items:
            with self._lock:
                found = self._answers.get((item.model, item.request_id))
            if found is None:
                continue
            policy = touched.get(item.model) or self._policy(item.model)
            if policy is None:
                continue
            version, text = found
            predictions = _parsed(parsed, item, text)
            if item.index >= len(predictions):
                continue
            value = reward(predictions[item.index], item.label, policy.tolerance)
            if value is None:
                continue
            touched[item.model] = policy
            with self._lock:
                arms = self._arms(item.model, policy)
                counts = arms.counts.setdefault(version, [0, 0])
                counts[0 if value >= 0.5 else 1] += 1
                arms.since_update += 1
                self.rewards += 1
                if arms.since_update >= self.update_every and arms.allocation:
                    self._update(item.model, arms, policy, sorted(arms.allocation))

    def close(self, timeout_s: float) -> None:
        """Nothing to flush: allocations are reported as they change."""


def _parsed(cache: dict[tuple[str, str], list[object]], item: Feedback, text: str) -> list[object]:
    """The predictions of a remembered answer from their JSON (read once per feedback call)."""
    key = (item.model, item.request_id)
    found = cache.get(key)
    if found is None:
        loaded = json.loads(text)
        found = cache[key] = loaded if isinstance(loaded, list) else []
    return found


__all__ = [
    "DEFAULT_CAP",
    "DEFAULT_MIN_SHARE",
    "Allocation",
    "BanditPolicy",
    "ThompsonPicker",
    "constrain",
    "reward",
]
