"""The servers the serving benchmark runs in their own processes.

``python bench/serving_servers.py mlkit HOME``: the registry-driven local endpoint on HOME's
registry, as ``mlkit serve`` runs it (``mlkit-nolog``: with ``--no-log``).
``python bench/serving_servers.py plain SAVEDMODEL``: a plain one-request-one-call HTTP server on
one SavedModel on the standard library (the baseline: no registry, no batching).
``plain-uvicorn SAVEDMODEL``: the same one-request-one-call server on the endpoint's own stack
(Starlette on uvicorn with uvloop and httptools; the model call on a worker thread). Each prints
its URL on the first line of stdout and serves until killed.
"""

from __future__ import annotations

import json
import logging
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from mlkit.config import load_settings, quiet_tensorflow


def plain(model_dir: Path) -> None:
    from mlkit.savedmodel import SavedModelRunner

    runner = SavedModelRunner(model_dir)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # as mlkit's endpoint: no 40 ms delayed-ACK stalls

        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            try:
                answer = {"predictions": runner.predict_instances(json.loads(body)["instances"])}
                status = 200
            except Exception as exc:
                answer, status = {"error": str(exc)}, 400
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.request_queue_size = 128
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


def plain_uvicorn(model_dir: Path) -> None:
    import socket

    import uvicorn
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from mlkit.savedmodel import SavedModelRunner

    runner = SavedModelRunner(model_dir)

    async def predict(request: Request) -> Response:
        body = await request.body()
        try:
            instances = json.loads(body)["instances"]
            answer = {"predictions": await run_in_threadpool(runner.predict_instances, instances)}
            status = 200
        except Exception as exc:
            answer, status = {"error": str(exc)}, 400
        return Response(json.dumps(answer).encode(), status, media_type="application/json")

    app = Starlette(routes=[Route("/", predict, methods=["POST"])])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    print(f"http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


def mlkit(home: Path, log: str | None = "prediction_log") -> None:
    from mlkit.workflows.serve import serve

    logging.basicConfig(level=logging.WARNING)
    serve(
        load_settings(home),
        host="127.0.0.1",
        port=0,
        on_ready=lambda address: print(f"http://{address[0]}:{address[1]}", flush=True),
        log=log,
    )


def mlkit_no_log(home: Path) -> None:
    """The endpoint as ``mlkit serve --no-log`` runs it (what the prediction log costs)."""
    mlkit(home, log=None)


if __name__ == "__main__":
    quiet_tensorflow()
    kind, where = sys.argv[1], Path(sys.argv[2])
    servers = {"plain": plain, "plain-uvicorn": plain_uvicorn, "mlkit": mlkit,
               "mlkit-nolog": mlkit_no_log}  # fmt: skip
    servers[kind](where)
