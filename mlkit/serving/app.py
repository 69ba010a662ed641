"""The local endpoint's HTTP application (Starlette, served by uvicorn in ``mlkit.serving.server``).

It knows nothing of the registry. The caller passes functions that it asks on every request:

- ``resolve(model) -> list[Target] | (version, path) | None``: the model's traffic split;
- ``deployed() -> list[dict]``: what ``GET /v1/models`` lists (and ``/ready`` checks);
- ``labels(model) -> {label: version}`` (optional): the aliases TF Serving's ``/labels/`` uses.

Routes (see docs/serving.md):

- ``GET /health`` (liveness), ``GET /ready`` (readiness: the registry answers; with the token,
  the versions in memory and those refused), ``GET /metrics`` (Prometheus);
- ``GET /v1/models``: the deployed models;
- TensorFlow Serving REST: ``POST /v1/models/NAME[/versions/N|/labels/LABEL]:predict``,
  ``GET /v1/models/NAME[/versions/N|/labels/LABEL]`` (status) and ``.../metadata``;
- Vertex AI: ``POST /v1/endpoints/ENDPOINT:predict`` (also under
  ``/v1/projects/P/locations/L/``), where the endpoint is the model's name; the answer carries
  ``deployedModelId`` and ``modelVersionId``.

``HEAD`` is answered as ``GET`` without the body. Errors are ``{"error": "<one line>"}`` (Vertex
routes: ``{"error": {"code", "message", "status"}}``). A POST to a predict route takes the raw
ASGI path of ``mlkit.serving.predicting`` (run alone on the loop, or batched on the version's
batcher thread under concurrency); the other routes go through Starlette. Loading a version runs
on a worker thread. TensorFlow is imported only when the first model is loaded.
"""

from __future__ import annotations

import hmac
import itertools
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from mlkit.serving.answers import Info, error_response, json_response
from mlkit.serving.metrics import CONTENT_TYPE, EndpointMetrics
from mlkit.serving.observe import (
    AnswerObserver,
    parse_feedback,
    tell_feedback,
    valid_request_id,
)
from mlkit.serving.payload import (
    MAX_BODY_BYTES,
    MAX_INSTANCES,
    MAX_JSON_DEPTH,
    Limits,
    Reply,
    discard,
    first_headers,
    one_line,
    parse_json,
    read_body,
)
from mlkit.serving.pool import ModelPool
from mlkit.serving.predicting import Predictor, predict_route
from mlkit.serving.routing import Resolution, TargetPicker
from mlkit.serving.status import StatusPages, signature_def

__all__ = ["MAX_BODY_BYTES", "MAX_INSTANCES", "MAX_JSON_DEPTH", "EndpointApp", "Limits",
           "signature_def"]  # fmt: skip

logger = logging.getLogger("mlkit.serving")
access_logger = logging.getLogger("mlkit.serving.access")

Resolve = Callable[[str], Resolution]
Deployed = Callable[[], "list[dict]"]
Labels = Callable[[str], "dict[str, int]"]

_OPEN_PATHS = ("/health", "/ready")  # answered without a token
_METHODS = ("GET", "HEAD", "POST")
_MODEL_ROUTE = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)"
    r"(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
    r"(?P<verb>:predict|:feedback|/metadata)?$"
)
_ENDPOINT_ROUTE = re.compile(
    r"^/v1/(?:projects/[^/]+/locations/[^/]+/)?endpoints/(?P<endpoint>[^/:]+)(?P<verb>:predict)?$"
)


def _info(request: Request) -> Info:
    info = request.scope.get("mlkit")
    if not isinstance(info, Info):
        info = Info()
        request.scope["mlkit"] = info
    return info


class EndpointApp:
    """The ASGI application: ``EndpointApp(...)`` is called by uvicorn per request."""

    def __init__(
        self,
        resolve: Resolve,
        deployed: Deployed,
        *,
        pool: ModelPool,
        picker: TargetPicker,
        labels: Labels | None = None,
        token: str | None = None,
        limits: Limits | None = None,
        observers: Sequence[AnswerObserver] = (),
        metrics: EndpointMetrics | None = None,
    ) -> None:
        self.resolve = resolve
        self.deployed = deployed
        self.labels = labels or (lambda _name: {})
        self.token = token or None
        self.limits = limits or Limits()
        self.pool = pool
        self.picker = picker
        self.observers = tuple(observers)
        self.metrics = metrics or EndpointMetrics()
        self.requests_served = 0
        self.in_flight = 0
        # how many requests the server has open (their headers in, not answered), this one
        # included; None when unknown. The server sets it (uvicorn's tasks): a lone predict
        # request then skips the event-loop turn that lets concurrent ones announce themselves.
        self.open_requests: Callable[[], int] | None = None
        self._ids = itertools.count(1)
        self._id_prefix = uuid.uuid4().hex[:12]
        self.predictor = Predictor(self)
        self.pages = StatusPages(pool, self.predictor)
        self.metrics.watch_queues(self.pages.queue_depths)
        self.metrics.watch_in_flight(lambda: self.in_flight)
        routes = [
            Route("/health", self._health, methods=_METHODS),
            Route("/ready", self._ready, methods=_METHODS),
            Route("/metrics", self._metrics, methods=_METHODS),
            Route("/{rest:path}", self._dispatch, methods=_METHODS),
        ]
        self.starlette = Starlette(routes=routes)

    # -- ASGI: method check, request id, timing, metrics, access log ---------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan is off; websockets are not served
            return
        started = time.perf_counter()
        headers = dict(scope["headers"])
        given = (headers.get(b"x-request-id") or b"").decode("latin-1")
        # the client's id when it is one (observe.valid_request_id), else a new one
        request_id = given if valid_request_id(given) else self._next_id()
        info = Info(request_id=request_id, started=started)
        scope["mlkit"] = info
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", info.request_id.encode("latin-1")),
                ]
            await send(message)

        method = scope["method"]
        route = predict_route(scope) if method == "POST" else None
        if route is not None:  # the hot route: raw ASGI, no wrapper around send
            status = await self.predictor.handle(scope, receive, send, info, route)
        elif method not in _METHODS:
            status = 501
            response = json_response(
                501, {"error": f"Unsupported method ('{method}')"}, {"Connection": "close"}
            )
            await response(scope, receive, sending)
        else:
            await self.starlette(scope, receive, sending)
        self._record(scope, info, status, time.perf_counter() - started)

    def _next_id(self) -> str:
        """A request id unique to this server's run (cheaper than a uuid per request)."""
        return f"{self._id_prefix}-{next(self._ids)}"

    def _record(self, scope: Scope, info: Info, status: int, seconds: float) -> None:
        version = "" if info.version is None else str(info.version)
        try:
            self.metrics.answered(info.model, version, info.route, status, seconds)
        except Exception:  # metrics must never fail a request
            logger.exception("recording a request's metrics failed")
        if access_logger.isEnabledFor(logging.INFO):
            client = scope.get("client") or ("-", 0)
            access_logger.info(
                "%s %s %d",
                scope["method"],
                scope.get("path", "-"),
                status,
                extra={
                    "access": {
                        "client": f"{client[0]}:{client[1]}",
                        "method": scope["method"],
                        "path": scope.get("path", "-"),
                        "status": status,
                        "ms": round(seconds * 1000, 3),
                        "route": info.route,
                        "model": info.model or None,
                        "version": info.version,
                        "request_id": info.request_id,
                    }
                },
            )

    # -- answers -------------------------------------------------------------------------------

    async def _guarded(
        self, request: Request, handler: Callable[[Request, Info], Awaitable[Response]]
    ) -> Response:
        info = _info(request)
        try:
            return await handler(request, info)
        except Reply as reply:
            self.predictor.observed(info, reply.status)
            return error_response(info, reply)
        except Exception as exc:  # one line in the log and in the answer, never a traceback
            logger.error("%s %s failed: %s: %s", request.method, request.url.path,
                         type(exc).__name__, one_line(str(exc)))  # fmt: skip
            failed = Reply(500, f"the endpoint failed: {type(exc).__name__}: {one_line(str(exc))}")
            self.predictor.observed(info, 500)
            return error_response(info, failed)

    def authorize(self, request: Request, path: str) -> None:
        if path in _OPEN_PATHS:
            return
        self.authorize_headers(first_headers(request.scope))

    def authorize_headers(self, headers: dict[bytes, bytes]) -> None:
        """401 unless the request (its ``payload.first_headers``) carries the token."""
        if self._token_in(headers):
            return
        why = "missing" if not headers.get(b"authorization") else "invalid"
        raise Reply(
            401,
            f"{why} bearer token: send the header 'Authorization: Bearer <token>'",
            {"WWW-Authenticate": 'Bearer realm="mlkit"'},
            close=True,
        )

    def _has_token(self, request: Request) -> bool:
        return self._token_in(first_headers(request.scope))

    def _token_in(self, headers: dict[bytes, bytes]) -> bool:
        """No token is required, or the headers carry the right one."""
        if self.token is None:
            return True
        given = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, value = given.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode("utf-8"), self.token.encode("utf-8")
        )

    # -- routes --------------------------------------------------------------------------------

    async def _health(self, request: Request) -> Response:
        return await self._guarded(request, self._health_page)

    async def _health_page(self, request: Request, info: Info) -> Response:
        info.route = "health"
        self._only(request, "GET")
        return json_response(200, {"status": "ok"})

    async def _ready(self, request: Request) -> Response:
        return await self._guarded(request, self._ready_page)

    async def _ready_page(self, request: Request, info: Info) -> Response:
        info.route = "ready"
        self._only(request, "GET")
        try:
            models = self.deployed()
        except Exception as exc:
            message = f"not ready: cannot read the deployments: {one_line(str(exc))}"
            raise Reply(503, message) from None
        refused = self.pool.refused()
        body: dict[str, object] = {
            "status": "degraded" if refused else "ready",
            "deployed": len(models),
            "refused": len(refused),
        }
        if self._has_token(request):  # what is in memory, and why a version is refused
            body["loaded"] = [self.pages.batching(m, v) for m, v in self.pool.loaded()]
            body["refused"] = [
                {"model": m, "version": v, "reason": why} for (m, v), why in sorted(refused.items())
            ]
        return json_response(200, body)

    async def _metrics(self, request: Request) -> Response:
        return await self._guarded(request, self._metrics_page)

    async def _metrics_page(self, request: Request, info: Info) -> Response:
        info.route = "metrics"
        self.authorize(request, "/metrics")
        self._only(request, "GET")
        return Response(self.metrics.exposition(), 200, media_type=CONTENT_TYPE)

    async def _dispatch(self, request: Request) -> Response:
        return await self._guarded(request, self._route)

    async def _route(self, request: Request, info: Info) -> Response:
        path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
        path = path.split("?", 1)[0]
        model_route, endpoint_route = _MODEL_ROUTE.match(path), _ENDPOINT_ROUTE.match(path)
        info.google = endpoint_route is not None
        self.authorize(request, path)
        post = request.method == "POST"
        if path in ("/v1/models", "/v1/models/"):
            info.route = "models"
            self._only(request, "GET")
            try:
                models = self.deployed()
            except Exception as exc:
                logger.error("listing deployed models failed: %s", one_line(str(exc)))
                message = f"cannot list the deployed models: {one_line(str(exc))}"
                raise Reply(500, message) from None
            return json_response(200, {"models": models})
        if model_route is not None:
            name = unquote(model_route["name"])
            version, label = model_route["version"], model_route["label"]
            if model_route["verb"] == ":predict":  # a POST took mlkit.serving.predicting
                info.route = "predict"
                self._only(request, "POST")
            if model_route["verb"] == ":feedback":
                info.route = "feedback"
                self._only(request, "POST")
                return await self._feedback(request, name)
            info.route = "metadata" if model_route["verb"] == "/metadata" else "status"
            self._only(request, "GET")
            if model_route["verb"] == "/metadata":
                return await self.pages.metadata(info, name, version, label)
            return self.pages.status(info, name, version, label)
        if endpoint_route is not None and endpoint_route["verb"]:
            info.route = "vertex_predict"  # a POST took mlkit.serving.predicting
            self._only(request, "POST")
        if post:
            await discard(request, self.limits)
        raise Reply(404, f"no route {path}")

    def _only(self, request: Request, allowed: str) -> None:
        method = request.method
        if method == allowed or (method == "HEAD" and allowed == "GET"):
            return
        raise Reply(
            405, f"{method} is not allowed here; use {allowed}", {"Allow": allowed}, close=True
        )

    async def _feedback(self, request: Request, name: str) -> Response:
        """``POST /v1/models/NAME:feedback``: truths for answered requests, to the observers that
        take feedback (the prediction log, the bandit); see ``observe.parse_feedback``."""
        payload = parse_json(await read_body(request, self.limits), self.limits)
        items = parse_feedback(name, payload)
        if isinstance(items, str):
            raise Reply(400, items)
        tell_feedback((*self.observers, self.picker), items)
        return json_response(200, {"received": len(items), "model": name})
