"""Serverless behaviour of the registry-driven endpoint: live deployments, canary, hot swap with
no failed request, scale to zero, waiting for a load, and server-side batching."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from mlkit.config import load_settings
from mlkit.errors import ServingError
from mlkit.registry import open_store
from mlkit.serving import client
from mlkit.serving.endpoints import LocalEndpoint
from mlkit.serving.pool import ModelPool, load_runner
from mlkit.serving.server import make_server
from mlkit.workflows.serve import RegistryResolver
from tests.serving.test_endpoint_http import pixels_for


@pytest.fixture
def home(tmp_path: Path, digits_v1: Path, digits_v2: Path):
    settings = load_settings(tmp_path)
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        store.register_version("digits", digits_v1)  # version 1: the brightest pixel's class
        store.register_version("digits", digits_v2)  # version 2: always 7
    return settings


def start(settings, **options):
    resolver = RegistryResolver(settings)
    server = make_server(
        resolver.resolve, resolver.deployed, port=0, labels=resolver.labels, **options
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture
def live(home):
    """The endpoint as `mlkit serve` runs it, and the registry it follows."""
    server, thread = start(home)
    with open_store(home.registry_url, home.artifacts_dir) as store:
        yield server, store
    server.shutdown()
    server.server_close()
    thread.join(5)


def class_of(url: str, **kwargs) -> tuple[int, int]:
    answer = client.predict(url, "digits", [pixels_for(3)], **kwargs)
    return answer["version"], answer["predictions"][0]["class_id"]


def settle() -> None:
    time.sleep(0.1)  # the resolver checks the event log at most every 50 ms


def test_deployments_rollback_and_undeploy_apply_without_restart(live) -> None:
    server, store = live
    with pytest.raises(ServingError, match="not deployed"):
        class_of(server.url)
    target = LocalEndpoint(store)
    target.deploy("digits", 1)
    settle()
    assert class_of(server.url) == (1, 3)
    target.deploy("digits", 2)
    settle()
    assert class_of(server.url) == (2, 7)
    assert class_of(server.url, label="champion") == (2, 7)
    with pytest.raises(ServingError, match=r"version 1 \(label 'previous'\) .* not deployed"):
        class_of(server.url, label="previous")  # only deployed versions serve
    target.rollback("digits")
    settle()
    assert class_of(server.url) == (1, 3)
    target.undeploy("digits")
    settle()
    with pytest.raises(ServingError, match="not deployed"):
        class_of(server.url)


def test_a_canary_gets_its_share(live) -> None:
    server, store = live
    LocalEndpoint(store).deploy("digits", 1)
    LocalEndpoint(store).deploy("digits", 2, 30)
    settle()
    seen = Counter(class_of(server.url)[0] for _ in range(200))
    assert set(seen) == {1, 2}
    assert 30 <= seen[2] <= 90, f"version 2 should get about 30 %: {seen}"
    listed = {m["version"]: m["traffic_percent"] for m in client.models(server.url)}
    assert listed == {1: 70, 2: 30}


def test_promotions_and_rollbacks_under_load_fail_no_request(live) -> None:
    server, store = live
    target = LocalEndpoint(store)
    target.deploy("digits", 1)
    stop = threading.Event()
    answers: list[tuple[int, int]] = []
    failures: list[BaseException] = []

    def hammer() -> None:
        while not stop.is_set():
            try:
                answers.append(class_of(server.url))
            except BaseException as exc:  # reported below
                failures.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for i in range(10):
            time.sleep(0.15)
            if i % 2 == 0:
                target.deploy("digits", 2)
            else:
                target.rollback("digits")
        time.sleep(0.2)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert failures == []
    assert set(answers) == {(1, 3), (2, 7)}, "every answer came whole from one version"
    assert len(answers) > 20


def test_an_idle_version_is_unloaded_and_reloads_on_the_next_request(home) -> None:
    pool = ModelPool(idle_unload_s=0.3)
    server, thread = start(home, pool=pool)
    try:
        with open_store(home.registry_url, home.artifacts_dir) as store:
            store.deploy("digits", 1)
        assert pool.loaded() == [], "nothing loads before it is used"
        assert class_of(server.url) == (1, 3)
        assert pool.loaded() == [("digits", 1)]
        deadline = time.monotonic() + 15
        while pool.loaded() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool.loaded() == [] and pool.unload_count == 1, "scaled to zero"
        status = client.status(server.url, "digits")["model_version_status"][0]
        assert status["state"] == "START" and status["loaded"] is False
        assert class_of(server.url) == (1, 3)
        assert pool.load_count == 2
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_first_requests_wait_for_a_slow_load(home) -> None:
    def slow_loader(path: Path):
        time.sleep(1.0)
        return load_runner(path)

    pool = ModelPool(slow_loader)
    server, thread = start(home, pool=pool)
    try:
        with open_store(home.registry_url, home.artifacts_dir) as store:
            store.deploy("digits", 1)
        results, errors = [], []

        def ask() -> None:
            try:
                results.append(class_of(server.url))
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=ask) for _ in range(6)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        status = client.status(server.url, "digits")["model_version_status"][0]
        assert status["state"] == "LOADING"
        for t in threads:
            t.join(60)
        assert errors == [] and results == [(1, 3)] * 6
        assert pool.load_count == 1
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_concurrent_requests_are_batched(home) -> None:
    calls: list[int] = []

    def count(features) -> None:
        calls.append(len(features["pixels"]))
        time.sleep(0.05)  # a model slow enough for requests to queue behind it

    pool = ModelPool(_runner_calling(count), batch_wait_s=0.02)
    server, thread = start(home, pool=pool)
    try:
        with open_store(home.registry_url, home.artifacts_dir) as store:
            store.deploy("digits", 1)
        class_of(server.url)  # load it
        calls.clear()
        answers: dict[int, list] = {}

        def ask(i: int) -> None:
            pixels = [pixels_for(i % 10)] * (1 + i % 3)
            answers[i] = client.predict(server.url, "digits", pixels)["predictions"]

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for i in range(16):  # each request got its own rows back, in order
            assert [p["class_id"] for p in answers[i]] == [i % 10] * (1 + i % 3)
        assert sum(calls) == sum(1 + i % 3 for i in range(16))
        assert len(calls) < 16, f"16 requests ran in {len(calls)} model calls"
        assert pool.peek("digits", 1).batcher.largest_batch > 1
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_lone_request_runs_on_the_event_loop_and_answers_as_in_process(home) -> None:
    """One client, one request at a time: after the first (timed on the worker), each model
    call runs on the server's own thread (its event loop), without a thread hand-off, and the
    answers are the in-process call's."""
    threads: list[str] = []
    record = _runner_calling(lambda _: threads.append(threading.current_thread().name))
    server, thread = start(home, pool=ModelPool(record))
    try:
        with open_store(home.registry_url, home.artifacts_dir) as store:
            store.deploy("digits", 1)
            path = store.artifact_path(store.get_version("digits", 1))
        assert server.app.open_requests is not None and server.app.open_requests() == 0
        instances = [[pixels_for(i % 10)] for i in range(12)]
        answers = [client.predict(server.url, "digits", x)["predictions"] for x in instances]
        expected = [load_runner(path).predict_instances(x) for x in instances]
        assert answers == expected
        assert threads[0] == "batcher-digits-v1"  # not timed yet: the worker
        # then on the event loop's thread (a call the worker is still finishing, or one slower
        # than 2 ms on a busy machine, may send one more through the worker)
        assert threads[-1] == thread.name, threads
        assert threads.count(thread.name) >= 6, threads
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _runner_calling(before: Callable[[dict], None]) -> type:
    """A runner class for ``ModelPool``: the real one, calling ``before(features)`` ahead of
    each model call."""

    class Calling:
        def __init__(self, path: Path) -> None:
            self.runner = load_runner(path)

        def __getattr__(self, name):
            return getattr(self.runner, name)

        def predict_arrays(self, features):
            before(features)
            return self.runner.predict_arrays(features)

    return Calling
