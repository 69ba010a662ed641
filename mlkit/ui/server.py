"""Serving the dashboard with uvicorn until interrupted."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import uvicorn

from mlkit.config import Settings
from mlkit.errors import ServingError
from mlkit.ui.app import make_app

DEFAULT_UI_PORT = 8790


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; ServingError (one line) when that cannot be."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(128)
        except OSError:
            sock.close()
            raise
    except OSError as exc:
        raise ServingError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="choose another --host or --port, or stop the process that holds this one",
        ) from exc
    return sock


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
    gets its URL once the socket listens. The registry is opened (and checked) first."""
    app = make_app(settings, token=token, tensorboard=tensorboard)
    sock = listen(host, port)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    if on_ready is not None:
        address = sock.getsockname()
        shown = f"[{address[0]}]" if sock.family == socket.AF_INET6 else address[0]
        on_ready(f"http://{shown}:{address[1]}/")
    try:
        asyncio.run(server.serve(sockets=[sock]))
    finally:
        sock.close()
    if server.should_exit:
        # Stopped by Ctrl-C (uvicorn's handler, then the drain): an interruption, exit 130.
        # uvicorn raises the signal again once it has restored the previous handler, which is
        # asyncio.run's; that one cancels the main task, which a task already returning can
        # miss, and asyncio.run then returns as if nothing happened (seen once in CI: exit 0).
        raise KeyboardInterrupt
