"""The dashboard as a Starlette app: routes, JSON downloads, the optional token, errors.

Every route is a GET over one read model; the store is opened once (``open_dashboard_store``)
and used only through its read methods. Sync handlers run in Starlette's thread pool.
"""

from __future__ import annotations

import dataclasses
import hmac
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from mlkit.config import Settings
from mlkit.errors import MlkitError, ModelNotFound, UsageError, VersionNotFound
from mlkit.registry import RegistryStore
from mlkit.ui import compare_pages, model_pages, run_pages
from mlkit.ui.html import esc, layout
from mlkit.ui.page import Page
from mlkit.workflows import ui_views as views

STATIC = Path(__file__).parent / "static"
TOKEN_COOKIE = "mlkit_ui_token"
HEADERS = {
    # Nothing but this server's own files: no network, no inline script.
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise UsageError(f"{name} must be a whole number, got {raw!r}") from None


def _q(request: Request, name: str) -> str | None:
    return request.query_params.get(name) or None


class Dashboard:
    """The routes over one open store."""

    def __init__(
        self, settings: Settings, store: RegistryStore, tensorboard: str | None = None
    ) -> None:
        self.settings = settings
        self.store = store
        self.cache = views.ReadCache(store)
        self.tensorboard = tensorboard

    def respond(self, request: Request, build: Callable[[], Page]) -> Response:
        """The page as HTML, or its data or one of its tables as JSON (``?format=json``)."""
        try:
            page = build()
        except (ModelNotFound, VersionNotFound) as exc:
            return self.error(request, 404, exc)
        except MlkitError as exc:
            return self.error(request, 404 if "not found" in str(exc) else 400, exc)
        if request.query_params.get("format") == "json":
            table = request.query_params.get("table")
            if table is None:
                return JSONResponse(jsonable(page.data), headers=HEADERS)
            if table not in page.tables:
                return JSONResponse(
                    {"error": f"no table {table!r} on this page", "tables": sorted(page.tables)},
                    status_code=404,
                    headers=HEADERS,
                )
            return JSONResponse(page.tables[table].records(), headers=HEADERS)
        query = {k: v for k, v in request.query_params.items() if k not in ("format", "table")}
        body = page.html(request.url.path, query)
        return HTMLResponse(layout(page.title, body, crumbs=page.crumbs), headers=HEADERS)

    def error(self, request: Request, status: int, exc: MlkitError) -> Response:
        message = str(exc) + (f" ({exc.hint})" if getattr(exc, "hint", None) else "")
        if request.query_params.get("format") == "json":
            return JSONResponse({"error": message}, status_code=status, headers=HEADERS)
        body = f'<p class="error">{esc(message)}</p>'
        return HTMLResponse(
            layout("Not found" if status == 404 else "Error", body), status, HEADERS
        )

    # -- routes -----------------------------------------------------------------------------------

    def models(self, request: Request) -> Response:
        return self.respond(request, lambda: model_pages.models(views.models_overview(self.store)))

    def versions(self, request: Request) -> Response:
        def build() -> Page:
            return model_pages.versions(
                views.versions_page(
                    self.cache,
                    request.path_params["model"],
                    where=_q(request, "where"),
                    sort=_q(request, "sort"),
                    page=_int(request, "page", 1),
                    per_page=_int(request, "per_page", views.PER_PAGE),
                    metric=_q(request, "metric"),
                )
            )

        return self.respond(request, build)

    def version(self, request: Request) -> Response:
        model, number = request.path_params["model"], request.path_params["version"]
        return self.respond(
            request, lambda: model_pages.version(views.version_page(self.store, model, number))
        )

    def runs(self, request: Request) -> Response:
        where, sort = _q(request, "where"), _q(request, "sort")

        def build() -> Page:
            rows = views.runs_page(
                self.store, self.settings, experiment=_q(request, "experiment"), where=where,
                sort=sort, limit=_int(request, "limit", 100),
            )  # fmt: skip
            return run_pages.runs(rows, where, sort)

        return self.respond(request, build)

    def run(self, request: Request) -> Response:
        run_id = request.path_params["run"]
        return self.respond(
            request,
            lambda: run_pages.run(
                views.run_page(self.store, self.settings, run_id), self.tensorboard
            ),
        )

    def data(self, request: Request) -> Response:
        run_id = request.path_params["run"]

        def build() -> Page:
            page = views.data_page(self.store, run_id)
            drift = None
            if request.query_params.get("drift"):
                from mlkit.workflows.data_reports import drift_against_run

                drift = drift_against_run(self.settings, run_id)
            return run_pages.data(page, drift)

        return self.respond(request, build)

    def compare(self, request: Request) -> Response:
        def build() -> Page:
            run_a, run_b = _q(request, "run_a"), _q(request, "run_b")
            if run_a or run_b:
                if not (run_a and run_b):
                    raise UsageError("compare two runs: give both run_a and run_b")
                return compare_pages.compare_runs(
                    views.compare_runs(
                        self.store, self.settings, _int(request, "run_a", 0),
                        _int(request, "run_b", 0),
                    )
                )  # fmt: skip
            model, a, b = _q(request, "model"), _q(request, "a"), _q(request, "b")
            if not (a and b):
                return compare_pages.compare_form(model or "", a or "", b or "")
            left = a if model is None or ":" in a or "@" in a else f"{model}:{a}"
            right = b if model is None or ":" in b or "@" in b else f"{model}:{b}"
            return compare_pages.compare_versions(views.compare_versions(self.store, left, right))

        return self.respond(request, build)

    def endpoints(self, request: Request) -> Response:
        return self.respond(
            request,
            lambda: model_pages.endpoints(
                views.endpoints_page(self.store, self.settings, self.cache)
            ),
        )


class TokenGate(BaseHTTPMiddleware):
    """With a token: 'Authorization: Bearer TOKEN', or the cookie set by opening any page once
    with ``?token=TOKEN`` (for a browser); 401 otherwise."""

    def __init__(self, app: Any, token: str) -> None:
        super().__init__(app)
        self.token = token

    def _ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        header = request.headers.get("authorization", "")
        bearer = header[7:] if header.lower().startswith("bearer ") else None
        if self._ok(bearer) or self._ok(request.cookies.get(TOKEN_COOKIE)):
            return await call_next(request)
        if self._ok(request.query_params.get("token")):
            response = await call_next(request)
            response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict")
            return response
        return PlainTextResponse(
            "unauthorized: send 'Authorization: Bearer TOKEN' or open the page with ?token=TOKEN",
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )


def make_app(
    settings: Settings,
    *,
    token: str | None = None,
    tensorboard: str | None = None,
    store: RegistryStore | None = None,
) -> Starlette:
    """The dashboard over the registry of ``settings`` (opened now: a missing registry or one
    at another schema is refused here, before serving)."""
    opened = store or views.open_dashboard_store(settings)
    dash = Dashboard(settings, opened, tensorboard)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if store is None:
            opened.close()

    get = ["GET", "HEAD"]
    routes = [
        Route("/", dash.models, methods=get),
        Route("/models/{model}", dash.versions, methods=get),
        Route("/models/{model}/versions/{version:int}", dash.version, methods=get),
        Route("/runs", dash.runs, methods=get),
        Route("/runs/{run:int}", dash.run, methods=get),
        Route("/runs/{run:int}/data", dash.data, methods=get),
        Route("/compare", dash.compare, methods=get),
        Route("/endpoints", dash.endpoints, methods=get),
        Route("/healthz", lambda r: PlainTextResponse("ok"), methods=get),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [Middleware(TokenGate, token=token)] if token else []
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
