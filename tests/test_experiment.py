from pathlib import Path

import pytest

from mlkit.errors import SpecError
from mlkit.experiment import load_experiment, parse_experiment

REPO = Path(__file__).resolve().parents[1]

VALID = {
    "experiment": {"name": "digits"},
    "data": {"source": "digits", "label": "label"},
}


def test_shipped_digits_experiment_is_valid():
    experiment, text = load_experiment(REPO / "experiments" / "digits.toml")
    assert experiment.experiment.model_name == "digits"
    assert experiment.data.features[0].shape == (64,)
    assert experiment.search.iterations >= 2
    assert "[search]" in text


def test_defaults_fill_in_the_search_and_promotion():
    experiment = parse_experiment(VALID)
    assert experiment.search.generator == ["dnn"]
    assert experiment.promotion.metric_for("classification") == "accuracy"
    assert experiment.promotion.metric_for("regression") == "rmse"
    assert experiment.data.key == "id"


def errors_of(raw) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_experiment(raw, origin="x.toml")
    return info.value.message.splitlines()


def test_every_problem_is_reported_at_once_one_line_each():
    raw = {
        "experiment": {"name": "Digits"},
        "data": {"source": "digits"},
        "search": {"iterations": 0, "layer_sise": 8},
    }
    lines = errors_of(raw)
    assert len(lines) == 4
    assert all(line.startswith("x.toml: ") for line in lines)
    joined = "\n".join(lines)
    assert "experiment.name: must be lowercase letters" in joined
    assert "data.label: required key is missing" in joined
    assert "search.iterations: must be at least 1 (got 0)" in joined
    assert "search.layer_sise: unknown key (did you mean 'layer_size'?)" in joined


def test_unknown_table_key_lists_what_is_allowed():
    (line,) = errors_of({**VALID, "promotion": {"metrik": "accuracy"}})
    assert "promotion.metrik: unknown key (did you mean 'metric'?)" in line


def test_choices_are_named():
    (line,) = errors_of({**VALID, "search": {"optimizer": "lion"}})
    assert line.startswith("x.toml: search.optimizer: must be 'adam', 'sgd'")
    assert "(got 'lion')" in line


def test_split_must_leave_training_rows():
    (line,) = errors_of({**VALID, "data": {**VALID["data"], "split": {"eval": 0.5, "test": 0.45}}})
    assert "data.split.test: eval + test must leave at least 10% of rows for training" in line


def test_missing_file_names_the_path_and_lists_neighbours(tmp_path):
    (tmp_path / "other.toml").write_text("")
    with pytest.raises(SpecError) as info:
        load_experiment(tmp_path / "digitz.toml")
    assert info.value.message == f"experiment file {tmp_path / 'digitz.toml'} does not exist"
    assert "other.toml" in info.value.hint


def test_malformed_toml_is_one_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[experiment\nname = 'x'\n")
    with pytest.raises(SpecError) as info:
        load_experiment(path)
    assert info.value.message.startswith(f"{path}: invalid TOML: ")
    assert "\n" not in info.value.message


def test_budget_override_is_validated():
    experiment = parse_experiment(VALID)
    assert experiment.with_budget(iterations=2, steps=10).search.steps_per_iteration == 10
    with pytest.raises(SpecError, match="iterations: must be at most 100"):
        experiment.with_budget(iterations=1000)


def test_runs_show_leaves_out_the_option_groups_a_run_does_not_use():
    from mlkit.cli.lineage import flatten
    from mlkit.experiment import load_experiment
    from mlkit.workflows.views import relevant_params

    repo = Path(__file__).resolve().parents[1]
    stored = {}
    for name in ("digits", "breast_cancer_auto", "digits-stream"):
        experiment, _ = load_experiment(repo / "experiments" / f"{name}.toml")
        stored[name] = dict(flatten(relevant_params(experiment.model_dump(mode="json"))))
    # an AdaNet search: no pool keys, no streaming keys; its own keys stay
    assert not [k for k in stored["digits"] if k.startswith("search.pool")]
    assert "data.sample_rows" not in stored["digits"] and "data.stream" not in stored["digits"]
    assert stored["digits"]["search.generator"] == ["cnn"]
    # a pool search keeps its pool; a streamed source keeps its streaming keys
    assert "search.pool.boosted_trees.n_trees" in stored["breast_cancer_auto"]
    assert stored["digits-stream"]["data.stream"] is True
    assert "data.shuffle_buffer" in stored["digits-stream"]


def test_reference_models_switch_keeps_its_old_name_baseline():
    """``[search] reference_models`` (the scikit-learn models); ``baseline``, its old name, still
    reads, so experiment files written before keep working."""
    assert parse_experiment(VALID).search.reference_models is True
    for key in ("reference_models", "baseline"):
        raw = {**VALID, "search": {key: False}}
        assert parse_experiment(raw).search.reference_models is False
