"""A model's traffic split on an endpoint, ``{version: percent}``: validation and apportionment.

The one place where shares are checked (whole percents, summing to 100) and where traffic is
divided in proportion (largest remainder, so the shares stay whole and sum exactly). The registry
validates every split it records with it; the endpoints (``mlkit.serving.endpoints``) compute
canaries and undeployments with it. Pure functions: no database, no SDK.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from mlkit.errors import MlkitError, RegistryError, UsageError
from mlkit.registry.validation import validate_version

K = TypeVar("K")


def validate_split(
    split: Mapping[int, int], error: type[MlkitError] = RegistryError
) -> dict[int, int]:
    """``{version: percent}`` with whole percents from 0 to 100 summing to 100 (``error`` else)."""
    if not isinstance(split, Mapping) or not split:
        raise error("a traffic split needs at least one version")
    clean: dict[int, int] = {}
    for version, percent in split.items():
        v = validate_version(version)  # UsageError: a version number is the caller's input
        if type(percent) is not int or not 0 <= percent <= 100:
            raise error(
                f"invalid traffic share {percent!r} for version {v}: expected a whole percent "
                "from 0 to 100"
            )
        clean[v] = percent
    total = sum(clean.values())
    if total != 100:
        shares = ", ".join(f"v{v}={p}" for v, p in sorted(clean.items()))
        raise error(f"the traffic shares must sum to 100, got {total} ({shares})")
    return clean


def apportion(weights: Mapping[K, int], total: int = 100) -> dict[K, int]:
    """Whole shares summing to ``total``, in proportion to ``weights`` (all zero: equal shares).

    Largest remainder; ties go to the key listed first. Keys whose share rounds to 0 are left out;
    empty ``weights`` or ``total`` 0 give ``{}``.
    """
    if not weights or total <= 0:
        return {}
    weight = sum(weights.values())
    if weight > 0:
        exact = {k: w * total / weight for k, w in weights.items()}
    else:
        exact = {k: total / len(weights) for k in weights}
    shares = {k: int(x) for k, x in exact.items()}
    order = sorted(exact, key=lambda k: exact[k] - shares[k], reverse=True)
    for k in order[: total - sum(shares.values())]:
        shares[k] += 1
    return {k: s for k, s in shares.items() if s > 0}


def canary_split(current: Mapping[int, int], version: int, percent: int) -> dict[int, int]:
    """``version`` at ``percent``, the other serving versions sharing the rest in proportion.

    UsageError when ``percent`` is not 1..100, or below 100 with nothing else serving.
    """
    if type(percent) is not int or not 1 <= percent <= 100:
        raise UsageError(f"the traffic share must be a whole percent from 1 to 100, got {percent}")
    others = {v: p for v, p in current.items() if v != version and p > 0}
    if percent < 100 and not others:
        raise UsageError(
            f"version {version} cannot take only {percent}% of the traffic: nothing else is "
            "deployed to take the rest",
            hint="deploy it with 100% first",
        )
    return {version: percent, **apportion(others, 100 - percent)}


def without(current: Mapping[int, int], versions: set[int]) -> dict[int, int]:
    """``current`` with ``versions`` removed, their traffic given to the rest in proportion."""
    return apportion({v: p for v, p in current.items() if v not in versions})


def champion_of(
    split: Mapping[int, int], champion: int | None, newest: int | None = None
) -> int | None:
    """The version with the largest share (None for an empty split).

    Ties: the current ``champion`` stays if it is among the largest; otherwise ``newest`` (the
    version deployed last) if it is; otherwise the highest version number.
    """
    serving = {v: p for v, p in split.items() if p > 0}
    if not serving:
        return None
    top = max(serving.values())
    tied = [v for v, p in serving.items() if p == top]
    for preferred in (champion, newest):
        if preferred in tied:
            return preferred
    return max(tied)
