"""A fake Vertex AI CustomJob REST service on loopback, for the real google-cloud-aiplatform SDK.

Answers ``POST /v1/projects/P/locations/L/customJobs`` (create: the job comes back ``PENDING``
with a name), ``GET .../customJobs/ID`` and ``GET .../customJobs`` (list). Every request body is
kept in ``requests`` so a test can check what the SDK sent. Only CustomJobs: endpoints have their
own fake.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_JOBS = re.compile(r"^/v1/projects/([^/]+)/locations/([^/]+)/customJobs(?:/(\d+))?$")

JOB_STATE_PENDING = 2  # google.cloud.aiplatform_v1.JobState.JOB_STATE_PENDING


class FakeVertexJobs:
    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, Any]] = []
        self._ids = itertools.count(1000)
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

    def __enter__(self) -> FakeVertexJobs:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        path = handler.path.split("?", 1)[0]
        length = int(handler.headers.get("Content-Length") or 0)
        body = json.loads(handler.rfile.read(length) or b"null") if length else None
        self.requests.append((method, path, body))
        match = _JOBS.match(path)
        if not match:
            return self._send(handler, 404, {"error": {"code": 404, "message": "not found"}})
        project, location, job_id = match.groups()
        parent = f"projects/{project}/locations/{location}"
        if method == "POST" and job_id is None:
            if not body or "jobSpec" not in body or not body["jobSpec"].get("workerPoolSpecs"):
                return self._send(
                    handler, 400, {"error": {"code": 400, "message": "jobSpec is required"}}
                )
            name = f"{parent}/customJobs/{next(self._ids)}"
            job = {
                **body,
                "name": name,
                "state": JOB_STATE_PENDING,
                "createTime": "2026-01-01T00:00:00Z",
            }
            self.jobs[name] = job
            return self._send(handler, 200, job)
        if method == "GET" and job_id is not None:
            job = self.jobs.get(f"{parent}/customJobs/{job_id}")
            if job is None:
                return self._send(handler, 404, {"error": {"code": 404, "message": "no such job"}})
            return self._send(handler, 200, job)
        if method == "GET":
            jobs = [j for n, j in self.jobs.items() if n.startswith(parent + "/")]
            return self._send(handler, 200, {"customJobs": jobs})
        return self._send(handler, 405, {"error": {"code": 405, "message": "method not allowed"}})

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
