"""The local endpoint: an HTTP server that serves whichever version the registry says is deployed.

It knows nothing of the registry. The caller passes two functions:

- ``resolve(model_name) -> (version, savedmodel_path) | None``: the active deployment of a model,
  asked on every request, so a new deployment takes effect on the next request without a restart;
- ``deployed() -> list[dict]``: what ``GET /v1/models`` lists.

Routes: ``GET /health``, ``GET /v1/models``, ``POST /v1/models/{name}:predict``
(see docs/architecture.md, "Prediction payloads"). Errors are ``{"error": "<one line>"}``.
TensorFlow is imported only when the first model is loaded.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from mlkit.config import DEFAULT_ENDPOINT_PORT
from mlkit.errors import InvalidPayload, ServingError

logger = logging.getLogger("mlkit.serving")

Resolve = Callable[[str], "tuple[int, Path] | None"]
Deployed = Callable[[], "list[dict]"]

MAX_BODY_BYTES = 8 * 1024 * 1024
"""Request bodies larger than this are answered 413."""
_DRAIN_LIMIT = 64 * 1024 * 1024  # read and discard an oversized body up to this, to answer cleanly
_PREDICT_PREFIX, _PREDICT_SUFFIX = "/v1/models/", ":predict"


def _one_line(text: str) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return lines[0] if lines else "unknown error"


def _load_runner(path: Path) -> Any:
    from mlkit.savedmodel import SavedModelRunner  # TensorFlow: only when a model is served

    return SavedModelRunner(path)


class RunnerCache:
    """Loaded models by (model, version); concurrent first requests for one version load it once.

    Keeps at most ``keep_versions`` versions of each model (least recently used dropped first);
    a request still holding a dropped runner finishes with it.
    """

    def __init__(self, loader: Callable[[Path], Any] = _load_runner, keep_versions: int = 2):
        self._loader = loader
        self._keep = max(1, keep_versions)
        self._lock = threading.Lock()
        self._key_locks: dict[tuple[str, int], threading.Lock] = {}
        self._runners: OrderedDict[tuple[str, int], tuple[Path, Any]] = OrderedDict()
        self.load_count = 0

    def get(self, model: str, version: int, path: Path) -> Any:
        key = (model, version)
        with self._lock:
            hit = self._runners.get(key)
            if hit is not None and hit[0] == Path(path):
                self._runners.move_to_end(key)
                return hit[1]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:  # someone else may have loaded it while we waited
                hit = self._runners.get(key)
                if hit is not None and hit[0] == Path(path):
                    self._runners.move_to_end(key)
                    return hit[1]
            logger.info("loading model '%s' version %d from %s", model, version, path)
            started = time.perf_counter()
            runner = self._loader(Path(path))
            logger.info(
                "loaded model '%s' version %d in %.1f s",
                model,
                version,
                time.perf_counter() - started,
            )
            with self._lock:
                self.load_count += 1
                self._runners[key] = (Path(path), runner)
                self._runners.move_to_end(key)
                same_model = [k for k in self._runners if k[0] == model]
                for old in same_model[: max(0, len(same_model) - self._keep)]:
                    del self._runners[old]
                    self._key_locks.pop(old, None)
                    logger.info("dropped model '%s' version %d from memory", *old)
            return runner

    def loaded(self) -> list[tuple[str, int]]:
        with self._lock:
            return list(self._runners)


class ModelServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        resolve: Resolve,
        deployed: Deployed,
        *,
        max_body_bytes: int = MAX_BODY_BYTES,
        cache: RunnerCache | None = None,
    ) -> None:
        self.resolve = resolve
        self.deployed = deployed
        self.max_body_bytes = max_body_bytes
        self.cache = cache or RunnerCache()
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = f"[{host}]" if ":" in str(host) else host
        return f"http://{host}:{port}"


class _Handler(BaseHTTPRequestHandler):
    server: ModelServer
    server_version = "mlkit-endpoint"
    protocol_version = "HTTP/1.1"
    timeout = 120  # seconds a connection may sit idle (or send slowly) before it is closed

    # -- plumbing ----------------------------------------------------------------------------

    def _send_json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
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

    def _error(self, status: int, message: str) -> None:
        self._send_json(status, {"error": _one_line(message)})

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
        super().handle_one_request()

    # -- routes ------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._discard_body()
        path = urlsplit(self.path).path
        if path == "/health":
            self._send_json(200, {"status": "ok"})
        elif path in ("/v1/models", "/v1/models/"):
            try:
                models = self.server.deployed()
            except Exception as exc:
                logger.exception("listing deployed models failed")
                self._error(500, f"cannot list the deployed models: {_one_line(str(exc))}")
                return
            self._send_json(200, {"models": models})
        elif self._predict_target(path) is not None:
            self._method_not_allowed("POST")
        else:
            self._error(404, f"no route {path}")

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        name = self._predict_target(path)
        if name is None:
            self._discard_body()
            if path in ("/health", "/v1/models", "/v1/models/"):
                self._method_not_allowed("GET")
            else:
                self._error(404, f"no route {path}")
            return
        body = self._read_body()
        if body is None:
            return
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self._error(400, f"the body is not valid JSON: {exc}")
            return
        if not isinstance(payload, dict) or "instances" not in payload:
            self._error(400, "the body must be a JSON object with an 'instances' list")
            return
        self._predict(name, payload["instances"])

    def _predict(self, name: str, instances: object) -> None:
        try:
            target = self.server.resolve(name)
        except Exception as exc:
            logger.exception("resolving model '%s' failed", name)
            self._error(500, f"cannot resolve model '{name}': {_one_line(str(exc))}")
            return
        if target is None:
            self._error(404, f"model '{name}' is not deployed on this endpoint")
            return
        version, path = target
        try:
            runner = self.server.cache.get(name, version, Path(path))
            predictions = runner.predict_instances(instances)
        except InvalidPayload as exc:
            self._error(400, exc.message)
            return
        except ServingError as exc:
            logger.error("model '%s' version %s failed: %s", name, version, exc.message)
            self._error(500, f"model '{name}' version {version} failed: {exc.message}")
            return
        except Exception as exc:
            logger.exception("model '%s' version %s failed", name, version)
            self._error(
                500,
                f"model '{name}' version {version} failed: "
                f"{type(exc).__name__}: {_one_line(str(exc))}",
            )
            return
        self._send_json(200, {"predictions": predictions, "model": name, "version": version})

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _predict_target(path: str) -> str | None:
        if not (path.startswith(_PREDICT_PREFIX) and path.endswith(_PREDICT_SUFFIX)):
            return None
        name = unquote(path[len(_PREDICT_PREFIX) : -len(_PREDICT_SUFFIX)])
        return name if name and "/" not in name else None

    def _method_not_allowed(self, allowed: str) -> None:
        self._error(405, f"{self.command} is not allowed here; use {allowed}")

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
                413,
                f"the body has {length} bytes; at most {self.server.max_body_bytes} are accepted",
            )
            return None
        body = self.rfile.read(length)
        if len(body) < length:
            self.close_connection = True
            self._error(400, "the body ended before Content-Length bytes arrived")
            return None
        return body


def make_server(
    resolve: Resolve,
    deployed: Deployed,
    host: str = "127.0.0.1",
    port: int = DEFAULT_ENDPOINT_PORT,
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> ModelServer:
    """Bind the endpoint (``port=0`` picks a free port; ``server.server_address`` tells it).

    Serve with ``server.serve_forever()``; stop with ``server.shutdown()`` and ``server_close()``.
    """
    try:
        return ModelServer((host, port), resolve, deployed, max_body_bytes=max_body_bytes)
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
) -> None:
    """Serve until Ctrl-C (or SIGTERM), then shut down cleanly.

    ``on_ready`` is called once listening, with the bound ``(host, port)`` (port 0 resolved).
    """
    server = make_server(resolve, deployed, host, port)
    previous = None
    if threading.current_thread() is threading.main_thread():

        def _terminate(signum: int, frame: object) -> None:
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        logger.info("endpoint listening at %s", server.url)
        if on_ready is not None:
            on_ready(tuple(server.server_address[:2]))
        server.serve_forever()
    except KeyboardInterrupt:
        logger.info("endpoint stopping")
    finally:
        server.server_close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
