"""The endpoint's predict path: ``POST /v1/models/NAME[/versions/N|/labels/L]:predict`` and
``POST /v1/endpoints/ENDPOINT:predict``, answered on the raw ASGI channel (no Starlette request,
router or middleware on the hottest route; the answers, headers and errors are the same).

A request is read within its size and deadline, validated (``mlkit.serving.payload``), given a
version (the traffic split or the one it names), and run through the version's batcher:

- **alone** (no other request for the version under way or arriving, and the previous model call
  carried one request) it runs at once on the event loop: no thread hand-off, so one client gets
  close to the in-process call;
- **under concurrency** it joins the batcher's queue and its worker thread stacks the requests
  into one model call. A request yields to the event loop once before choosing, so requests
  that arrived together are all announced and batch together; it skips that turn when the
  server says no other request is open (``EndpointApp.open_requests``).

The answer is encoded once, the observers (prediction log, bandit) are told before it leaves.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from mlkit.errors import ArtifactError, InvalidPayload, ServingError
from mlkit.serving.answers import Info, error_body, send_json
from mlkit.serving.observe import Answered
from mlkit.serving.payload import (
    Reply,
    first_headers,
    one_line,
    parse_instances,
    parse_payload,
    read_raw_body,
)
from mlkit.serving.pool import Loaded
from mlkit.serving.routing import Target, as_targets

if TYPE_CHECKING:
    from mlkit.serving.app import EndpointApp

logger = logging.getLogger("mlkit.serving")

SMALL_BODY = 64 * 1024  # larger payloads are parsed on a worker thread, not on the event loop

_PREDICT = re.compile(
    r"^/v1/(?:models/(?P<name>[^/:]+)(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
    r"|(?:projects/[^/]+/locations/[^/]+/)?endpoints/(?P<endpoint>[^/:]+)):predict$"
)


def predict_route(scope: Scope) -> re.Match[str] | None:
    """The predict route a POST names, or None (then it goes to the other routes)."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if raw else scope.get("path", "")
    return _PREDICT.match(path.split("?", 1)[0])


class Predictor:
    """The predict path of one ``EndpointApp`` (its resolver, pool, picker, limits, metrics and
    observers, read from the app on each request)."""

    def __init__(self, app: EndpointApp) -> None:
        self.app = app

    # -- the raw ASGI route --------------------------------------------------------------------

    async def handle(
        self, scope: Scope, receive: Receive, send: Send, info: Info, route: re.Match[str]
    ) -> int:
        """Answer one POST to a predict route; returns the status sent."""
        vertex = route["endpoint"] is not None
        info.google = vertex
        info.route = "vertex_predict" if vertex else "predict"
        given = first_headers(scope)
        try:
            self.app.authorize_headers(given)
            if vertex:
                name = unquote(route["endpoint"])
                answer = await self.predict(scope, receive, given, info, name, None, None, True)
            else:
                name = unquote(route["name"])
                answer = await self.predict(
                    scope, receive, given, info, name, route["version"], route["label"], False
                )
            body, status, headers = answer_body(info.predictions_json, answer), 200, None
        except Reply as reply:
            body, status, headers = self._failed(info, reply)
        except Exception as exc:  # one line in the log and in the answer, never a traceback
            logger.error("POST %s failed: %s: %s", scope.get("path", "-"),
                         type(exc).__name__, one_line(str(exc)))  # fmt: skip
            failed = Reply(500, f"the endpoint failed: {type(exc).__name__}: {one_line(str(exc))}")
            body, status, headers = self._failed(info, failed)
        await send_json(send, status, body, info.request_id, headers)
        return status

    def _failed(self, info: Info, reply: Reply) -> tuple[bytes, int, dict[str, str]]:
        self.observed(info, reply.status)
        return json.dumps(error_body(info, reply)).encode("utf-8"), reply.status, reply.headers

    # -- one prediction ------------------------------------------------------------------------

    async def predict(
        self,
        scope: Scope,
        receive: Receive,
        headers: dict[bytes, bytes],
        info: Info,
        name: str,
        version: str | None,
        label: str | None,
        vertex: bool,
    ) -> dict[str, object]:
        """The answer's fields but its predictions (in ``info.predictions`` and, encoded,
        ``info.predictions_json``); see :func:`answer_body`."""
        app = self.app
        info.model = name
        body = info.body = await read_raw_body(scope, receive, app.limits, headers)
        payload = parse_payload(body, app.limits)
        instances = payload["instances"]
        if app.in_flight >= app.limits.max_queue:
            app.metrics.overloaded.inc()
            raise Reply(
                503,
                f"the endpoint is overloaded: {app.in_flight} requests are waiting "
                f"(at most {app.limits.max_queue}); retry",
                {"Retry-After": "1"},
            )
        target = self.choose(info, name, self.targets(info, name), version, label)
        info.version = target.version
        info.instances = instances if isinstance(instances, list) else []
        app.in_flight += 1  # the metrics read it when scraped
        try:
            predictions = await self._run(name, target, instances, len(body) > SMALL_BODY)
        finally:
            app.in_flight -= 1
        app.requests_served += 1
        info.predictions = list(predictions)
        # encoded once: the answer's body and the prediction log's record (see answer_body)
        info.predictions_json = json.dumps(predictions)
        answer: dict[str, object]
        if vertex:
            answer = {
                "deployedModelId": target.id,
                "model": name,
                "modelDisplayName": name,
                "modelVersionId": str(target.version),
            }
        else:
            answer = {
                "model": name,
                "version": target.version,
                "deployedModelId": target.id,
                "modelVersionId": str(target.version),
                "request_id": info.request_id,  # also the X-Request-Id header (Vertex: only there)
            }
        self.observed(info, 200)
        return answer

    def targets(self, info: Info, name: str) -> list[Target]:
        try:
            targets = as_targets(self.app.resolve(name))
        except Exception as exc:
            logger.error("resolving model '%s' failed: %s", name, one_line(str(exc)))
            raise Reply(500, f"cannot resolve model '{name}': {one_line(str(exc))}") from None
        if not targets:
            what = "endpoint" if info.google else "model"
            raise Reply(404, f"{what} '{name}' is not deployed on this endpoint")
        return targets

    def choose(
        self, info: Info, name: str, targets: list[Target], version: str | None, label: str | None
    ) -> Target:
        """The version a request names, or one picked by the picker (traffic shares)."""
        if version is None and label is None:
            return self.app.picker.pick(name, targets)
        if label is not None:
            label = unquote(label)
            try:
                number = self.app.labels(name).get(label)
            except Exception as exc:
                raise Reply(
                    500, f"cannot read the labels of '{name}': {one_line(str(exc))}"
                ) from None
            if number is None:
                raise Reply(404, f"model '{name}' has no label '{label}'")
        else:
            try:
                number = int(str(version))
            except ValueError:
                raise Reply(400, f"version must be a whole number, got {version!r}") from None
        for target in targets:
            if target.version == number:
                return target
        deployed = ", ".join(str(t.version) for t in sorted(targets, key=lambda t: t.version))
        named = f" (label '{label}')" if label is not None else ""
        raise Reply(
            404,
            f"version {number}{named} of model '{name}' is not deployed on this endpoint "
            f"(deployed: {deployed})",
        )

    async def loaded(self, name: str, target: Target) -> Loaded:
        """The version in memory, loading it on a worker thread (checked) when it is not."""
        pool = self.app.pool
        hit = pool.lookup(name, target.version, target.path)
        if hit is not None:
            return hit
        try:
            return await run_in_threadpool(pool.get, name, target.version, target.path)
        except ArtifactError as exc:
            self.app.metrics.refused(name, target.version)
            logger.error("refused model '%s' version %s: %s", name, target.version, exc.message)
            raise Reply(
                500, f"model '{name}' version {target.version} cannot be served: {exc.message}"
            ) from None
        except Exception as exc:
            raise _failed(name, target, exc) from None

    async def _run(self, name: str, target: Target, instances: object, big: bool) -> list[dict]:
        loaded = await self.loaded(name, target)
        try:
            return await _call(loaded, instances, big, self.app.open_requests)
        except InvalidPayload as exc:
            raise Reply(400, exc.message) from None
        except Exception as exc:
            raise _failed(name, target, exc) from None

    # -- observers -----------------------------------------------------------------------------

    def observed(self, info: Info, status: int) -> None:
        """Tell the observers about a predict answer (before it is sent: once a client has its
        answer, a flush of the prediction log includes it)."""
        observers = self.app.observers
        if not observers or info.version is None:
            return
        record = Answered(
            request_id=info.request_id,
            model=info.model,
            version=info.version,
            route=info.route,
            status=status,
            latency_s=time.perf_counter() - info.started,
            instances=info.instances,
            predictions=info.predictions,
            at=time.time(),
            predictions_json=info.predictions_json,
            body=info.body,
        )
        for observer in observers:
            try:
                observer.answered(record)
            except Exception as exc:  # an observer never fails a request
                logger.error("observer %s failed: %s", type(observer).__name__, one_line(str(exc)))


def answer_body(predictions_json: str, fields: dict[str, object]) -> bytes:
    """The answer's JSON: ``{"predictions": [...], **fields}``, byte for byte what
    ``json.dumps`` gives for that dict, from the predictions already encoded."""
    return ('{"predictions": ' + predictions_json + ", " + json.dumps(fields)[1:]).encode("utf-8")


async def _call(
    loaded: Loaded, instances: object, big: bool, open_requests: Callable[[], int] | None
) -> list[dict]:
    """Validate on the loop (a big payload: on a worker thread), then run alone on the loop or
    through the batcher's worker (see the module's docstring). ``open_requests``: how many
    requests the server has open, this one included (None: unknown)."""
    batcher = loaded.batcher
    batcher.announce()
    try:
        if big:
            arrays = await run_in_threadpool(parse_instances, loaded, instances)
        else:
            arrays = parse_instances(loaded, instances)
        if open_requests is None or open_requests() > 1:
            await asyncio.sleep(0)  # the requests that arrived with this one announce themselves
    except BaseException:
        batcher.withdraw()
        raise
    alone = None if big else batcher.run_alone(arrays, announced=True)
    outputs: dict[str, Any] = (
        alone if alone is not None else await batcher.submit_async(arrays, announced=big)
    )
    from mlkit.savedmodel import format_predictions  # loaded with the first model

    classes = getattr(loaded.runner, "classes", None)  # a text label's class names
    if big:
        return await run_in_threadpool(format_predictions, outputs, classes)
    return format_predictions(outputs, classes)


def _failed(name: str, target: Target, exc: Exception) -> Reply:
    """The 500 answer (and the log line) of a model that failed to load or to answer."""
    if isinstance(exc, ServingError):
        what = exc.message
    else:
        what = f"{type(exc).__name__}: {one_line(str(exc))}"
    logger.error("model '%s' version %s failed: %s", name, target.version, what)
    return Reply(500, f"model '{name}' version {target.version} failed: {what}")
