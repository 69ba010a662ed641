"""A small table's default search adds linear and tree candidates; an experiment's choice is
kept."""

from __future__ import annotations

from mlkit.data.columns import Column, ColumnPlan
from mlkit.experiment import SearchSpec
from mlkit.search.runner import tabular_defaults

PLAN = ColumnPlan((Column("plan", "categorical", vocabulary=("a", "b")),))


def test_small_tables_get_trees_unless_the_experiment_chooses():
    small = tabular_defaults(SearchSpec(), PLAN, 240)
    assert small.method == "auto_ensemble"
    assert small.pool.estimators == ["dnn", "linear", "boosted_trees"]
    assert tabular_defaults(SearchSpec(), PLAN, 42_000) == SearchSpec()  # as measured before
    assert tabular_defaults(SearchSpec(), None, 240) == SearchSpec()  # pixels, arrays
    for chosen in ({"generator": "dnn"}, {"method": "adanet"}, {"pool": {"estimators": ["dnn"]}}):
        spec = SearchSpec.model_validate(chosen)
        assert tabular_defaults(spec, PLAN, 240) == spec


def test_a_streamed_or_cluster_search_keeps_the_experiments_spec():
    # A cluster's workers build their graph from the experiment's spec: the chief must too.
    assert tabular_defaults(SearchSpec(), PLAN, 240, one_process=False) == SearchSpec()
