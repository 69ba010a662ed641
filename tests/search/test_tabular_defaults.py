"""A table's default search: linear candidates, trees for small tables; an experiment's choice
is kept."""

from __future__ import annotations

from mlkit.data.columns import Column, ColumnPlan
from mlkit.experiment import SearchSpec
from mlkit.search.runner import tabular_defaults

PLAN = ColumnPlan((Column("plan", "categorical", vocabulary=("a", "b")),))


def test_tables_get_linear_candidates_and_small_ones_trees_unless_the_experiment_chooses():
    big = tabular_defaults(SearchSpec(), PLAN, 42_000)
    assert (big.method, big.generator) == ("adanet", ["dnn", "linear"])
    small = tabular_defaults(SearchSpec(), PLAN, 240)
    assert small.method == "auto_ensemble"
    assert small.pool.estimators == ["dnn", "linear", "boosted_trees"]
    assert tabular_defaults(SearchSpec(), None, 240).generator == ["dnn"]  # pixels, arrays
    for chosen in ({"generator": "dnn"}, {"method": "adanet"}):
        spec = SearchSpec.model_validate(chosen)
        assert tabular_defaults(spec, PLAN, 240) == spec
    pooled = SearchSpec.model_validate({"pool": {"estimators": ["linear"]}})
    assert tabular_defaults(pooled, PLAN, 240).generator == ["dnn", "linear"]
