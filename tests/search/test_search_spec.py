"""The [search] section: search space, heads, budgets, validated with one line per problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlkit.errors import SpecError
from mlkit.experiment import SearchSpec, load_experiment, parse_experiment

REPO = Path(__file__).resolve().parents[2]
BASE = {"experiment": {"name": "x"}, "data": {"source": "t", "label": "label"}}


def errors(search: dict) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_experiment({**BASE, "search": search}, origin="x.toml")
    return info.value.message.splitlines()


def test_one_name_or_a_list_for_generators_ensemblers_strategies():
    spec = parse_experiment(
        {**BASE, "search": {"generator": "cnn", "ensembler": ["mean"], "strategy": ["all", "solo"]}}
    ).search
    assert spec.generator == ["cnn"]
    assert spec.ensembler == ["mean"]
    assert spec.strategy == ["all", "solo"]


def test_unknown_generator_names_the_field_and_the_choices():
    (line,) = errors({"generator": ["dnn", "rnn"]})
    assert line.startswith("x.toml: search.generator.1: must be 'dnn', 'cnn' or 'linear'")


def test_unknown_pool_estimator_and_strategy_are_one_line_each():
    lines = errors({"strategy": "shrink", "pool": {"estimators": ["svm"]}})
    assert any(
        s.startswith("x.toml: search.strategy.0: must be 'grow', 'all' or 'solo'") for s in lines
    )
    assert any(s.startswith("x.toml: search.pool.estimators.0: must be 'dnn'") for s in lines)


def test_max_width_below_layer_size_is_refused():
    (line,) = errors({"layer_size": 64, "max_width": 32})
    assert line == "x.toml: search.max_width: must be at least layer_size (64) (got 32)"


def test_image_shape_must_be_two_or_three_sizes():
    (line,) = errors({"image_shape": [64]})
    assert line.startswith("x.toml: search.image_shape: must be [height, width]")


def test_budgets_are_positive_and_cap_the_steps():
    assert "search.max_seconds: must be greater than 0" in errors({"max_seconds": 0})[0]
    spec = SearchSpec(iterations=3, steps_per_iteration=100, max_steps=250)
    assert spec.total_steps == 250
    assert SearchSpec(iterations=3, steps_per_iteration=100).total_steps == 300


def test_regression_task_is_accepted_and_typos_get_a_suggestion():
    assert parse_experiment({**BASE, "search": {"task": "regression"}}).search.task == "regression"
    (line,) = errors({"learning_rate_shedule": "cosine"})
    assert "did you mean 'learning_rate_schedule'?" in line


def test_command_line_budget_overrides_are_validated():
    experiment = parse_experiment(BASE)
    changed = experiment.with_budget(max_steps=10, max_seconds=5.0)
    assert changed.search.max_steps == 10 and changed.search.max_seconds == 5.0
    with pytest.raises(SpecError, match="command line: max_steps: must be at least 1"):
        experiment.with_budget(max_steps=0)


@pytest.mark.parametrize(
    "name",
    [
        "digits",
        "iris",
        "wine",
        "breast_cancer",
        "breast_cancer_auto",
        "diabetes",
        "churn",
        "penguins",
    ],
)
def test_every_shipped_experiment_is_valid(name):
    experiment, _ = load_experiment(REPO / "experiments" / f"{name}.toml")
    assert experiment.search.iterations >= 1


def test_shipped_examples_cover_heads_generators_and_the_pool():
    specs = {
        p.stem: load_experiment(p)[0].search for p in sorted((REPO / "experiments").glob("*.toml"))
    }
    assert {"cnn", "dnn", "linear"} <= {g for s in specs.values() for g in s.generator}
    assert "regression" in {s.task for s in specs.values()}
    assert "auto_ensemble" in {s.method for s in specs.values()}
