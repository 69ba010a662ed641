"""`mlkit deploy --target vertex --log-requests` switches on Vertex AI's request-response logging
into BigQuery (the fake Vertex REST server, the real SDK) and records where, so that `mlkit
monitor` reads that table; the local endpoint refuses the option (it logs by itself)."""

from __future__ import annotations

import pytest

from mlkit.config import load_settings
from tests.fakes.vertex_endpoints import running_fake
from tests.promotion.conftest import HASH, probabilities


@pytest.fixture
def fake(monkeypatch):
    with running_fake(monkeypatch, seed=5) as vertex:
        yield vertex


def test_deploy_switches_on_request_logging_on_vertex(project, cli, fake):
    project.register(probabilities(HASH < 80))
    result = cli(
        "deploy", "promo", "--target", "vertex", "--log-requests",
        "--log-table", "bq://proj-1.logs.promo_requests",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "logged to bq://proj-1.logs.promo_requests" in result.out
    (endpoint,) = fake.endpoints.values()
    config = endpoint["predictRequestResponseLoggingConfig"]
    assert config["enabled"] is True and config["samplingRate"] == 1.0
    assert config["bigqueryDestination"]["outputUri"] == "bq://proj-1.logs.promo_requests"
    event = project.store.latest_event("request_logging", "promo")
    assert event.payload["table"] == "bq://proj-1.logs.promo_requests"

    from mlkit.workflows.monitor import log_target

    warehouse, table = log_target(load_settings(), None, project.store, "promo", "vertex")
    assert table == "promo_requests" and "logs" in warehouse.describe()

    # already deployed: the default table, switched on all the same
    again = cli("deploy", "promo", "--target", "vertex", "--log-requests")
    assert again.code == 0, again.err
    uri = endpoint["predictRequestResponseLoggingConfig"]["bigqueryDestination"]["outputUri"]
    assert uri == "bq://proj-1.mlkit_request_logs.promo_requests"


def test_the_local_endpoint_refuses_log_requests(project, cli):
    project.register(probabilities(HASH < 80))
    result = cli("deploy", "promo", "--log-requests")
    assert result.code == 2 and "mlkit serve --log" in result.err
    assert project.store.traffic("promo", "local") == []
