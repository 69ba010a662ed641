"""Summaries a streaming pass keeps instead of rows: per-value moments, a bounded sample, and an
order-independent content hash. numpy only."""

from __future__ import annotations

import hashlib

import numpy as np

from mlkit.data.loader import Arrays
from mlkit.data.split import SPLIT_NAMES
from mlkit.errors import DataError


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser, elementwise on uint64 (wrapping arithmetic)."""
    x = x.astype(np.uint64, copy=True)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


class RunningMoments:
    """Per-value count, mean and M2 over rows (Chan et al.'s parallel update, float64)."""

    def __init__(self) -> None:
        self.count = 0
        self._moments: tuple[np.ndarray, np.ndarray] | None = None  # mean, M2; None: no rows

    def update(self, rows: np.ndarray) -> None:
        n = len(rows)
        if n == 0:
            return
        values = rows.astype(np.float64)
        mean = values.mean(axis=0)
        m2 = ((values - mean) ** 2).sum(axis=0)
        if self._moments is None:
            self.count, self._moments = n, (mean, m2)
            return
        old_mean, old_m2 = self._moments
        total = self.count + n
        delta = mean - old_mean
        self._moments = (
            old_mean + delta * (n / total),
            old_m2 + m2 + delta**2 * (self.count * n / total),
        )
        self.count = total

    def _summed(self) -> tuple[np.ndarray, np.ndarray]:
        if self._moments is None:
            raise DataError("no rows were summarised: their mean and deviation are undefined")
        return self._moments

    @property
    def mean(self) -> np.ndarray:
        return self._summed()[0]

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self._summed()[1] / self.count)


class BottomK:
    """The ``k`` rows with the smallest priorities seen so far (ties: the first seen)."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.priority = np.zeros(0, dtype=np.uint64)
        self.features: dict[str, np.ndarray] = {}
        self.labels: np.ndarray | None = None

    def offer(self, priority: np.ndarray, features: dict[str, np.ndarray], labels: np.ndarray):
        if len(self.priority) >= self.k:
            keep = priority < self.priority.max()
            if not keep.any():
                return
            priority, labels = priority[keep], labels[keep]
            features = {n: v[keep] for n, v in features.items()}
        if self.labels is None:
            merged_p, merged_l = priority, labels
            merged_f = {n: v.copy() for n, v in features.items()}
        else:
            merged_p = np.concatenate([self.priority, priority])
            merged_l = np.concatenate([self.labels, labels])
            merged_f = {n: np.concatenate([self.features[n], v]) for n, v in features.items()}
        if len(merged_p) > self.k:
            order = np.argsort(merged_p, kind="stable")[: self.k]
            merged_p, merged_l = merged_p[order], merged_l[order]
            merged_f = {n: v[order] for n, v in merged_f.items()}
        self.priority, self.labels, self.features = merged_p, merged_l, merged_f

    def arrays(self, names: list[str], shapes: dict[str, tuple[int, ...]], dtype) -> Arrays:
        order = np.argsort(self.priority, kind="stable")
        if self.labels is None:
            return Arrays(
                {n: np.zeros((0, *shapes[n]), np.float32) for n in names}, np.zeros(0, dtype)
            )
        return Arrays({n: self.features[n][order] for n in names}, self.labels[order])


class ContentHash:
    """An order-independent hash of what is trained on: per split, two 64-bit sums over rows of
    mixed per-row hashes (key fingerprint, label, each feature's float32 values, each value
    weighted by its own odd constant), finally hashed with SHA-256. It does not depend on the
    order a warehouse streams rows in, nor on the backend or storage form; it changes with the
    split fractions. It differs from the in-memory loader's ``content_sha256``."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.sums = [[0, 0] for _ in SPLIT_NAMES]  # Python ints, kept modulo 2**64
        self.weights: dict[str, np.ndarray] = {}

    def _weights(self, name: str, width: int) -> np.ndarray:
        found = self.weights.get(name)
        if found is None:
            salt = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")
            seeds = np.arange(width, dtype=np.uint64) + np.uint64(salt)
            found = self.weights[name] = mix64(seeds) | np.uint64(1)
        return found

    def update(
        self,
        codes: np.ndarray,
        key_hashes: np.ndarray,
        labels: np.ndarray,
        features: dict[str, np.ndarray],
    ) -> None:
        label_bits = np.ascontiguousarray(labels, dtype=np.float64).view(np.uint64)
        row = mix64(key_hashes.view(np.uint64)) ^ mix64(label_bits + np.uint64(0x9E3779B97F4A7C15))
        for name in self.names:
            values = features[name].reshape(len(labels), -1)
            bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
            weighted = (bits.astype(np.uint64) * self._weights(name, bits.shape[1])).sum(
                axis=1, dtype=np.uint64
            )
            row = mix64(row ^ weighted)
        lanes = (mix64(row), mix64(row ^ np.uint64(0xD6E8FEB86659FD93)))
        for code in range(len(SPLIT_NAMES)):
            members = codes == code
            for lane, values in enumerate(lanes):
                total = self.sums[code][lane] + int(values[members].sum(dtype=np.uint64))
                self.sums[code][lane] = total % 2**64

    def hexdigest(self, rows: list[int]) -> str:
        h = hashlib.sha256(b"mlkit streamed content v1\0")
        for code, split in enumerate(SPLIT_NAMES):
            h.update(f"{split}:{rows[code]}\0".encode())
            h.update(np.asarray(self.sums[code], dtype=np.uint64).tobytes())
        for name in self.names:
            h.update(name.encode() + b"\0")
        return h.hexdigest()
