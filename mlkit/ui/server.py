"""Serving the dashboard with uvicorn until interrupted."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import uvicorn

from mlkit.config import Settings
from mlkit.ui.app import make_app

DEFAULT_UI_PORT = 8790


def serve(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_UI_PORT,
    token: str | None = None,
    tensorboard: str | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the dashboard on ``host:port`` (0: a free port) until interrupted; ``on_ready``
    gets its URL once the socket is bound. The registry is opened (and checked) first."""
    app = make_app(settings, token=token, tensorboard=tensorboard)
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    )

    async def announce() -> None:
        while not server.started:
            await asyncio.sleep(0.01)
        if on_ready is not None:
            address = server.servers[0].sockets[0].getsockname()
            shown = f"[{address[0]}]" if ":" in address[0] else address[0]
            on_ready(f"http://{shown}:{address[1]}/")

    async def main() -> None:
        watcher = asyncio.create_task(announce())
        try:
            await server.serve()
        finally:
            watcher.cancel()

    asyncio.run(main())
