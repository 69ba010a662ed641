"""Each candidate ensemble of an iteration built once, however many strategies propose it.

AdaNet 0.9.0 asks every ensemble strategy for its candidates and builds them all. When there is
no previous ensemble (the first iteration), ``grow`` proposes each new subnetwork with nothing
before it, which is exactly ``solo``'s candidate (and ``all`` with one subnetwork is too): the
same members, trained from the same initial state on the same batches, so the same numbers, built,
trained, evaluated and reported twice. With ``strategy = ["grow", "solo"]`` (the iris example)
that is 8 ensembles instead of 4 in the first iteration (docs/search.md has what it costs).

:func:`build_each_candidate_once` makes the iteration builder drop a candidate whose members and
previous members equal an earlier one's (the first strategy's name stays), in every graph of an
iteration that is being searched (training, evaluation, export), so the candidates' positions
(AdaNet's best-ensemble index) are the same in all of them. A rebuilt earlier iteration (AdaNet's
``rebuilding``: the previous ensemble, found by the name its architecture file records) is built
from the full list as before, so a run started before this change resumes as it would have.

AdaNet 0.9.0 is frozen: the private ``build_iteration`` wrapped here (on one estimator's iteration
builder) is stable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def build_each_candidate_once(estimator: Any) -> None:
    """Wrap ``estimator``'s iteration builder so an iteration builds each distinct candidate once.
    ``mlkit.search.estimators.build_estimator`` does it for every estimator it makes (so every
    task of a cluster builds the same graph), before any other wrapper of ``build_iteration``
    (``mlkit.search.phases``), which then calls this one."""
    builder = estimator._iteration_builder
    build_iteration = builder.build_iteration

    def build_distinct(*args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("rebuilding") and "ensemble_candidates" in kwargs:
            kwargs["ensemble_candidates"] = distinct(kwargs["ensemble_candidates"])
        return build_iteration(*args, **kwargs)

    builder.build_iteration = build_distinct


def distinct(candidates: Sequence[Any]) -> list[Any]:
    """The candidates less those with the same subnetworks and previous subnetworks (by builder
    name, in order) as an earlier one."""
    seen: set[tuple[tuple[str, ...], tuple[str, ...]]] = set()
    kept = []
    for candidate in candidates:
        key = (
            tuple(b.name for b in candidate.subnetwork_builders),
            tuple(b.name for b in candidate.previous_ensemble_subnetwork_builders or ()),
        )
        if key not in seen:
            seen.add(key)
            kept.append(candidate)
    return kept


__all__ = ["build_each_candidate_once", "distinct"]
