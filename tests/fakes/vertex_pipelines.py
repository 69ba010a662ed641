"""A fake Vertex AI Pipelines REST service on loopback (PipelineJobs and Schedules), for the real
google-cloud-aiplatform SDK.

Answers ``POST /v1/projects/P/locations/L/pipelineJobs`` (create: the job comes back
``PIPELINE_STATE_PENDING``), ``GET .../pipelineJobs/ID``, ``POST .../schedules`` (create: the
schedule comes back ``ACTIVE``) and ``GET .../schedules/ID``. A create without a pipeline spec or
with a runtime config missing a pipeline parameter is refused (400), as Vertex AI does. Every
request is kept in ``requests``.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_PATH = re.compile(
    r"^/v1/projects/([^/]+)/locations/([^/]+)/(pipelineJobs|schedules)(?:/([^/]+))?$"
)


class FakeVertexPipelines:
    def __init__(self) -> None:
        self.resources: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, Any]] = []
        self._ids = itertools.count(2000)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_GET(self) -> None:
                fake._handle(self, "GET")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeVertexPipelines:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        path, _, query = handler.path.partition("?")
        length = int(handler.headers.get("Content-Length") or 0)
        body = json.loads(handler.rfile.read(length) or b"null") if length else None
        self.requests.append((method, handler.path, body))
        match = _PATH.match(path)
        if not match:
            return _send(handler, 404, {"error": {"code": 404, "message": "not found"}})
        project, location, kind, ident = match.groups()
        parent = f"projects/{project}/locations/{location}"
        if method == "GET" and ident is not None:
            found = self.resources.get(f"{parent}/{kind}/{ident}")
            if found is None:
                return _send(handler, 404, {"error": {"code": 404, "message": "no such thing"}})
            return _send(handler, 200, found)
        if method != "POST" or ident is not None:
            return _send(handler, 405, {"error": {"code": 405, "message": "not allowed"}})
        job = body if kind == "pipelineJobs" else (body or {}).get("createPipelineJobRequest", {})
        if kind == "schedules":
            job = job.get("pipelineJob", {})
        problem = _check_job(job)
        if problem:
            return _send(handler, 400, {"error": {"code": 400, "message": problem}})
        job_id = dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("pipelineJobId")
        name = f"{parent}/{kind}/{job_id or next(self._ids)}"
        state = "PIPELINE_STATE_PENDING" if kind == "pipelineJobs" else "ACTIVE"
        created = {
            **(body or {}),
            "name": name,
            "state": state,
            "createTime": "2026-11-29T00:00:00Z",
        }
        self.resources[name] = created
        return _send(handler, 200, created)


def _check_job(job: dict[str, Any]) -> str | None:
    spec = job.get("pipelineSpec")
    if not spec or "root" not in spec:
        return "pipelineSpec is required"
    wanted = set(spec["root"].get("inputDefinitions", {}).get("parameters", {}))
    given = set(job.get("runtimeConfig", {}).get("parameterValues", {}))
    if wanted - given:
        return f"missing pipeline parameters: {', '.join(sorted(wanted - given))}"
    return None


def _send(handler: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
    data = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
