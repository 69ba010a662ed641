"""Aliases, verdicts, deployments and the event log."""

from __future__ import annotations

import pytest

from mlkit.errors import RegistryError, VersionNotFound


@pytest.fixture
def digits(store, saved_model):
    for i in range(3):
        store.register_version("digits", saved_model(f"v{i + 1}"))
    return store


def test_set_and_get_alias(digits):
    assert digits.get_alias("digits", "challenger") is None
    digits.set_alias("digits", "challenger", 2)
    assert digits.get_alias("digits", "challenger") == 2
    digits.set_alias("digits", "challenger", 3)
    assert digits.get_alias("digits", "challenger") == 3
    assert digits.get_version("digits", 3).aliases == ("challenger",)
    assert [mv.aliases for mv in digits.list_versions("digits")] == [(), (), ("challenger",)]


def test_alias_must_point_at_a_version_and_be_named_well(digits):
    with pytest.raises(VersionNotFound, match="model 'digits' has no version 9"):
        digits.set_alias("digits", "champion", 9)
    with pytest.raises(RegistryError, match="invalid alias name 'Champion'"):
        digits.set_alias("digits", "Champion", 1)
    assert digits.get_alias("digits", "champion") is None


def test_verdicts(digits):
    assert digits.latest_verdict("digits", 2) is None
    first = digits.record_verdict(
        "digits",
        2,
        None,
        metric="accuracy",
        candidate_value=0.95,
        baseline_value=None,
        passed=True,
        reason="no deployed version to compare with",
    )
    assert (first.candidate_version, first.baseline_version, first.passed) == (2, None, True)
    assert first.details == {} and first.forced is False
    second = digits.record_verdict(
        "digits",
        3,
        2,
        metric="accuracy",
        candidate_value=0.93,
        baseline_value=0.95,
        passed=False,
        reason="accuracy 0.930 < 0.950 - 0.005",
        details={"delta": -0.02, "n": 360},
    )
    forced = digits.record_verdict(
        "digits",
        3,
        2,
        metric="accuracy",
        candidate_value=0.93,
        baseline_value=0.95,
        passed=False,
        reason="forced by user",
        forced=True,
        forced_by="ada",
        force_reason="hotfix for a data outage",
    )
    assert second.details == {"delta": -0.02, "n": 360}
    assert digits.latest_verdict("digits", 3) == forced
    assert digits.latest_verdict("digits", 2) == first
    assert digits.list_verdicts("digits") == [first, second, forced]
    assert first.created_at.utcoffset().total_seconds() == 0


def test_verdict_versions_must_exist(digits):
    with pytest.raises(VersionNotFound, match="has no version 8"):
        digits.record_verdict(
            "digits", 2, 8, metric="a", candidate_value=1, baseline_value=1, passed=True, reason=""
        )
    assert digits.list_verdicts("digits") == []


def test_deploy_moves_champion_and_previous_and_retires_the_old(digits):
    assert digits.active_deployment("digits") is None
    first = digits.deploy("digits", 1)
    assert (first.version, first.endpoint, first.active, first.retired_at) == (
        1,
        "local",
        True,
        None,
    )
    assert digits.get_alias("digits", "champion") == 1
    assert digits.get_alias("digits", "previous") is None

    verdict = digits.record_verdict(
        "digits", 2, 1, metric="accuracy", candidate_value=0.97, baseline_value=0.95,
        passed=True, reason="better",
    )  # fmt: skip
    second = digits.deploy("digits", 2, verdict_id=verdict.id)
    assert second.verdict_id == verdict.id
    assert digits.active_deployment("digits") == second
    assert digits.get_alias("digits", "champion") == 2
    assert digits.get_alias("digits", "previous") == 1
    assert digits.get_version("digits", 2).aliases == ("champion",)

    history = digits.list_deployments(active_only=False)
    assert [d.id for d in history] == [second.id, first.id]
    retired = history[1]
    assert retired.active is False
    assert retired.retired_at is not None and retired.retired_at >= retired.deployed_at
    assert digits.list_deployments() == [second]

    # Redeploying the champion keeps previous where it is.
    digits.deploy("digits", 2)
    assert digits.get_alias("digits", "previous") == 1
    assert len(digits.list_deployments(active_only=False)) == 3
    assert len(digits.list_deployments()) == 1


def test_endpoints_are_independent(digits, saved_model):
    digits.register_version("mnist", saved_model())
    a = digits.deploy("digits", 1, endpoint="local")
    b = digits.deploy("digits", 3, endpoint="vertex")
    c = digits.deploy("mnist", 1)
    assert digits.active_deployment("digits", "local") == a
    assert digits.active_deployment("digits", "vertex") == b
    assert digits.list_deployments("local") == [c, a]
    assert digits.list_deployments("vertex") == [b]
    assert digits.active_deployment("nope") is None


def test_deploy_refuses_bad_input_and_changes_nothing(digits, saved_model):
    digits.deploy("digits", 1)
    with pytest.raises(VersionNotFound):
        digits.deploy("digits", 5)
    with pytest.raises(RegistryError, match="verdict 99 of model 'digits' not found"):
        digits.deploy("digits", 2, verdict_id=99)
    digits.register_version("mnist", saved_model())
    other = digits.record_verdict(
        "mnist", 1, None, metric="a", candidate_value=1, baseline_value=None, passed=True, reason=""
    )
    with pytest.raises(RegistryError, match=f"verdict {other.id} of model 'digits' not found"):
        digits.deploy("digits", 2, verdict_id=other.id)
    assert digits.active_deployment("digits").version == 1
    assert digits.get_alias("digits", "champion") == 1
    assert len(digits.list_deployments(active_only=False)) == 1


def test_events_follow_every_write(store, saved_model):
    assert store.last_event_id() == 0  # an empty log
    run = store.create_run("digits", spec_text="s", params={})
    store.register_version("digits", saved_model(), run_id=run.id)
    store.register_version("digits", saved_model())
    store.finish_run(run.id, status="finished")
    store.set_alias("digits", "challenger", 2)
    v = store.record_verdict(
        "digits",
        2,
        None,
        metric="a",
        candidate_value=1,
        baseline_value=None,
        passed=True,
        reason="",
    )
    store.deploy("digits", 2, verdict_id=v.id)

    events = store.list_events()
    assert [e.kind for e in events] == [
        "deployed",
        "verdict_recorded",
        "alias_set",
        "run_finished",
        "version_registered",
        "version_registered",
        "model_created",
        "run_started",
    ]
    assert [e.id for e in events] == sorted((e.id for e in events), reverse=True)
    assert store.last_event_id() == events[0].id  # the endpoint's "has anything changed" stamp
    deployed = events[0]
    assert (deployed.model, deployed.version) == ("digits", 2)
    assert deployed.payload["endpoint"] == "local"
    assert deployed.payload["verdict_id"] == v.id
    assert events[5].run_id == run.id and events[5].version == 1
    assert events[5].payload["sha256"] == store.get_version("digits", 1).artifact_sha256
    assert all(e.at.utcoffset().total_seconds() == 0 for e in events)

    assert len(store.list_events("digits")) == 6
    assert store.list_events("mnist") == []
    assert [e.kind for e in store.list_events(limit=2)] == ["deployed", "verdict_recorded"]


def test_a_refused_write_appends_no_event(digits):
    before = len(digits.list_events())
    with pytest.raises(VersionNotFound):
        digits.deploy("digits", 9)
    assert len(digits.list_events()) == before
