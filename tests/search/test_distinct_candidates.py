"""An iteration builds each distinct candidate ensemble once, whichever strategies propose it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from mlkit.experiment import SearchSpec
from mlkit.search.distinct_candidates import distinct


def _candidate(name: str, members: list[str], previous: list[str] | None):
    def builders(names):
        return [SimpleNamespace(name=n) for n in names]

    return SimpleNamespace(
        name=name,
        subnetwork_builders=builders(members),
        previous_ensemble_subnetwork_builders=None if previous is None else builders(previous),
    )


def test_the_first_of_equal_candidates_stays_and_different_ones_all_stay():
    first_iteration = [
        _candidate("dnn_grow", ["dnn"], []),
        _candidate("linear_grow", ["linear"], []),
        _candidate("dnn_solo", ["dnn"], None),  # no previous ensemble: grow's candidate again
        _candidate("linear_solo", ["linear"], None),
        _candidate("all", ["dnn", "linear"], []),
    ]
    assert [c.name for c in distinct(first_iteration)] == ["dnn_grow", "linear_grow", "all"]

    later = [
        _candidate("dnn_grow", ["dnn"], ["t0_linear"]),
        _candidate("dnn_solo", ["dnn"], None),
        _candidate("all", ["dnn"], ["t0_linear"]),  # one subnetwork: grow's candidate again
    ]
    assert [c.name for c in distinct(later)] == ["dnn_grow", "dnn_solo"]


@pytest.mark.slow
def test_a_search_trains_grow_and_solo_once_in_the_first_iteration_and_both_after(tmp_path):
    from mlkit.search.runner import run_search
    from tests.search.test_compat import blobs

    spec = SearchSpec(
        generator=["linear"],
        strategy=["grow", "solo"],
        iterations=2,
        steps_per_iteration=10,
        batch_size=32,
    )
    result = run_search(
        spec, blobs(150, 0), blobs(60, 1), blobs(60, 2), n_classes=3, model_dir=tmp_path / "r"
    )

    assert sorted(result.report["curves"]) == [
        "t0_linear_grow_complexity_regularized",
        "t1_linear_grow_complexity_regularized",
        "t1_linear_solo_complexity_regularized",
    ]
    assert result.architecture["iterations"] == 2
    assert result.metrics["accuracy"] > 0.5
