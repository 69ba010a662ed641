"""What a request to the endpoint may be, and reading it: the limits (``Limits``), the body
within its size and deadline, the JSON payload within its depth, the instances as arrays with the
one rule for numbers (``mlkit.serving.values``). Errors are ``Reply`` (an answer's status and
one-line message), raised from anywhere a request is handled."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.types import Receive, Scope

from mlkit.compat import within
from mlkit.errors import InvalidPayload
from mlkit.serving.pool import Loaded
from mlkit.serving.values import arrays_break_rule, number_problem

logger = logging.getLogger("mlkit.serving")

MAX_BODY_BYTES = 8 * 1024 * 1024
"""Request bodies larger than this are answered 400 (as Vertex AI answers an oversized request)."""
MAX_INSTANCES = 10_000
"""The most instances one request may carry."""
MAX_JSON_DEPTH = 64
"""The deepest nesting of arrays and objects a request body may have (400 beyond)."""


@dataclass(frozen=True)
class Limits:
    """What one request and the endpoint as a whole may take (docs/serving.md, "Limits")."""

    max_body_bytes: int = MAX_BODY_BYTES
    max_instances: int = MAX_INSTANCES
    max_json_depth: int = MAX_JSON_DEPTH
    max_header_bytes: int = 64 * 1024
    max_connections: int = 512
    """Open connections; past it the longest idle one is closed (503 when none is idle)."""
    max_queue: int = 256
    """Predict requests accepted and not answered yet; past it: 503 with Retry-After."""
    header_timeout_s: float = 10.0
    """A request's line and headers must arrive within this."""
    body_timeout_s: float = 30.0
    """A request's body must arrive within this after its headers (408 beyond)."""
    keep_alive_s: int = 5
    """An idle keep-alive connection is closed after this."""
    drain_s: float = 30.0
    """On SIGTERM, requests in flight get this long to be answered."""


_DRAIN_LIMIT = 64 * 1024 * 1024  # read and discard an oversized body up to this, to answer cleanly


def one_line(text: str) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return lines[0] if lines else "unknown error"


class Reply(Exception):
    """An error answer, raised from anywhere in a handler."""

    def __init__(
        self, status: int, message: str, headers: dict[str, str] | None = None, close: bool = False
    ) -> None:
        super().__init__(message)
        self.status, self.message = status, one_line(message)
        self.headers = dict(headers or {})
        if close:
            self.headers["Connection"] = "close"


async def discard(request: Request, limits: Limits, limit: int = _DRAIN_LIMIT) -> None:
    """Read and drop the body (up to ``limit`` bytes, within the body deadline), so that an
    error answer reaches a client still sending."""

    async def drain() -> None:
        read = 0
        while read <= limit:
            message = await request.receive()
            read += len(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body"):
                return

    try:
        await within(drain, limits.body_timeout_s)
    except asyncio.TimeoutError:
        return


async def read_body(request: Request, limits: Limits) -> bytes:
    """The body of a request with a Content-Length, within the size limit and deadline."""
    return await read_raw_body(request.scope, request.receive, limits)


def first_headers(scope: Scope) -> dict[bytes, bytes]:
    """A request's headers by lowercase name, the first of each (as Starlette's ``Headers.get``
    answers), from the ASGI scope."""
    return dict(reversed(scope["headers"]))


async def read_raw_body(
    scope: Scope, receive: Receive, limits: Limits, headers: dict[bytes, bytes] | None = None
) -> bytes:
    """``read_body`` on the raw ASGI channel (the predict path: no Starlette ``Request``);
    ``headers``: the scope's ``first_headers`` when the caller has them already."""
    if headers is None:
        headers = first_headers(scope)
    encoding = headers.get(b"transfer-encoding", b"").decode("latin-1").lower()
    if encoding not in ("", "identity"):
        raise Reply(
            411, "send the body with a Content-Length header (no chunked encoding)", close=True
        )
    raw = headers.get(b"content-length")
    if raw is None:
        raise Reply(411, "a Content-Length header is required", close=True)
    try:
        length = int(raw.decode("latin-1"))
    except ValueError:
        length = -1
    if length < 0:
        raise Reply(400, "the Content-Length header is not a valid size", close=True)
    limit = limits.max_body_bytes
    if length > limit:
        if length <= _DRAIN_LIMIT:
            await discard(Request(scope, receive), limits)
        raise Reply(400, f"the body has {length} bytes; at most {limit} are accepted", close=True)
    chunks: list[bytes] = []
    got = 0
    timeout = limits.body_timeout_s

    async def receive_all() -> None:
        nonlocal got
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise Reply(499, "the client closed the connection", close=True)
            chunk = message.get("body", b"")
            if chunk:
                chunks.append(chunk)
                got += len(chunk)
            if not message.get("more_body", False):
                return

    try:
        await within(receive_all, timeout)
    except asyncio.TimeoutError:  # on 3.11 the builtin TimeoutError; on 3.10 asyncio's own
        client = scope.get("client")
        who = f"{client[0]}:{client[1]}" if client else "-"
        logger.info("closed the request from %s: %d of %d body bytes in %g s",
                    who, got, length, timeout)  # fmt: skip
        raise Reply(
            408,
            f"the body did not arrive within {timeout:g} s ({got} of {length} bytes)",
            close=True,
        ) from None
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if len(body) < length:
        raise Reply(400, "the body ended before Content-Length bytes arrived", close=True)
    return body


def parse_json(body: bytes, limits: Limits) -> object:
    """A request body as JSON, nested at most ``limits.max_json_depth`` deep (else 400)."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Reply(400, f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise Reply(400, _too_deep(limits)) from None
    depth = limits.max_json_depth
    if body.count(b"[") + body.count(b"{") > depth and deeper_than(payload, depth):
        raise Reply(400, _too_deep(limits))
    return payload


def parse_payload(body: bytes, limits: Limits) -> dict:
    """The JSON body of a predict request, checked: ``instances`` (and ``parameters``)."""
    payload = parse_json(body, limits)
    if not isinstance(payload, dict) or "instances" not in payload:
        hint = ""
        if isinstance(payload, dict) and "inputs" in payload:
            hint = " (the columnar 'inputs' format is not supported; send rows)"
        raise Reply(400, "the body must be a JSON object with an 'instances' list" + hint)
    unknown = sorted(set(payload) - {"instances", "parameters", "signature_name"})
    if unknown:
        raise Reply(
            400, f"unknown field '{unknown[0]}' in the body (expected: instances, parameters)"
        )
    if "parameters" in payload and not isinstance(payload["parameters"], dict | type(None)):
        raise Reply(400, "'parameters' must be a JSON object")
    instances = payload["instances"]
    most = limits.max_instances
    if isinstance(instances, list) and len(instances) > most:
        raise Reply(400, f"'instances' has {len(instances)} items; at most {most} per request")
    return payload


def _too_deep(limits: Limits) -> str:
    return f"the body is nested more than {limits.max_json_depth} levels deep"


def parse_instances(loaded: Loaded, instances: object) -> dict[str, Any]:
    """Validate instances into arrays, with the one rule for numbers (mlkit.serving.values)."""
    import numpy as np

    try:
        with np.errstate(over="ignore", invalid="ignore"):
            arrays: dict[str, Any] = loaded.runner.parse_instances(instances)
    except OverflowError:  # an integer beyond any float
        arrays = {}
    if not arrays or arrays_break_rule(arrays):
        problem = number_problem(instances, getattr(loaded.runner, "nullable", frozenset()))
        if problem:
            raise InvalidPayload(problem)
    if not arrays:
        raise InvalidPayload("the instances do not convert to numbers")
    return arrays


def deeper_than(value: object, limit: int) -> bool:
    """Whether ``value`` nests lists and objects more than ``limit`` levels (no recursion)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, list | dict):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((c, depth + 1) for c in children if isinstance(c, list | dict))
    return False
