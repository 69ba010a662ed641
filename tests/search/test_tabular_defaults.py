"""A table's default search adds a linear candidate; an experiment's own generators are kept."""

from __future__ import annotations

from mlkit.data.columns import Column, ColumnPlan
from mlkit.experiment import SearchSpec
from mlkit.search.runner import tabular_defaults

PLAN = ColumnPlan((Column("plan", "categorical", vocabulary=("a", "b")),))


def test_tables_get_a_linear_candidate_unless_the_experiment_names_generators():
    assert tabular_defaults(SearchSpec(), PLAN).generator == ["dnn", "linear"]
    assert tabular_defaults(SearchSpec(), None).generator == ["dnn"]  # pixels, arrays
    chosen = SearchSpec.model_validate({"generator": "dnn"})
    assert tabular_defaults(chosen, PLAN).generator == ["dnn"]
