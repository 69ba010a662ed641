"""`mlkit deploy` on every endpoint kind through the real CLI: a forced canary keeps who and why on
the verdict and the deployment (on Vertex AI, against the fake Vertex REST server with the real
SDK, and locally), and a deploy whose verdict no longer compares with what serves is refused,
also when two deploys race."""

from __future__ import annotations

import threading

import pytest

from mlkit.config import load_settings
from mlkit.errors import PromotionRefused
from tests.fakes.vertex_endpoints import running_fake
from tests.promotion.conftest import HASH, probabilities

REASON = "canary of the label fix, ticket 42"


@pytest.fixture
def fake(monkeypatch):
    with running_fake(monkeypatch, seed=5) as vertex:
        yield vertex


def _forced_canary(project, cli, target: str) -> tuple:
    project.register(probabilities(HASH < 80))
    assert cli("deploy", "promo", "--target", target).code == 0
    loser = project.register(probabilities(HASH < 70))
    refused = cli("deploy", "promo", "--target", target, "--traffic", "10")
    assert refused.code == 6, refused.err
    forced = cli(
        "deploy", "promo", "--target", target, "--traffic", "10", "--force", "--reason", REASON
    )
    assert forced.code == 0, forced.err
    assert "with 10% of the traffic (forced over a failed verdict by ada)" in forced.out
    verdict = project.store.latest_verdict("promo", loser)
    assert (verdict.passed, verdict.forced) == (False, True)
    assert (verdict.forced_by, verdict.force_reason) == ("ada", REASON)
    split = project.store.traffic("promo", target)
    assert [(d.version, d.traffic_percent) for d in split] == [(1, 90), (loser, 10)]
    canary = split[1]
    assert (canary.action, canary.actor, canary.reason) == ("forced", "ada", REASON)
    assert canary.verdict_id == verdict.id
    event = project.store.list_events("promo", limit=1)[0]
    assert (event.kind, event.payload["action"]) == ("deployed", "forced")
    assert (event.payload["actor"], event.payload["reason"]) == ("ada", REASON)
    assert event.payload["split"] == {"1": 90, str(loser): 10}
    assert project.store.get_alias("promo", "champion") == 1, "a 10 % canary is not champion"
    return split


def test_a_forced_canary_on_vertex_keeps_who_and_why(project, cli, fake, monkeypatch):
    monkeypatch.setenv("MLKIT_USER", "ada")
    split = _forced_canary(project, cli, "vertex")
    (endpoint,) = fake.endpoints.values()
    ids = {d.version: d.resources["deployed_model_id"] for d in split}
    assert endpoint["trafficSplit"] == {ids[1]: 90, ids[2]: 10}
    assert {d.resources["endpoint"] for d in split} == {endpoint["name"]}
    assert project.store.traffic("promo", "local") == []
    # Rolling the canary back on Vertex AI: nothing came before version 1 there, so the canary
    # is retired and version 1 takes all the traffic back; a second rollback has nothing left.
    back = cli("rollback", "promo", "--target", "vertex", "--reason", "canary errors")
    assert back.code == 0, back.err
    assert endpoint["trafficSplit"] == {ids[1]: 100}
    assert [d["id"] for d in endpoint["deployedModels"]] == [ids[1]]
    restored = project.store.active_deployment("promo", "vertex")
    assert (restored.version, restored.action, restored.actor, restored.reason) == (
        1, "rollback", "ada", "canary errors",
    )  # fmt: skip
    again = cli("rollback", "promo", "--target", "vertex")
    assert again.code == 5 and "nothing to roll back to" in again.err


def test_a_forced_canary_on_cloud_run_keeps_who_and_why(project, cli, monkeypatch):
    from tests.fakes.cloud_run import running_cloud_run

    monkeypatch.setenv("MLKIT_USER", "ada")
    with running_cloud_run(monkeypatch) as run:
        split = _forced_canary(project, cli, "cloudrun")
        (service,) = run.services.values()
        statuses = {s["revision"]: s["percent"] for s in service["trafficStatuses"]}
        assert statuses == {"mlkit-promo-v1": 90, "mlkit-promo-v2": 10}
        assert {d.resources["revision"] for d in split} == set(statuses)
        back = cli("rollback", "promo", "--target", "cloudrun", "--reason", "canary errors")
        assert back.code == 0, back.err
        statuses = {s["revision"]: s["percent"] for s in run.services[service["name"]][
            "trafficStatuses"]}  # fmt: skip
        assert statuses == {"mlkit-promo-v1": 100}
        assert len(run.revisions) == 2, "a rollback moves traffic to a revision that exists"


def test_a_forced_canary_on_the_local_endpoint_keeps_who_and_why(project, cli, monkeypatch):
    monkeypatch.setenv("MLKIT_USER", "ada")
    split = _forced_canary(project, cli, "local")
    assert all(d.resources == {} for d in split)


def _moving(monkeypatch, where: str, project, version: int) -> None:
    """Deploy ``version`` (as another `mlkit deploy` finishing first would) at ``where``."""
    from mlkit.workflows import promote

    def other_deploy() -> None:
        project.store.deploy("promo", version, actor="bob")

    if where == "after judging":
        judge = promote._judge

        def judged_then_moved(*args, **kwargs):
            result = judge(*args, **kwargs)
            other_deploy()
            return result

        monkeypatch.setattr(promote, "_judge", judged_then_moved)
    else:  # inside the endpoint's deploy, after it read the split: only the registry sees it
        from mlkit.serving.endpoints import LocalEndpoint

        apply = LocalEndpoint._apply

        def moved_then_applied(self, model, split):
            other_deploy()
            return apply(self, model, split)

        monkeypatch.setattr(LocalEndpoint, "_apply", moved_then_applied)


@pytest.mark.parametrize("where", ["after judging", "inside the write"])
def test_a_deploy_is_refused_when_what_serves_changed_since_its_verdict(
    project, cli, monkeypatch, where
):
    project.register(probabilities(HASH < 80))
    assert cli("deploy", "promo").code == 0
    worse = project.register(probabilities(HASH < 85))
    better = project.register(probabilities(HASH < 95))
    _moving(monkeypatch, where, project, better)
    result = cli("deploy", "promo", "--version", str(worse))
    assert result.code == 6, (result.out, result.err)
    assert f"promo version {worse} was not deployed" in result.err
    assert "compared version 2 of 'promo' with version 1" in result.err
    assert f"serves version {better} now" in result.err
    assert "Hint: deploy again to compare with what serves now" in result.err
    served = project.store.active_deployment("promo")
    assert (served.version, served.actor) == (better, "bob"), "the better version stays live"
    assert project.store.get_alias("promo", "champion") == better
    assert [d.version for d in project.store.traffic("promo")] == [better]


def test_two_deploys_started_together_put_only_one_live(project, monkeypatch):
    """Both judge against version 1, then both promote: the second to write is refused."""
    from mlkit.workflows import promote

    project.register(probabilities(HASH < 80))
    promote.deploy("promo", load_settings())
    candidates = [project.register(probabilities(p > HASH)) for p in (95, 85)]
    judge, barrier = promote._judge, threading.Barrier(2, timeout=120)

    def judge_together(*args, **kwargs):
        result = judge(*args, **kwargs)
        barrier.wait()  # both verdicts are against version 1 before either promotes
        return result

    monkeypatch.setattr(promote, "_judge", judge_together)
    outcomes: dict[int, object] = {}

    def run(version: int) -> None:
        try:
            outcomes[version] = promote.deploy("promo", load_settings(), version=version)
        except PromotionRefused as exc:
            outcomes[version] = exc

    threads = [threading.Thread(target=run, args=(v,)) for v in candidates]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    refused = [v for v, o in outcomes.items() if isinstance(o, PromotionRefused)]
    deployed = [v for v, o in outcomes.items() if not isinstance(o, PromotionRefused)]
    assert len(refused) == 1 and len(deployed) == 1, outcomes
    assert outcomes[deployed[0]].deployed
    assert "serves version" in outcomes[refused[0]].message
    assert [d.version for d in project.store.traffic("promo")] == deployed
    assert project.store.get_alias("promo", "champion") == deployed[0]
