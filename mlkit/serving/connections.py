"""Bounded connections for the endpoint: uvicorn's httptools protocol with a cap and deadlines.

uvicorn bounds an idle keep-alive connection (``timeout_keep_alive``) but not a connection that
never finishes its headers, nor the size of those headers, nor how many connections are open.
``GuardedProtocol`` adds, per server (``Guard``):

- a **connection cap**: past ``max_connections`` open connections, the one idle longest is
  closed to make room; when none is idle, the new one is answered 503 with ``Retry-After``;
- a **header deadline**: a request's line and headers must arrive within ``header_timeout_s``
  of the connection opening (or of the previous answer on a keep-alive connection);
- a **header size limit** (``max_header_bytes``: 431);
- malformed requests answered in the endpoint's JSON error shape;
- **one log line** per client dropped before its answer (no traceback).

The body's deadline and size are the application's (``mlkit.serving.app``): it knows the route.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

logger = logging.getLogger("mlkit.serving")

_PHRASES = {400: "Bad Request", 408: "Request Timeout", 431: "Request Header Fields Too Large",
            503: "Service Unavailable"}  # fmt: skip


class _HeadersTooLarge(Exception):
    pass


@dataclass
class Guard:
    """The limits one server applies to its connections, and what it has seen."""

    max_connections: int = 512
    header_timeout_s: float = 10.0
    max_header_bytes: int = 64 * 1024
    on_drop: Callable[[str], None] | None = None  # told the reason of each dropped client
    open: dict[GuardedProtocol, float] = field(default_factory=dict)  # -> last activity

    def dropped(self, reason: str) -> None:
        if self.on_drop is not None:
            self.on_drop(reason)


class GuardedConfig(Config):
    """uvicorn's Config, carrying the server's ``Guard`` to its protocols."""

    def __init__(self, app: Any, guard: Guard, **kwargs: Any) -> None:
        super().__init__(app, http=GuardedProtocol, **kwargs)
        self.guard = guard


class GuardedProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.guard = config.guard if isinstance(config, GuardedConfig) else Guard()
        self._deadline: asyncio.TimerHandle | None = None
        self._header_bytes = 0
        self._started = False  # a request's first bytes have arrived, its headers have not

    # -- the cap ---------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(cast(asyncio.Transport, transport))
        guard = self.guard
        guard.open[self] = self.loop.time()
        self._arm()
        if len(guard.open) <= guard.max_connections:
            return
        idle = [p for p in guard.open if p is not self and p._idle()]
        if idle:
            oldest = min(idle, key=lambda p: guard.open[p])
            guard.dropped("evicted_idle")
            logger.info("closed an idle connection from %s: over %d connections",
                        oldest._who(), guard.max_connections)  # fmt: skip
            oldest.transport.close()
            return
        guard.dropped("connection_cap")
        logger.warning("refused a connection from %s: %d connections are busy",
                       self._who(), guard.max_connections)  # fmt: skip
        self._refuse(503, f"the endpoint has {guard.max_connections} busy connections; retry",
                     {"Retry-After": "1"})  # fmt: skip

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.guard.open.pop(self, None)
        if self.cycle is not None and not self.cycle.response_complete:
            self.guard.dropped("client_gone")
            what = f"{self.scope.get('method', '-')} {self.scope.get('path', '-')}"
            logger.info('client %s dropped the connection before its answer ("%s")',
                        self._who(), what)  # fmt: skip
        elif self._started:
            self.guard.dropped("client_gone")
            logger.info("client %s dropped the connection in the middle of its headers",
                        self._who())  # fmt: skip
        super().connection_lost(exc)

    def _idle(self) -> bool:
        return not self._started and (self.cycle is None or self.cycle.response_complete)

    def _who(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "-"

    # -- the header deadline and size -------------------------------------------------------------

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.guard.header_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # its headers arrived; the application's deadline applies now
        if self._started:
            self.guard.dropped("header_timeout")
            logger.info("closed the connection from %s: its headers did not arrive within %g s",
                        self._who(), self.guard.header_timeout_s)  # fmt: skip
            self._refuse(408, f"the request's headers did not arrive within "
                         f"{self.guard.header_timeout_s:g} s")  # fmt: skip
        else:
            self.transport.close()  # idle: nothing to answer

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        self.guard.open[self] = self.loop.time()
        if not self._started and (self.cycle is None or self.cycle.response_complete):
            self._started = True
            self._header_bytes = 0
        try:
            self.parser.feed_data(data)
        except _HeadersTooLarge:
            self.guard.dropped("headers_too_large")
            self._refuse(431, f"the request's headers exceed {self.guard.max_header_bytes} bytes")
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _HeadersTooLarge):
                self.guard.dropped("headers_too_large")
                self._refuse(
                    431, f"the request's headers exceed {self.guard.max_header_bytes} bytes"
                )
            else:
                self.send_400_response("the request is not valid HTTP")
        except httptools.HttpParserUpgrade:
            self._unsupported_upgrade_warning()
        except httptools.HttpParserError:
            self.send_400_response("the request is not valid HTTP")

    def _count(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > self.guard.max_header_bytes:
            raise _HeadersTooLarge

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._started = False
        self._disarm()
        super().on_headers_complete()
        if self.cycle is not None:  # the answer's head and body leave in one write
            self.cycle.transport = _OneWrite(self.transport, self.loop)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self.pipeline:
            self._arm()

    # -- answers the application never sees --------------------------------------------------------

    def send_400_response(self, msg: str) -> None:
        self.guard.dropped("bad_request")
        logger.info("answered 400 to %s: %s", self._who(), msg)
        self._refuse(400, msg)

    def _refuse(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        body = json.dumps({"error": message}).encode("utf-8")
        lines = [f"HTTP/1.1 {status} {_PHRASES.get(status, 'Error')}",
                 "content-type: application/json", f"content-length: {len(body)}",
                 "connection: close"]  # fmt: skip
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if not self.transport.is_closing():
            self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
            self.transport.close()


class _OneWrite(asyncio.Transport):
    """The transport of one request's answer: uvicorn writes an answer's status line and headers,
    then its body, each with its own ``write`` (two sends, and two wake-ups of the client); this
    holds the head back until the body follows and writes both at once. Held bytes go out at the
    latest on the loop's next turn, or before a close."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._first = True

    def write(self, data: bytes | bytearray | memoryview) -> None:
        data = bytes(data)
        if self._first:  # the head: held until the body follows (or the loop turns)
            self._first = False
            self._held = data
            self._loop.call_soon(self._flush)
            return
        if self._held is not None:
            data, self._held = self._held + data, None
        self._transport.write(data)

    def _flush(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)
