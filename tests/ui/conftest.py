"""The dashboard served by uvicorn on a free loopback port, in a thread; a trained registry;
a headless Chromium."""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from mlkit.config import Settings
from mlkit.ui.app import make_app


@contextlib.contextmanager
def running_dashboard(settings: Settings, token: str | None = None) -> Iterator[str]:
    """``mlkit ui`` as it runs, on port 0; yields its URL."""
    config = uvicorn.Config(make_app(settings, token=token), host="127.0.0.1", port=0,
                            log_level="warning")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the dashboard did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory) -> Path:
    """A project whose registry holds trained versions, verdicts, a canary and a rollback
    (``tests/ui/story.py``), built once per session; MLKIT_TEST_UI_HOME names one built before
    (``python -m tests.ui.story DIR``) to copy instead, when working on the dashboard."""
    from tests.ui.story import build

    home = tmp_path_factory.mktemp("trained")
    built = os.environ.get("MLKIT_TEST_UI_HOME")
    if built:
        shutil.copytree(built, home, dirs_exist_ok=True)
        return home
    with pytest.MonkeyPatch.context() as patch:  # only while it is built: pages name the home
        for name in ("MLKIT_REGISTRY_URL", "MLKIT_WAREHOUSE", "MLKIT_ARTIFACTS", "MLKIT_RUNS"):
            patch.delenv(name, raising=False)
        patch.setenv("MLKIT_HOME", str(home))
        build()
    return home


def chromium_path() -> str:
    """Debian's chromium (``scripts/with-chromium.sh`` installs it and names it in
    MLKIT_CHROMIUM); the browser tests skip without one unless MLKIT_REQUIRE_CHROMIUM=1."""
    path = os.environ.get("MLKIT_CHROMIUM") or shutil.which("chromium")
    if not path:
        reason = "no chromium: run the tests through scripts/with-chromium.sh (make test does)"
        if os.environ.get("MLKIT_REQUIRE_CHROMIUM") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=chromium_path(), headless=True)
        yield chromium
        chromium.close()
