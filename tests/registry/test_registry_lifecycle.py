"""What can change about a version (tags, description, aliases, deletion), metrics by step,
references, search and lineage."""

from __future__ import annotations

import pytest

from mlkit.errors import RegistryError, UsageError, VersionNotFound


def test_resolve_name_version_and_alias(store, saved_model):
    for _ in range(3):
        store.register_version("digits", saved_model())
    store.deploy("digits", 2)  # champion moves only with a deployment
    assert store.resolve("digits").version == 3
    assert store.resolve("digits:1").version == 1
    assert store.resolve("digits@champion").version == 2
    assert store.resolve("digits@champion").aliases == ("champion",)
    with pytest.raises(RegistryError, match="model 'digits' has no alias 'prod'") as info:
        store.resolve("digits@prod")
    assert info.value.hint == "its aliases: champion"
    with pytest.raises(VersionNotFound, match="has no version 7"):
        store.resolve("digits:7")
    for bad in ("digits:x", "digits:0", "Digits", "digits@", ""):
        with pytest.raises(UsageError, match="invalid model reference"):
            store.resolve(bad)


def test_tags_set_and_remove(store, saved_model):
    store.register_version("digits", saved_model(), tags={"team": "vision"})
    mv = store.set_tags("digits", 1, {"stage": "qa", "owner": "ana"}, remove=("team",))
    assert mv.tags == {"stage": "qa", "owner": "ana"}
    assert store.get_version("digits", 1).tags == {"stage": "qa", "owner": "ana"}
    assert [e.kind for e in store.list_events("digits")][0] == "tags_set"


def test_describe_model_and_version(store, saved_model):
    store.register_version("digits", saved_model(), description="first")
    store.describe("digits", "Digit classifier")
    store.describe("digits", "retrained", version=1)
    assert store.list_models()[0].description == "Digit classifier"
    assert store.get_version("digits", 1).description == "retrained"


def test_delete_alias(store, saved_model):
    store.register_version("digits", saved_model())
    store.set_alias("digits", "challenger", 1)
    store.delete_alias("digits", "challenger")
    assert store.get_alias("digits", "challenger") is None
    with pytest.raises(RegistryError, match="has no alias 'challenger'"):
        store.delete_alias("digits", "challenger")


def test_delete_version_removes_row_aliases_artifact_and_never_reuses_the_number(
    store, saved_model
):
    for _ in range(3):
        store.register_version("digits", saved_model())
    store.set_alias("digits", "challenger", 3)
    path = store.artifact_path(store.get_version("digits", 3))
    store.delete_version("digits", 3)
    assert [mv.version for mv in store.list_versions("digits")] == [1, 2]
    assert store.get_alias("digits", "challenger") is None
    assert not path.exists()
    assert store.register_version("digits", saved_model()).version == 4
    event = store.list_events("digits")[1]
    assert (event.kind, event.version, event.payload["aliases"]) == (
        "version_deleted",
        3,
        ["challenger"],
    )


def test_deleting_a_deployed_version_is_refused(store, saved_model):
    store.register_version("digits", saved_model())
    store.register_version("digits", saved_model())
    store.deploy("digits", 1)
    with pytest.raises(RegistryError) as info:
        store.delete_version("digits", 1)
    assert info.value.message == "cannot delete model 'digits' version 1: it is deployed on local"
    assert store.artifact_path(store.get_version("digits", 1))  # untouched
    store.deploy("digits", 2)  # version 1 retires, so it can go now
    store.delete_version("digits", 1)
    assert [mv.version for mv in store.list_versions("digits")] == [2]


def test_metrics_by_step(store):
    run = store.create_run("digits", spec_text="s", params={})
    store.log_metrics(run.id, {"accuracy": 0.5, "loss": 1.5}, step=100)
    store.log_metrics(run.id, {"accuracy": 0.8}, step=200)
    store.log_metrics(run.id, {"accuracy": 0.9}, step=200)  # the same step again replaces it
    got = [(p.key, p.step, p.value) for p in store.metric_history(run.id)]
    assert got == [("accuracy", 100, 0.5), ("accuracy", 200, 0.9), ("loss", 100, 1.5)]
    with pytest.raises(RegistryError, match="invalid step -1"):
        store.log_metrics(run.id, {"accuracy": 1.0}, step=-1)
    with pytest.raises(RegistryError, match="expected a finite number"):
        store.log_metrics(run.id, {"accuracy": float("nan")}, step=1)
    with pytest.raises(RegistryError, match="run 99 not found"):
        store.log_metrics(99, {"accuracy": 1.0}, step=1)


def test_run_environment_and_tags(store):
    run = store.create_run(
        "digits", spec_text="s", params={}, environment={"python": "3.11"}, tags={"team": "ml"}
    )
    again = store.get_run(run.id)
    assert (again.environment, again.tags) == ({"python": "3.11"}, {"team": "ml"})


def test_search_versions(store, saved_model):
    for i, team in enumerate(["vision", "ml", "ops", "ml"]):
        store.register_version(
            "digits", saved_model(), metrics={"accuracy": 0.97 + i / 100}, tags={"team": team}
        )
    where = "metrics.accuracy > 0.975 and (tags.team = 'vision' or tags.team = 'ml')"
    assert [v.version for v in store.search_versions("digits", where=where)] == [2, 4]
    ranked = store.search_versions("digits", sort="metrics.accuracy:desc", limit=2)
    assert [v.version for v in ranked] == [4, 3]
    assert [v.version for v in store.search_versions("digits", limit=2)] == [3, 4]


def test_list_runs_where_and_sort(store):
    for acc in (0.5, 0.9, 0.7):
        run = store.create_run("digits", spec_text="s", params={"lr": acc})
        store.finish_run(run.id, status="finished", metrics={"accuracy": acc})
    store.create_run("iris", spec_text="s", params={})
    assert [r.id for r in store.list_runs(where="metrics.accuracy >= 0.7")] == [3, 2]
    assert [r.id for r in store.list_runs(sort="metrics.accuracy", limit=2)] == [1, 3]
    assert [r.id for r in store.list_runs(where="status = 'running'")] == [4]
    assert [r.id for r in store.list_runs("digits", where="params.lr < 0.6")] == [1]
    with pytest.raises(UsageError, match="unknown field 'accuracy'"):
        store.list_runs(where="accuracy > 1")


def test_lineage_and_versions_of_run(store, saved_model):
    run = store.create_run("digits", spec_text="s", params={}, experiment_path="exp.toml")
    store.finish_run(run.id, status="finished", data_fingerprint={"content_sha256": "ab" * 32})
    store.register_version("digits", saved_model(), run_id=run.id)
    store.register_version("digits", saved_model(), run_id=run.id)
    store.register_version("digits", saved_model())
    store.deploy("digits", 1)
    store.deploy("digits", 2)
    lineage = store.lineage("digits", 1)
    assert lineage.run.experiment_path == "exp.toml"
    assert lineage.run.data_fingerprint == {"content_sha256": "ab" * 32}
    assert [(d.version, d.active) for d in lineage.deployments] == [(1, False)]
    assert [v.version for v in store.versions_of_run(run.id)] == [1, 2]
    assert store.lineage("digits", 3).run is None


def test_newest_versions_and_count(store, saved_model):
    for _ in range(5):
        store.register_version("digits", saved_model())
    store.delete_version("digits", 5)
    assert [v.version for v in store.list_versions("digits", newest=2)] == [3, 4]
    assert store.count_versions("digits") == 4
    with pytest.raises(RegistryError, match="invalid limit 0"):
        store.list_versions("digits", newest=0)
