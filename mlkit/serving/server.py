"""The local endpoint's server: the application of ``mlkit.serving.app`` on uvicorn (uvloop,
httptools), with bounded connections (``mlkit.serving.connections``) and a graceful stop.

    server = make_server(resolve, deployed, port=0)   # binds now (port 0: a free one)
    threading.Thread(target=server.serve_forever).start()
    ...
    server.shutdown(); server.server_close()

``serve(...)`` runs it in the foreground: SIGTERM or Ctrl-C stops accepting connections, lets the
requests in flight be answered (up to ``Limits.drain_s``), flushes the observers and returns, so
``mlkit serve`` exits 0. Routes, answers and errors: ``mlkit.serving.app``. TensorFlow is
imported only when the first model is loaded.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Callable, Generator, Sequence
from dataclasses import replace
from types import FrameType
from typing import Any

import uvicorn

from mlkit.config import DEFAULT_ENDPOINT_PORT
from mlkit.errors import ServingError
from mlkit.serving.app import (
    MAX_BODY_BYTES,
    MAX_INSTANCES,
    Deployed,
    EndpointApp,
    Labels,
    Limits,
    Resolve,
    signature_def,
)
from mlkit.serving.connections import Guard, GuardedConfig
from mlkit.serving.metrics import EndpointMetrics
from mlkit.serving.observe import AnswerObserver
from mlkit.serving.pool import ModelPool, load_runner
from mlkit.serving.routing import Picker, TargetPicker

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_INSTANCES",
    "Limits",
    "ModelServer",
    "make_server",
    "serve",
    "signature_def",
]

logger = logging.getLogger("mlkit.serving")

OBSERVER_FLUSH_S = 5.0


class _Uvicorn(uvicorn.Server):
    """uvicorn's server, whose signals stop it gracefully and are not raised again afterwards
    (uvicorn re-raises them, which would end ``mlkit serve`` with SIGTERM instead of 0)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self._stop) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        if self.should_exit and signum == signal.SIGINT:
            self.force_exit = True  # a second Ctrl-C: stop without waiting
        if not self.should_exit:
            logger.info("endpoint stopping: answering the requests in flight")
        self.should_exit = True


class ModelServer:
    """A bound endpoint: ``serve_forever`` (blocks), ``shutdown`` (from another thread: drains
    and waits), ``server_close``."""

    def __init__(
        self,
        address: tuple[str, int],
        app: EndpointApp,
        limits: Limits,
    ) -> None:
        self.app = app
        self.limits = limits
        self.socket = _bind(*address)
        self.guard = Guard(
            max_connections=limits.max_connections,
            header_timeout_s=limits.header_timeout_s,
            max_header_bytes=limits.max_header_bytes,
            on_drop=lambda reason: app.metrics.dropped.labels(reason).inc(),
        )
        config = GuardedConfig(
            app,
            self.guard,
            ws="none",
            lifespan="off",
            log_config=None,
            access_log=False,
            proxy_headers=False,
            server_header=False,
            headers=[("server", "mlkit-endpoint")],
            timeout_keep_alive=limits.keep_alive_s,
            timeout_graceful_shutdown=max(1, round(limits.drain_s)),
        )
        self._uvicorn = _Uvicorn(config)
        tasks = self._uvicorn.server_state.tasks  # one per request open (headers in)
        app.open_requests = lambda: len(tasks)
        self._running = threading.Event()
        self._stopped = threading.Event()
        self._closed = False

    # -- what the foundation's ThreadingHTTPServer offered ------------------------------------

    @property
    def pool(self) -> ModelPool:
        return self.app.pool

    @property
    def cache(self) -> ModelPool:  # the name the foundation used
        return self.app.pool

    @property
    def picker(self) -> TargetPicker:
        return self.app.picker

    @property
    def metrics(self) -> EndpointMetrics:
        return self.app.metrics

    @property
    def requests_served(self) -> int:
        return self.app.requests_served

    @property
    def server_address(self) -> tuple[str, int]:
        return self.bound

    @property
    def bound(self) -> tuple[str, int]:
        """The ``(host, port)`` the server listens on (port 0 resolved)."""
        host, port = self.socket.getsockname()[:2]
        if not isinstance(host, str) or not isinstance(port, int):
            raise ServingError(f"the endpoint is bound to an unexpected address {host!r}:{port!r}")
        return host, port

    @property
    def url(self) -> str:
        host, port = self.bound
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}"

    def serve_forever(self) -> None:
        """Serve until ``shutdown`` (or, in the main thread, SIGTERM/SIGINT); then drain."""
        self._running.set()
        try:
            self.pool.start_reaper()
            self._uvicorn.run(sockets=[self.socket])
        finally:
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop accepting, let requests in flight be answered, and wait for that."""
        self._uvicorn.should_exit = True
        if self._running.is_set():
            self._stopped.wait(self.limits.drain_s + 5)

    def server_close(self) -> None:
        """Release the socket, the loaded versions and flush the observers."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            self.socket.close()
        self.pool.close()
        for observer in self.app.observers:
            try:
                observer.close(OBSERVER_FLUSH_S)
            except Exception as exc:  # one line, then the others still flush
                logger.error("closing observer %s failed: %s", type(observer).__name__, exc)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise ServingError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="choose another port, or stop the process that holds this one",
        ) from exc
    return sock


def make_server(
    resolve: Resolve,
    deployed: Deployed,
    host: str = "127.0.0.1",
    port: int = DEFAULT_ENDPOINT_PORT,
    *,
    labels: Labels | None = None,
    token: str | None = None,
    max_body_bytes: int | None = None,
    max_instances: int | None = None,
    limits: Limits | None = None,
    pool: ModelPool | None = None,
    picker: TargetPicker | None = None,
    observers: Sequence[AnswerObserver] = (),
    metrics: EndpointMetrics | None = None,
) -> ModelServer:
    """Bind the endpoint (``port=0`` picks a free port; ``server.server_address`` tells it).

    Serve with ``server.serve_forever()``; stop with ``server.shutdown()`` and ``server_close()``.
    ``picker`` chooses the version of each request (default: by traffic share); every observer
    is told each predict answer (``mlkit.serving.observe``).
    """
    limits = limits or Limits()
    if max_body_bytes is not None:
        limits = replace(limits, max_body_bytes=max_body_bytes)
    if max_instances is not None:
        limits = replace(limits, max_instances=max_instances)
    metrics = metrics or EndpointMetrics()
    pool = pool or ModelPool(load_runner)
    if pool.events is None:
        pool.events = metrics
    app = EndpointApp(
        resolve,
        deployed,
        pool=pool,
        picker=picker or Picker(),
        labels=labels,
        token=token,
        limits=limits,
        observers=observers,
        metrics=metrics,
    )
    return ModelServer((host, port), app, limits)


def serve(
    resolve: Resolve,
    deployed: Deployed,
    host: str = "127.0.0.1",
    port: int = DEFAULT_ENDPOINT_PORT,
    on_ready: Callable[[tuple[str, int]], None] | None = None,
    **options: Any,
) -> None:
    """Serve until Ctrl-C or SIGTERM, then answer the requests in flight and return.

    ``on_ready`` is called once listening, with the bound ``(host, port)`` (port 0 resolved).
    ``options`` go to :func:`make_server` (labels, token, limits, pool, picker, observers).
    """
    server = make_server(resolve, deployed, host, port, **options)
    try:
        logger.info("endpoint listening at %s", server.url)
        if on_ready is not None:
            on_ready(server.bound)
        server.serve_forever()
    except KeyboardInterrupt:
        logger.info("endpoint stopping")
    finally:
        server.server_close()
