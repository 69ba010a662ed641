"""`mlkit serve` reads the registry on a thread of its own: a slow or unreachable registry
database never holds an answer, and a promotion still reaches the endpoint."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from mlkit.config import load_settings
from mlkit.registry import open_store
from mlkit.serving import client
from mlkit.serving.server import make_server
from mlkit.workflows.serve import RegistryResolver
from tests.serving.test_endpoint_http import pixels_for


@pytest.fixture
def settings(tmp_path: Path, digits_v1: Path, digits_v2: Path):
    settings = load_settings(tmp_path)
    with open_store(settings.registry_url, settings.artifacts_dir) as store:
        store.register_version("digits", digits_v1)  # the brightest pixel's class
        store.register_version("digits", digits_v2)  # always 7
        store.deploy("digits", 1)
    return settings


def _serving(resolver: RegistryResolver):
    server = make_server(resolver.resolve, resolver.deployed, port=0, labels=resolver.labels)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


def _answer(server) -> tuple[float, int]:
    started = time.perf_counter()
    answer = client.predict(server.url, "digits", [pixels_for(3)])
    return time.perf_counter() - started, int(answer["version"])


@pytest.mark.parametrize("registry", ["slow", "down"])
def test_a_slow_or_unreachable_registry_never_holds_an_answer(settings, registry) -> None:
    resolver = RegistryResolver(settings, poll_s=0.02)
    resolver.start_polling()
    read_stamp = resolver._store.last_event_id
    broken = threading.Event()

    def stamp() -> int:
        if broken.is_set():
            if registry == "down":
                raise ConnectionError("the registry's database does not answer")
            time.sleep(0.5)  # a registry round trip that takes half a second
        return read_stamp()

    resolver._store.last_event_id = stamp  # type: ignore[method-assign]
    server, thread = _serving(resolver)
    try:
        assert _answer(server)[1] == 1  # loads the model
        broken.set()
        waits = [_answer(server) for _ in range(40)]  # 0.5 s of polling at least
        assert {version for _, version in waits} == {1}
        assert max(seconds for seconds, _ in waits) < 0.25, waits
        # a promotion made meanwhile reaches the endpoint once the registry answers again
        with open_store(settings.registry_url, settings.artifacts_dir) as store:
            store.deploy("digits", 2)
        broken.clear()
        deadline = time.monotonic() + 5
        while _answer(server)[1] != 2:
            assert time.monotonic() < deadline, "the promotion never reached the endpoint"
            time.sleep(0.02)
    finally:
        server.shutdown()
        server.server_close()
        resolver.close()
        thread.join(5)


def test_without_the_polling_thread_a_due_check_is_made_by_the_request(settings) -> None:
    """What the thread takes off the request's path (tests keep ``poll_s=0`` this way)."""
    resolver = RegistryResolver(settings, poll_s=0)
    calls = []
    read_stamp = resolver._store.last_event_id
    resolver._store.last_event_id = lambda: calls.append(1) or read_stamp()  # type: ignore
    assert [t.version for t in resolver.resolve("digits")] == [1]
    assert [t.version for t in resolver.resolve("digits")] == [1]
    assert len(calls) == 2
    resolver.close()
