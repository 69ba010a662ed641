"""Deploy, compare, roll back and force through the real CLI, with versions built to win and to
lose on purpose (see conftest.py), a real SQLite registry and DuckDB warehouse."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.promotion.conftest import HASH, SOUTH, TARGETS, probabilities, spec_text


def verdict_json(cli, *args):
    result = cli("compare", "promo", *args, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)["verdict"]


def checks_of(verdict) -> dict[str, dict]:
    return {c["name"]: c for c in verdict["details"]["checks"]}


def champion(project):
    return project.store.get_alias("promo", "champion")


def test_first_deploy_with_nothing_deployed_needs_value_thresholds_and_smoke(project, cli):
    low = project.register(
        probabilities(HASH < 80), spec=spec_text(extra="at_least = { accuracy = 0.9 }")
    )
    refused = cli("deploy", "promo")
    assert refused.code == 6
    assert "accuracy >= 0.9: accuracy 0.8" in refused.err
    assert "is not at least 0.9" in refused.err
    assert project.store.active_deployment("promo") is None
    verdict = project.store.latest_verdict("promo", low)
    assert verdict.baseline_version is None and not verdict.passed
    assert checks_of({"details": verdict.details})["significance"]["status"] == "skip"

    good = project.register(
        probabilities(HASH < 95), spec=spec_text(extra="at_least = { accuracy = 0.9 }")
    )
    deployed = cli("deploy", "promo")
    assert deployed.code == 0, deployed.err
    assert "nothing was deployed before" in deployed.out
    checks = checks_of({"details": project.store.latest_verdict("promo", good).details})
    assert checks["accuracy >= 0.9"]["status"] == "pass"
    assert checks["smoke test"]["status"] == "pass"
    assert checks["accuracy beats the baseline"]["status"] == "skip"
    assert champion(project) == good


def test_a_winner_is_promoted_and_a_loser_refused(project, cli):
    project.register(probabilities(HASH < 80))
    assert cli("deploy", "promo").code == 0
    winner = project.register(probabilities(HASH < 90))

    verdict = verdict_json(cli, "--candidate", str(winner))
    assert verdict["passed"] is True and verdict["baseline_version"] == 1
    details = verdict["details"]
    assert details["candidate"]["metrics"]["accuracy"] > details["baseline"]["metrics"]["accuracy"]
    low, high = details["intervals"]["accuracy"]
    assert 0 < low < details["differences"]["accuracy"] < high
    assert details["significance"]["test"] == "mcnemar"
    assert details["significance"]["baseline_only"] == 0  # a strict superset of right answers
    assert verdict["data_fingerprint"]["rows"] == details["rows"] > 800

    deployed = cli("deploy", "promo")
    assert deployed.code == 0, deployed.err
    assert "Deployed promo version 2" in deployed.out
    assert "previous champion: version 1" in deployed.out
    assert champion(project) == 2 and project.store.get_alias("promo", "previous") == 1
    active = project.store.active_deployment("promo")
    assert (active.version, active.action, active.previous_version) == (2, "promote", 1)

    loser = project.register(probabilities(HASH < 70))
    refused = cli("deploy", "promo")
    assert refused.code == 6
    assert refused.err.startswith("Error: promo version 3 was not deployed: failed")
    assert "accuracy" in refused.err and "is worse than" in refused.err
    assert '--force --reason "why"' in refused.err
    assert champion(project) == 2
    versions = json.loads(cli("models", "versions", "promo", "--json").out)
    assert [v["verdict"]["passed"] for v in versions] == [True, True, False]
    assert versions[loser - 1]["verdict"]["details"]["checks"]


def test_a_gain_that_is_not_significant_is_refused(project, cli):
    project.register(probabilities(HASH < 80))
    assert cli("deploy", "promo").code == 0
    # Right on 3% of rows the champion misses, wrong on 2% it gets: better, but within chance.
    project.register(probabilities((HASH < 78) | ((HASH >= 80) & (HASH <= 82))))
    verdict = verdict_json(cli)
    checks = checks_of(verdict)
    assert checks["accuracy beats v1"]["status"] == "pass"
    significance = checks["significant at alpha 0.05"]
    assert significance["status"] == "fail"
    assert "the gain is not significant" in significance["reason"]
    info = verdict["details"]["significance"]
    assert info["candidate_only"] > info["baseline_only"] > 0
    assert info["p_value"] > 0.05
    assert verdict["passed"] is False
    assert cli("deploy", "promo").code == 6


def test_a_version_that_wins_overall_but_loses_a_slice_is_refused(project, cli):
    guard = 'slices = { column = "region", max_drop = 0.05, min_rows = 50 }'
    project.register(probabilities(HASH < 80), spec=spec_text(extra=guard))
    assert cli("deploy", "promo").code == 0
    correct = np.where(SOUTH, HASH < 60, HASH < 95)  # much better up north, worse down south
    project.register(probabilities(correct), spec=spec_text(extra=guard))

    shown = cli("compare", "promo")
    assert shown.code == 0, shown.err
    assert "Per region" in shown.out
    assert "Verdict" in shown.out and "FAIL" in shown.out

    verdict = verdict_json(cli)
    checks = checks_of(verdict)
    assert checks["accuracy beats v1"]["status"] == "pass"
    assert checks["significant at alpha 0.05"]["status"] == "pass"
    assert checks["slice region=north"]["status"] == "pass"
    south = checks["slice region=south"]
    assert south["status"] == "fail" and "more than the allowed 0.05" in south["reason"]
    slices = verdict["details"]["candidate"]["slices"]
    assert set(slices) == {"north", "south"}
    assert slices["south"]["rows"] + slices["north"]["rows"] == verdict["details"]["rows"]
    refused = cli("deploy", "promo")
    assert refused.code == 6 and "slice region=south" in refused.err
    assert champion(project) == 1


def test_a_version_failing_the_smoke_test_is_refused_even_when_it_scores_better(project, cli):
    project.register(probabilities(HASH < 80))
    assert cli("deploy", "promo").code == 0
    # Right more often, but its "probabilities" do not sum to 1 and exceed 1.
    project.register(probabilities(HASH < 90, scale=1.5))
    verdict = verdict_json(cli)
    smoke = checks_of(verdict)["smoke test"]
    assert smoke["status"] == "fail"
    assert "outside [0, 1]" in smoke["reason"]
    assert checks_of(verdict)["accuracy beats v1"]["status"] == "pass"
    assert cli("deploy", "promo").code == 6
    assert champion(project) == 1


def test_a_first_version_failing_the_smoke_test_is_not_deployed(project, cli):
    project.register(probabilities(HASH < 90, scale=1.5))
    refused = cli("deploy", "promo")
    assert refused.code == 6 and "smoke test" in refused.err
    assert project.store.active_deployment("promo") is None


def test_rollback_restores_the_previous_champion_one_step_at_a_time(project, cli, monkeypatch):
    monkeypatch.setenv("MLKIT_USER", "grace")
    for cut in (70, 80, 90):
        project.register(probabilities(cut > HASH))
        assert cli("deploy", "promo").code == 0
    assert champion(project) == 3

    back = cli("rollback", "promo", "--reason", "v3 misbehaves in production")
    assert back.code == 0, back.err
    assert "Rolled back promo on the local endpoint: version 3 → version 2" in back.out
    assert champion(project) == 2 and project.store.get_alias("promo", "previous") == 1
    active = project.store.active_deployment("promo")
    assert (active.action, active.actor, active.reason) == (
        "rollback",
        "grace",
        "v3 misbehaves in production",
    )
    event = project.store.list_events("promo", limit=1)[0]
    assert event.kind == "rolled_back" and event.payload["rolled_back_version"] == 3

    assert cli("rollback", "promo").code == 0
    assert champion(project) == 1 and project.store.get_alias("promo", "previous") is None
    nothing = cli("rollback", "promo")
    assert nothing.code == 5
    assert "replaced no earlier deployment; there is nothing to roll back to" in nothing.err
    assert champion(project) == 1


def test_rollback_with_nothing_deployed_says_so(project, cli):
    project.register(probabilities(HASH < 80))
    result = cli("rollback", "promo")
    assert result.code == 5
    assert "has nothing deployed on endpoint 'local' to roll back" in result.err
    assert "Hint: deploy a version first: mlkit deploy promo" in result.err
    assert cli("rollback", "nope").code == 5


def test_force_overrides_a_failed_verdict_and_records_who_and_why(project, cli, monkeypatch):
    monkeypatch.setenv("MLKIT_USER", "ada")
    project.register(probabilities(HASH < 80))
    assert cli("deploy", "promo").code == 0
    loser = project.register(probabilities(HASH < 70))

    no_reason = cli("deploy", "promo", "--force")
    assert no_reason.code == 2
    assert "Error: --force needs --reason" in no_reason.err
    assert cli("deploy", "promo", "--reason", "x").code == 2
    assert champion(project) == 1

    forced = cli("deploy", "promo", "--force", "--reason", "label fix; ticket 42")
    assert forced.code == 0, forced.err
    assert "Forced by ada: label fix; ticket 42" in forced.out
    assert "forced over a failed verdict by ada" in forced.out
    verdict = project.store.latest_verdict("promo", loser)
    assert (verdict.passed, verdict.forced) == (False, True)
    assert (verdict.forced_by, verdict.force_reason) == ("ada", "label fix; ticket 42")
    assert verdict.data_fingerprint["table"] == "events"
    active = project.store.active_deployment("promo")
    assert (active.version, active.action, active.actor, active.reason) == (
        loser,
        "forced",
        "ada",
        "label fix; ticket 42",
    )
    assert active.verdict_id == verdict.id
    (v1, v2) = json.loads(cli("models", "versions", "promo", "--json").out)
    assert v2["verdict"]["forced"] is True and "champion" in v2["aliases"]
    assert cli("rollback", "promo").code == 0 and champion(project) == 1


def test_force_on_a_passing_verdict_is_an_ordinary_promotion(project, cli):
    project.register(probabilities(HASH < 80))
    result = cli("deploy", "promo", "--force", "--reason", "just in case")
    assert result.code == 0, result.err
    assert project.store.latest_verdict("promo", 1).forced is False
    assert project.store.active_deployment("promo").action == "promote"


def test_regression_uses_rmse_mae_and_a_bootstrap_interval(project, cli):
    noise = np.random.default_rng(3).normal(0.0, 5.0, size=TARGETS.size)
    project.register(TARGETS + noise)
    assert cli("deploy", "promo").code == 0
    project.register(TARGETS + 0.6 * noise)  # the same errors, smaller: a clear win
    verdict = verdict_json(cli)
    details = verdict["details"]
    assert details["task"] == "regression" and verdict["metric"] == "rmse"
    assert set(details["candidate"]["metrics"]) == {"rmse", "mae", "latency_ms", "size_mb"}
    assert details["significance"]["test"] == "bootstrap"
    low, high = details["significance"]["interval"]
    assert low < high < 0
    assert details["differences"]["rmse"] == pytest.approx(
        -0.4 * details["baseline"]["metrics"]["rmse"], rel=1e-4
    )
    assert verdict["passed"] is True

    project.register(TARGETS + 1.5 * noise)
    worse = verdict_json(cli)
    assert worse["passed"] is False
    assert checks_of(worse)["rmse beats v1"]["status"] == "fail"
    assert worse["details"]["significance"]["interval"][0] > 0


def test_compare_on_another_table_and_against_a_chosen_version(project, cli):
    from mlkit.config import load_settings
    from mlkit.data import open_warehouse

    project.register(probabilities(HASH < 80))
    project.register(probabilities(HASH < 90))
    warehouse = open_warehouse(load_settings().warehouse_path)
    holdout = warehouse.read_table("events").slice(0, 300)
    warehouse.write_table("holdout", holdout)
    plot = project.home / "cmp.png"
    result = cli(
        "compare", "promo", "--candidate", "2", "--baseline", "1", "--data", "holdout",
        "--plot", plot,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "promo: version 2 vs version 1 on 300 rows, all rows of holdout" in result.out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"Plot: {plot}" in result.out
    stored = project.store.latest_verdict("promo", 2)
    assert stored.baseline_version == 1 and stored.data_fingerprint["rows"] == 300


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--baseline", "latest"], 2, "invalid --baseline 'latest': expected 'deployed' or a"),
        (["--baseline", "2"], 2, "the candidate and the baseline are both version 2"),
        (["--baseline", "7"], 5, "has no version 7"),
        (["--data", "nope"], 3, "nope"),
        (["--data", "bad name"], 3, "invalid table name 'bad name'"),
    ],
)
def test_compare_refuses_bad_arguments_in_one_line(project, cli, args, code, message):
    project.register(probabilities(HASH < 80))
    project.register(probabilities(HASH < 90))
    result = cli("compare", "promo", *args)
    assert result.code == code, result.err
    assert message in result.err
    assert "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) <= 2


def test_a_slice_column_missing_from_the_table_is_a_data_error(project, cli):
    project.register(
        probabilities(HASH < 80), spec=spec_text(extra='slices = { column = "country" }')
    )
    result = cli("compare", "promo")
    assert result.code == 3
    assert "slice column 'country' not found in table 'events'" in result.err


def test_versions_that_cannot_be_compared_are_refused(project, cli, tmp_path):
    from tests.promotion.conftest import save_classifier

    project.register(probabilities(HASH < 80))
    project.register(TARGETS, spec=spec_text())  # a regression model on the same inputs
    mixed = cli("compare", "promo", "--candidate", "2", "--baseline", "1")
    assert mixed.code == 2
    assert "version 2 is a regression model and version 1 a classification model" in mixed.err

    orphan = save_classifier(tmp_path / "orphan", probabilities(HASH < 80))
    project.store.register_version("promo", orphan)  # no run: no experiment, no policy
    result = cli("deploy", "promo")
    assert result.code == 5
    assert "version 3 of 'promo' has no run" in result.err


def test_deploy_and_rollback_print_json_for_scripts(project, cli):
    project.register(probabilities(HASH < 80))
    result = cli("deploy", "promo", "--json")
    assert result.code == 0, result.err
    outcome = json.loads(result.out)
    assert outcome["deployed"] is True and outcome["passed"] is True
    assert outcome["deployment"]["action"] == "promote"
    assert outcome["verdict"]["details"]["smoke"]["requests"] == 3
    project.register(probabilities(HASH < 90))
    assert cli("deploy", "promo").code == 0
    back = json.loads(cli("rollback", "promo", "--json").out)
    assert back["from_version"] == 2 and back["deployment"]["version"] == 1
