"""The dashboard served by uvicorn on a free loopback port, in a thread."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

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
