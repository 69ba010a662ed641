"""The local endpoint watched end to end: request ids, the prediction log, feedback, drift and the
[monitoring] check through the real `mlkit monitor`, and the bandit through `mlkit endpoints
traffic --policy bandit`; real HTTP, the real registry and warehouse."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.monitoring.conftest import shop_rows

pytest.importorskip("tensorflow")


def post(url: str, body: object, headers: dict | None = None) -> tuple[int, dict, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return (
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                json.loads(response.read()),
            )
    except urllib.error.HTTPError as error:
        return (
            error.code,
            {k.lower(): v for k, v in error.headers.items()},
            json.loads(error.read()),
        )


def replay(shop, shift: float = 0.0, rows: int = 300, seed: int = 5) -> list[tuple[str, int]]:
    """Send ``rows`` rows (one instance per request); (request id, true label) of each."""
    data = shop_rows(rows, shift=shift, seed=seed)
    sent = []
    for x, y, label in zip(data["x"], data["y"], data["label"], strict=True):
        status, _, body = post(
            f"{shop.url}/v1/models/shop:predict", {"instances": [{"x": x, "y": y}]}
        )
        assert status == 200, body
        sent.append((body["request_id"], int(label)))
    return sent


def flushed(shop) -> None:
    shop.watch.log.flush()  # waits for a write under way


def test_request_ids_come_back_in_the_header_and_the_body(shop) -> None:
    status, headers, body = post(
        f"{shop.url}/v1/models/shop:predict", {"instances": [{"x": 70.0, "y": 0.0}]}
    )
    assert status == 200 and body["predictions"][0]["class_id"] == 1
    assert headers["x-request-id"] == body["request_id"] and len(body["request_id"]) >= 8
    status, headers, body = post(
        f"{shop.url}/v1/models/shop:predict",
        {"instances": [{"x": 1.0, "y": 0.0}]},
        {"X-Request-Id": "order-17"},
    )
    assert body["request_id"] == "order-17" and headers["x-request-id"] == "order-17"
    status, _, body = post(
        f"{shop.url}/v1/models/shop:predict",
        {"instances": [{"x": 1.0, "y": 0.0}]},
        {"X-Request-Id": "bad id!"},
    )
    assert status == 200 and body["request_id"] != "bad id!"  # not an id: a new one instead
    status, _, body = post(f"{shop.url}/v1/models/shop:feedback", {"feedback": [{"label": 1}]})
    assert status == 400 and "request_id" in body["error"]


def test_monitor_shows_traffic_live_accuracy_and_flags_a_shift(shop, cli) -> None:
    sent = replay(shop, rows=250)
    status, _, body = post(
        f"{shop.url}/v1/models/shop:feedback",
        {"request_ids": [r for r, _ in sent], "labels": [label for _, label in sent]},
    )
    assert status == 200 and body["received"] == 250
    flushed(shop)
    result = cli("monitor", "shop", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    (traffic,) = report["traffic"]
    assert traffic["version"] == 1 and traffic["requests"] == 250 and traffic["errors"] == 0
    assert not [d for d in report["drift"]["1"] if d["drifted"]]
    (live,) = report["live"]["overall"]
    assert live["metric"] == "accuracy" and live["value"] == 1.0 and live["n"] == 250
    assert live["low"] > 0.98
    assert (shop.home / "monitor" / "shop.png").stat().st_size > 10_000
    assert cli("monitor", "shop", "--check").code == 0

    replay(shop, shift=30.0, rows=250, seed=6)
    flushed(shop)
    result = cli("monitor", "shop", "--since", "1h", "--check")
    assert result.code == 9, result.out + result.err
    broken = [line for line in result.out.splitlines() if line.startswith("BROKEN")]
    assert any("feature 'x' drifted" in line for line in broken), result.out
    assert "monitoring rule(s) broken for 'shop'" in result.err
    from mlkit.config import load_settings
    from mlkit.registry import open_store

    settings = load_settings()
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        check = store.latest_event("monitoring_check", "shop")
    assert check is not None and check.payload["passed"] is False


def test_bandit_moves_traffic_to_the_better_version_and_records_it(shop, cli) -> None:
    result = cli(
        "endpoints", "traffic", "shop", "1=50,2=50", "--policy", "bandit", "--min-share", "0.05"
    )
    assert result.code == 0, result.err
    assert "Policy: bandit" in result.out
    served = {1: 0, 2: 0}
    data = shop_rows(500, seed=9)
    for i, (x, y, label) in enumerate(zip(data["x"], data["y"], data["label"], strict=True)):
        _, _, body = post(f"{shop.url}/v1/models/shop:predict", {"instances": [{"x": x, "y": y}]})
        if i >= 350:
            served[body["version"]] += 1
        post(
            f"{shop.url}/v1/models/shop:feedback",
            {"feedback": [{"request_id": body["request_id"], "label": int(label)}]},
        )
    assert served[1] > 3 * served[2], served  # version 1 is right on every row, 2 on 90 %
    shop.watch.events.close()  # written out
    from mlkit.config import load_settings
    from mlkit.registry import open_store

    settings = load_settings()
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        allocation = store.latest_event("bandit_allocation", "shop")
    assert allocation is not None and float(allocation.payload["shares"]["1"]) > 0.5
    assert cli("endpoints", "traffic", "shop", "--policy", "bandit", "--target", "vertex").code == 2

    # the live metrics of both versions, compared as a verdict (promotion can use them)
    flushed(shop)
    result = cli("compare", "shop", "--online", "--candidate", "2", "--baseline", "1", "--json")
    assert result.code == 0, result.err
    verdict = json.loads(result.out)["verdict"]
    assert verdict["metric"] == "live_accuracy" and verdict["passed"] is False
    assert verdict["baseline_value"] == 1.0 and 0.7 < verdict["candidate_value"] < 1.0
    result = cli("compare", "shop", "--online", "--candidate", "1", "--baseline", "2")
    assert result.code == 0 and "PASS" in result.out, result.out


def test_the_bandit_needs_two_versions(shop, cli) -> None:
    result = cli("endpoints", "traffic", "shop", "--policy", "bandit")
    assert result.code == 2 and "at least two deployed versions" in result.err


def test_a_kind_without_a_request_log_is_not_reported_from_the_local_one(shop, cli) -> None:
    replay(shop, rows=5)
    flushed(shop)
    result = cli("monitor", "shop", "--target", "cloudrun")
    assert result.code == 2, result.out
    assert "no request log is known for 'shop' on endpoint 'cloudrun'" in result.err
    assert "--log" in result.err and "requests" not in result.out


def test_the_bandit_caps_a_version_for_its_own_broken_rules_not_for_drift(shop, cli) -> None:
    from mlkit.config import load_settings
    from mlkit.registry import open_store
    from mlkit.workflows.monitor import CHECK_EVENT
    from mlkit.workflows.serve import RegistryResolver

    assert cli("endpoints", "traffic", "shop", "1=50,2=50", "--policy", "bandit").code == 0
    settings = load_settings()
    broken = [
        "version 1: feature 'x' drifted: PSI 3.100 > max_psi 0.2",
        "version 2: live accuracy 0.9000 < min_accuracy 0.97 (n=500)",
    ]
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        store.record_event(CHECK_EVENT, model="shop", payload={"passed": False, "broken": broken})
    resolver = RegistryResolver(settings, poll_s=0)
    try:
        policy = resolver.policy("shop")
    finally:
        resolver.close()
    assert policy is not None and policy.capped == frozenset({2})
