"""The local endpoint: an HTTP server that serves whichever versions the registry says are deployed.

It knows nothing of the registry. The caller passes functions that it asks on every request:

- ``resolve(model) -> list[Target] | (version, path) | None``: the model's traffic split;
- ``deployed() -> list[dict]``: what ``GET /v1/models`` lists (and ``/ready`` checks);
- ``labels(model) -> {label: version}`` (optional): the aliases TF Serving's ``/labels/`` uses.

Routes (see docs/serving.md):

- ``GET /health`` (liveness), ``GET /ready`` (readiness: the registry answers);
- ``GET /v1/models``: the deployed models;
- TensorFlow Serving REST: ``POST /v1/models/NAME[/versions/N|/labels/LABEL]:predict``,
  ``GET /v1/models/NAME[/versions/N|/labels/LABEL]`` (status) and ``.../metadata``;
- Vertex AI: ``POST /v1/endpoints/ENDPOINT:predict`` (also under
  ``/v1/projects/P/locations/L/``), where the endpoint is the model's name; the answer carries
  ``deployedModelId`` and ``modelVersionId``.

Errors are ``{"error": "<one line>"}`` (Vertex routes: ``{"error": {"code", "message",
"status"}}``). TensorFlow is imported only when the first model is loaded.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import signal
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from mlkit.config import DEFAULT_ENDPOINT_PORT
from mlkit.errors import InvalidPayload, ServingError
from mlkit.serving.observe import (
    Answered,
    AnswerObserver,
    Feedback,
    parse_feedback,
    tell_feedback,
    valid_request_id,
)
from mlkit.serving.pool import ModelPool, load_runner
from mlkit.serving.routing import Picker, Resolution, Target, TargetPicker, as_targets

logger = logging.getLogger("mlkit.serving")

Resolve = Callable[[str], Resolution]
Deployed = Callable[[], "list[dict]"]
Labels = Callable[[str], "dict[str, int]"]

MAX_BODY_BYTES = 8 * 1024 * 1024
"""Request bodies larger than this are answered 400 (as Vertex AI answers an oversized request)."""
MAX_INSTANCES = 10_000
"""The most instances one request may carry."""
_DRAIN_LIMIT = 64 * 1024 * 1024  # read and discard an oversized body up to this, to answer cleanly
_OPEN_PATHS = ("/health", "/ready")  # answered without a token
_MODEL_ROUTE = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)"
    r"(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
    r"(?P<verb>:predict|:feedback|/metadata)?$"
)
_ENDPOINT_ROUTE = re.compile(
    r"^/v1/(?:projects/[^/]+/locations/[^/]+/)?endpoints/(?P<endpoint>[^/:]+)(?P<verb>:predict)?$"
)
_GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    411: "INVALID_ARGUMENT",
    413: "INVALID_ARGUMENT",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def _one_line(text: str) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return lines[0] if lines else "unknown error"


class ModelServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        resolve: Resolve,
        deployed: Deployed,
        *,
        labels: Labels | None = None,
        token: str | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        max_instances: int = MAX_INSTANCES,
        pool: ModelPool | None = None,
        picker: TargetPicker | None = None,
        observers: Sequence[AnswerObserver] = (),
    ) -> None:
        self.resolve = resolve
        self.deployed = deployed
        self.labels = labels or (lambda _name: {})
        self.token = token or None
        self.max_body_bytes = max_body_bytes
        self.max_instances = max_instances
        self.pool = pool or ModelPool(load_runner)
        self.picker: TargetPicker = picker or Picker()
        self.observers = tuple(observers)
        self.requests_served = 0
        super().__init__(address, _Handler)
        self.pool.start_reaper()

    @property
    def cache(self) -> ModelPool:  # the name the foundation used
        return self.pool

    @property
    def bound(self) -> tuple[str, int]:
        """The ``(host, port)`` the server listens on (port 0 resolved)."""
        host, port = self.server_address[:2]
        # An AF_INET/AF_INET6 socket's address is (str, int, ...); the stubs allow any socket's.
        if not isinstance(host, str) or not isinstance(port, int):
            raise ServingError(f"the endpoint is bound to an unexpected address {host!r}:{port!r}")
        return host, port

    @property
    def url(self) -> str:
        host, port = self.bound
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}"

    def observe(self, record: Answered) -> None:
        """Tell every observer about an answer; an observer's failure never reaches the client."""
        for observer in self.observers:
            try:
                observer.answered(record)
            except Exception:
                logger.exception("observer %r failed", observer)

    def receive_feedback(self, items: list[Feedback]) -> None:
        tell_feedback((*self.observers, self.picker), items)

    def close_observers(self, timeout_s: float = 10.0) -> None:
        """Flush the observers (SIGTERM, shutdown): each gets ``timeout_s``."""
        for observer in self.observers:
            try:
                observer.close(timeout_s)
            except Exception:
                logger.exception("closing observer %r failed", observer)

    def server_close(self) -> None:
        super().server_close()
        self.pool.close()


class _Handler(BaseHTTPRequestHandler):
    server: ModelServer
    server_version = "mlkit-endpoint"
    protocol_version = "HTTP/1.1"
    timeout = 120  # seconds a connection may sit idle (or send slowly) before it is closed
    # Headers and body go out in separate writes; with Nagle's algorithm the body would wait for
    # the client's delayed ACK of the headers (about 40 ms on Linux) on every keep-alive request.
    disable_nagle_algorithm = True
    _google_errors = False

    # -- plumbing ----------------------------------------------------------------------------

    def _send_json(self, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if getattr(self, "_request_id", ""):
            self.send_header("X-Request-Id", self._request_id)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        elapsed = (time.perf_counter() - getattr(self, "_started", time.perf_counter())) * 1000
        logger.info(
            '%s "%s %s" %d %.1fms',
            self.client_address[0],
            self.command,
            self.path,
            status,
            elapsed,
        )

    def _error(self, status: int, message: str, headers: dict | None = None) -> None:
        line = _one_line(message)
        if self._google_errors:
            body: dict = {
                "error": {
                    "code": status,
                    "message": line,
                    "status": _GOOGLE_STATUS.get(status, "UNKNOWN"),
                }
            }
        else:
            body = {"error": line}
        self._send_json(status, body, headers)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # Used by http.server itself (malformed request line, unsupported method): answer in JSON.
        self.close_connection = True
        if not hasattr(self, "command") or self.command is None:
            self.command = "GET"
        if not hasattr(self, "path"):
            self.path = "-"
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "error"
        self._error(code, message or phrase)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # _send_json logs one line per request

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.client_address[0], *args)

    def handle_one_request(self) -> None:
        self._started = time.perf_counter()
        self._google_errors = False
        self._request_id = ""
        super().handle_one_request()

    def _authorized(self, path: str) -> bool:
        token = self.server.token
        if token is None or path in _OPEN_PATHS:
            return True
        given = self.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode("utf-8"), token.encode("utf-8")
        ):
            return True
        self._discard_body()
        self.close_connection = True
        why = "missing" if not given else "invalid"
        self._error(
            401,
            f"{why} bearer token: send the header 'Authorization: Bearer <token>'",
            {"WWW-Authenticate": 'Bearer realm="mlkit"'},
        )
        return False

    # -- routes ------------------------------------------------------------------------------

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        self._google_errors = _ENDPOINT_ROUTE.match(path) is not None
        if not self._authorized(path):
            return
        self._discard_body()
        if path == "/health":
            self._send_json(200, {"status": "ok"})
        elif path == "/ready":
            self._ready()
        elif path in ("/v1/models", "/v1/models/"):
            try:
                models = self.server.deployed()
            except Exception as exc:
                logger.exception("listing deployed models failed")
                self._error(500, f"cannot list the deployed models: {_one_line(str(exc))}")
                return
            self._send_json(200, {"models": models})
        elif (m := _MODEL_ROUTE.match(path)) is not None:
            if m["verb"] in (":predict", ":feedback"):
                self._method_not_allowed("POST")
            elif m["verb"] == "/metadata":
                self._metadata(unquote(m["name"]), m["version"], m["label"])
            else:
                self._status(unquote(m["name"]), m["version"], m["label"])
        elif (m := _ENDPOINT_ROUTE.match(path)) is not None and m["verb"]:
            self._method_not_allowed("POST")
        else:
            self._error(404, f"no route {path}")

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        model_route, endpoint_route = _MODEL_ROUTE.match(path), _ENDPOINT_ROUTE.match(path)
        self._google_errors = endpoint_route is not None
        if not self._authorized(path):
            return
        if model_route is not None and model_route["verb"] == ":feedback":
            self._feedback(unquote(model_route["name"]))
            return
        if model_route is not None and model_route["verb"] == ":predict":
            name, version, label = (
                unquote(model_route["name"]),
                model_route["version"],
                model_route["label"],
            )
        elif endpoint_route is not None and endpoint_route["verb"]:
            name, version, label = unquote(endpoint_route["endpoint"]), None, None
        else:
            self._discard_body()
            if path in ("/health", "/ready", "/v1/models", "/v1/models/") or model_route:
                self._method_not_allowed("GET")
            else:
                self._error(404, f"no route {path}")
            return
        payload = self._read_payload()
        if payload is None:
            return
        given = self.headers.get("X-Request-Id", "").strip()
        if given and not valid_request_id(given):
            self._error(
                400,
                "the X-Request-Id header must be 1 to 128 letters, digits or . _ : -",
            )
            return
        self._request_id = given or uuid.uuid4().hex
        instances = payload["instances"]
        route = "vertex" if endpoint_route is not None else "tfserving"
        self._predict(
            name, version, label, instances, vertex=endpoint_route is not None, route=route
        )

    # -- predict -----------------------------------------------------------------------------

    def _read_payload(self) -> dict | None:
        body = self._read_body()
        if body is None:
            return None
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self._error(400, f"the body is not valid JSON: {exc}")
            return None
        if not isinstance(payload, dict) or "instances" not in payload:
            hint = ""
            if isinstance(payload, dict) and "inputs" in payload:
                hint = " (the columnar 'inputs' format is not supported; send rows)"
            self._error(400, "the body must be a JSON object with an 'instances' list" + hint)
            return None
        unknown = sorted(set(payload) - {"instances", "parameters", "signature_name"})
        if unknown:
            self._error(
                400,
                f"unknown field '{unknown[0]}' in the body (expected: instances, parameters)",
            )
            return None
        if "parameters" in payload and not isinstance(payload["parameters"], dict | type(None)):
            self._error(400, "'parameters' must be a JSON object")
            return None
        instances = payload["instances"]
        if isinstance(instances, list) and len(instances) > self.server.max_instances:
            self._error(
                400,
                f"'instances' has {len(instances)} items; at most {self.server.max_instances} "
                "per request",
            )
            return None
        return payload

    def _targets(self, name: str) -> list[Target] | None:
        """The model's traffic split; None after answering an error."""
        try:
            targets = as_targets(self.server.resolve(name))
        except Exception as exc:
            logger.exception("resolving model '%s' failed", name)
            self._error(500, f"cannot resolve model '{name}': {_one_line(str(exc))}")
            return None
        if not targets:
            what = "endpoint" if self._google_errors else "model"
            self._error(404, f"{what} '{name}' is not deployed on this endpoint")
            return None
        return targets

    def _choose(
        self, name: str, targets: list[Target], version: str | None, label: str | None
    ) -> Target | None:
        """The version a request names, or one picked by traffic share; None after an error."""
        if version is None and label is None:
            return self.server.picker.pick(name, targets)
        if label is not None:
            label = unquote(label)
            try:
                number = self.server.labels(name).get(label)
            except Exception as exc:
                self._error(500, f"cannot read the labels of '{name}': {_one_line(str(exc))}")
                return None
            if number is None:
                self._error(404, f"model '{name}' has no label '{label}'")
                return None
        else:
            try:
                number = int(str(version))
            except ValueError:
                self._error(400, f"version must be a whole number, got {version!r}")
                return None
        for target in targets:
            if target.version == number:
                return target
        deployed = ", ".join(str(t.version) for t in sorted(targets, key=lambda t: t.version))
        named = f" (label '{label}')" if label is not None else ""
        self._error(
            404,
            f"version {number}{named} of model '{name}' is not deployed on this endpoint "
            f"(deployed: {deployed})",
        )
        return None

    def _answered(
        self,
        name: str,
        target: Target,
        route: str,
        status: int,
        instances: object,
        predictions: list,
    ) -> None:
        if not self.server.observers:
            return
        self.server.observe(
            Answered(
                request_id=self._request_id,
                model=name,
                version=target.version,
                route=route,
                status=status,
                latency_s=time.perf_counter() - self._started,
                instances=list(instances) if isinstance(instances, list) else [instances],
                predictions=predictions,
                at=time.time(),
            )
        )

    def _predict(
        self,
        name: str,
        version: str | None,
        label: str | None,
        instances: object,
        vertex: bool,
        route: str = "tfserving",
    ) -> None:
        targets = self._targets(name)
        if targets is None:
            return
        target = self._choose(name, targets, version, label)
        if target is None:
            return
        try:
            loaded = self.server.pool.get(name, target.version, target.path)
            predictions = loaded.predict_instances(instances)
        except InvalidPayload as exc:
            self._answered(name, target, route, 400, instances, [])
            self._error(400, exc.message)
            return
        except ServingError as exc:
            logger.error("model '%s' version %s failed: %s", name, target.version, exc.message)
            self._answered(name, target, route, 500, instances, [])
            self._error(500, f"model '{name}' version {target.version} failed: {exc.message}")
            return
        except Exception as exc:
            logger.exception("model '%s' version %s failed", name, target.version)
            self._answered(name, target, route, 500, instances, [])
            self._error(
                500,
                f"model '{name}' version {target.version} failed: "
                f"{type(exc).__name__}: {_one_line(str(exc))}",
            )
            return
        self.server.requests_served += 1
        body: dict[str, object]
        if vertex:
            body = {
                "predictions": predictions,
                "deployedModelId": target.id,
                "model": name,
                "modelDisplayName": name,
                "modelVersionId": str(target.version),
            }  # Vertex AI's PredictResponse has no field for it: the X-Request-Id header only
        else:
            body = {
                "predictions": predictions,
                "model": name,
                "version": target.version,
                "deployedModelId": target.id,
                "modelVersionId": str(target.version),
                "request_id": self._request_id,
            }
        # Observers hear of the answer before the client does: once a client has its answer,
        # a flush of the prediction log includes it.
        self._answered(name, target, route, 200, instances, predictions)
        self._send_json(200, body)

    # -- feedback ----------------------------------------------------------------------------

    def _feedback(self, name: str) -> None:
        """``POST /v1/models/NAME:feedback``: truths for answered requests, as
        ``{"feedback": [{"request_id": "...", "label": 3, "index": 0}, ...]}`` (``index``: the
        instance's place in its request, default 0), or ``{"request_ids": [...],
        "labels": [...]}``."""
        body = self._read_body()
        if body is None:
            return
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self._error(400, f"the body is not valid JSON: {exc}")
            return
        items = parse_feedback(name, payload)
        if isinstance(items, str):
            self._error(400, items)
            return
        self.server.receive_feedback(items)
        self._send_json(200, {"received": len(items), "model": name})

    # -- status, metadata, readiness ---------------------------------------------------------

    def _version_status(self, name: str, target: Target) -> dict:
        state = self.server.pool.state(name, target.version)
        return {
            "version": str(target.version),
            # TF Serving's states; a deployed version that is not in memory loads on first use.
            "state": {"UNLOADED": "START"}.get(state, state),
            "status": {"error_code": "OK", "error_message": ""},
            "loaded": state == "AVAILABLE",
            "traffic_percent": target.percent,
        }

    def _status(self, name: str, version: str | None, label: str | None) -> None:
        targets = self._targets(name)
        if targets is None:
            return
        chosen = targets if version is None and label is None else None
        if chosen is None:
            target = self._choose(name, targets, version, label)
            if target is None:
                return
            chosen = [target]
        statuses = [self._version_status(name, t) for t in sorted(chosen, key=lambda t: t.version)]
        self._send_json(200, {"model_version_status": statuses})

    def _metadata(self, name: str, version: str | None, label: str | None) -> None:
        targets = self._targets(name)
        if targets is None:
            return
        if version is None and label is None:
            target = max(targets, key=lambda t: (t.percent, t.version))
        else:
            chosen = self._choose(name, targets, version, label)
            if chosen is None:
                return
            target = chosen
        try:
            runner = self.server.pool.get(name, target.version, target.path).runner
        except ServingError as exc:
            self._error(500, f"model '{name}' version {target.version} failed: {exc.message}")
            return
        self._send_json(
            200,
            {
                "model_spec": {
                    "name": name,
                    "signature_name": runner.signature_name,
                    "version": str(target.version),
                },
                "metadata": {"signature_def": signature_def(runner)},
            },
        )

    def _ready(self) -> None:
        try:
            models = self.server.deployed()
        except Exception as exc:
            self._error(503, f"not ready: cannot read the deployments: {_one_line(str(exc))}")
            return
        self._send_json(
            200,
            {
                "status": "ready",
                "deployed": len(models),
                "loaded": [self._batching(m, v) for m, v in self.server.pool.loaded()],
            },
        )

    def _batching(self, model: str, version: int) -> dict:
        entry = self.server.pool.peek(model, version)
        batcher = entry.batcher if entry is not None else None
        return {
            "model": model,
            "version": version,
            "requests": batcher.requests if batcher else 0,
            "model_calls": batcher.calls if batcher else 0,
            "largest_batch": batcher.largest_batch if batcher else 0,
        }

    # -- helpers -----------------------------------------------------------------------------

    def _method_not_allowed(self, allowed: str) -> None:
        self._error(405, f"{self.command} is not allowed here; use {allowed}", {"Allow": allowed})

    def _content_length(self) -> int | None:
        raw = self.headers.get("Content-Length")
        if raw is None:
            return None
        try:
            length = int(raw)
        except ValueError:
            return -1
        return length if length >= 0 else -1

    def _discard_body(self) -> None:
        length = self._content_length()
        if length == 0 or (length is None and self.command == "GET"):
            return
        if length is None or length < 0 or length > _DRAIN_LIMIT:
            self.close_connection = True
            return
        while length > 0:
            chunk = self.rfile.read(min(length, 1 << 16))
            if not chunk:
                break
            length -= len(chunk)

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() not in ("", "identity"):
            self.close_connection = True
            self._error(411, "send the body with a Content-Length header (no chunked encoding)")
            return None
        length = self._content_length()
        if length is None:
            self.close_connection = True
            self._error(411, "a Content-Length header is required")
            return None
        if length < 0:
            self.close_connection = True
            self._error(400, "the Content-Length header is not a valid size")
            return None
        if length > self.server.max_body_bytes:
            self._discard_body()
            self.close_connection = True
            self._error(
                400,
                f"the body has {length} bytes; at most {self.server.max_body_bytes} are accepted",
            )
            return None
        body = self.rfile.read(length)
        if len(body) < length:
            self.close_connection = True
            self._error(400, "the body ended before Content-Length bytes arrived")
            return None
        return body


_TF_DTYPES = {
    "float32": "DT_FLOAT",
    "float64": "DT_DOUBLE",
    "float16": "DT_HALF",
    "string": "DT_STRING",
    "object": "DT_STRING",
}


def signature_def(runner: Any) -> dict:
    """TF Serving's metadata shape for the signature the endpoint calls (a STRING or BYTES
    feature of an mlkit export is a DT_STRING input of shape [-1])."""

    def tensor(name: str, shape: tuple, dtype: str) -> dict:
        dims = [{"size": "-1"}] + [{"size": str(-1 if d is None else d)} for d in shape]
        return {"dtype": dtype, "tensor_shape": {"dim": dims}, "name": name}

    spec = getattr(runner, "serving_spec", None)
    if spec is None:  # a runner without stored forms: its float inputs
        spec = {n: (s, runner.input_dtypes[n].name) for n, s in runner.input_spec.items()}
    inputs = {
        name: tensor(name, shape, _TF_DTYPES.get(dtype, "DT_" + dtype.upper()))
        for name, (shape, dtype) in spec.items()
    }
    outputs = {name: {"name": name} for name in runner.output_names}
    return {
        "signature_def": {
            runner.signature_name: {
                "inputs": inputs,
                "outputs": outputs,
                "method_name": "tensorflow/serving/predict",
            }
        }
    }


def make_server(
    resolve: Resolve,
    deployed: Deployed,
    host: str = "127.0.0.1",
    port: int = DEFAULT_ENDPOINT_PORT,
    *,
    labels: Labels | None = None,
    token: str | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_instances: int = MAX_INSTANCES,
    pool: ModelPool | None = None,
    picker: TargetPicker | None = None,
    observers: Sequence[AnswerObserver] = (),
) -> ModelServer:
    """Bind the endpoint (``port=0`` picks a free port; ``server.server_address`` tells it).

    Serve with ``server.serve_forever()``; stop with ``server.shutdown()`` and ``server_close()``.
    """
    try:
        return ModelServer(
            (host, port),
            resolve,
            deployed,
            labels=labels,
            token=token,
            max_body_bytes=max_body_bytes,
            max_instances=max_instances,
            pool=pool,
            picker=picker,
            observers=observers,
        )
    except OSError as exc:
        raise ServingError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="choose another port, or stop the process that holds this one",
        ) from exc


def serve(
    resolve: Resolve,
    deployed: Deployed,
    host: str = "127.0.0.1",
    port: int = DEFAULT_ENDPOINT_PORT,
    on_ready: Callable[[tuple[str, int]], None] | None = None,
    **options: Any,
) -> None:
    """Serve until Ctrl-C (or SIGTERM), then shut down cleanly.

    ``on_ready`` is called once listening, with the bound ``(host, port)`` (port 0 resolved).
    ``options`` go to :func:`make_server` (labels, token, limits, pool, picker, observers); the
    observers are closed (flushed) on the way out.
    """
    server = make_server(resolve, deployed, host, port, **options)
    previous = None
    if threading.current_thread() is threading.main_thread():

        def _terminate(signum: int, frame: object) -> None:
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        logger.info("endpoint listening at %s", server.url)
        if on_ready is not None:
            on_ready(server.bound)
        server.serve_forever()
    except KeyboardInterrupt:
        logger.info("endpoint stopping")
    finally:
        server.server_close()
        server.close_observers()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
