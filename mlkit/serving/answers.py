"""What the endpoint answers, shared by its routes: the request's record (``Info``), JSON answers
and error bodies (``{"error": "<one line>"}``; on Vertex routes ``{"error": {"code", "message",
"status"}}``), as Starlette responses or sent straight on the ASGI channel (the predict path)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from starlette.background import BackgroundTask
from starlette.responses import Response
from starlette.types import Send

from mlkit.serving.payload import Reply

GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    408: "DEADLINE_EXCEEDED",
    411: "INVALID_ARGUMENT",
    413: "INVALID_ARGUMENT",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}

_JSON = (b"content-type", b"application/json")


@dataclass
class Info:
    """What a request was, for the access log, the metrics and the observers."""

    route: str = "unknown"
    model: str = ""
    version: int | None = None
    google: bool = False
    request_id: str = ""
    started: float = 0.0  # time.perf_counter() when the headers arrived
    instances: list[object] = field(default_factory=list)
    predictions: list[object] = field(default_factory=list)
    predictions_json: str = ""  # the answer's JSON of ``predictions``
    body: bytes = b""  # the predict request's body


def json_response(
    status: int,
    body: object,
    headers: dict[str, str] | None = None,
    background: BackgroundTask | None = None,
) -> Response:
    return Response(
        json.dumps(body).encode("utf-8"),
        status,
        headers,
        media_type="application/json",
        background=background,
    )


def error_body(info: Info, reply: Reply) -> dict:
    if info.google:
        status = GOOGLE_STATUS.get(reply.status, "UNKNOWN")
        return {"error": {"code": reply.status, "message": reply.message, "status": status}}
    return {"error": reply.message}


def error_response(info: Info, reply: Reply) -> Response:
    return json_response(reply.status, error_body(info, reply), reply.headers)


async def send_json(
    send: Send, status: int, body: bytes, request_id: str, headers: dict[str, str] | None = None
) -> None:
    """A JSON answer straight on the ASGI channel, with the headers a Starlette ``Response``
    would send (content-length, content-type, the given ones lowercased) and X-Request-Id."""
    raw = [(b"content-length", str(len(body)).encode("latin-1")), _JSON]
    if headers:
        raw.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())
    raw.append((b"x-request-id", request_id.encode("latin-1")))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
