"""The gateway's HTTP application: health, the REST API, the OpenAI-compatible API and the web page.

Routes (OpenAPI at ``/openapi.json``, interactive docs at ``/docs``):

* ``/healthz``, ``/livez`` (:mod:`.health`)
* ``/v1/uploads``, ``/v1/jobs...``, ``/v1/process``, ``/v1/shared/{id}``, ``/v1/files/{key}`` (:mod:`.rest`)
* ``/v1/audio/transcriptions``, ``/v1/audio/translations``, ``/v1/models`` (:mod:`.openai_api`)
* ``/v1/stream`` (WebSocket, a live stream saved as a job: :mod:`.live_ws`)
* ``/`` (the web page), ``/s/{id}`` (a shared job, read-only), ``/static/*``

Before a request body is read, :class:`EarlyChecks` refuses uploads whose ``Content-Length`` is over the limit
(413) and, when keys are configured, uploads without a valid key (401), so neither is spooled to disk first. It
also sets the request id (``X-Request-Id``, or a new one) that follows the request through every service; WebSocket
handshakes get the request id only (a live stream reports a bad key in-band, as its protocol says).
"""

from __future__ import annotations

import html
import logging
import uuid
from pathlib import Path
from typing import Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import make_asgi_app
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ting_common.errors import TingError, UnauthenticatedError
from ting_common.log import request_id_var
from ting_gateway.auth import Auth
from ting_gateway.config import GatewaySettings
from ting_gateway.http.common import (
    BODY_SLACK_BYTES,
    HTTP_CODE_NAMES,
    HttpContext,
    error_body,
    error_headers,
    is_openai_path,
)
from ting_gateway.http.health import health_router
from ting_gateway.http.live_ws import live_router
from ting_gateway.http.openai_api import openai_router
from ting_gateway.http.rest import check_link, rest_router, share_key
from ting_gateway.live import LiveService
from ting_gateway.service import Gateway

logger = logging.getLogger(__name__)

STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
UPLOAD_PATHS: Final = frozenset(
    {"/v1/uploads", "/v1/jobs", "/v1/process", "/v1/audio/transcriptions", "/v1/audio/translations"}
)
REQUEST_ID_HEADER: Final = "x-request-id"

DESCRIPTION: Final = """
Ting's gateway: transcription, translation, summaries and stem separation over HTTP.

* **Auth**: `Authorization: Bearer <key>` when the gateway has API keys. Signed links (`/v1/files/...`,
  `/v1/shared/{id}`, `/s/{id}`) need none.
* **Errors**: `{"error": {"code": "<gRPC code name>", "message": "..."}}` (OpenAI's shape on `/v1/audio/*` and
  `/v1/models`): 400 bad fields, 401 missing or bad key, 403 bad or expired link, 404 unknown job or file,
  413 over the upload or duration limit, 415 not audio/video, 429 too many concurrent requests, 503 a service
  is down.
* **415 rule**: a file part must be `audio/*`, `video/*` or `application/ogg`; `application/octet-stream`
  (or no type) is accepted when the file name has no extension or a media one (wav, mp3, flac, ogg, opus,
  m4a, mp4, webm, ...).
* **Bodies**: proto3 JSON of `ting.gateway.v1` messages (camelCase, enums by name, int64 as strings).
"""


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class EarlyChecks:
    """Pure ASGI middleware: request id, and the size and key checks on uploads before the body is read."""

    def __init__(self, app: ASGIApp, ctx: HttpContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        rid = (_header(scope, REQUEST_ID_HEADER.encode()) or "").strip()[:128] or uuid.uuid4().hex
        token = request_id_var.set(rid)
        if scope["type"] == "websocket":  # live streams check their key themselves, in-band (see .live_ws)
            try:
                await self.app(scope, receive, send)
            finally:
                request_id_var.reset(token)
            return

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), rid.encode("latin-1", "replace")))
                message["headers"] = headers
            await send(message)

        try:
            refusal = self._refusal(scope)
            if refusal is not None:
                await refusal(scope, receive, send_with_id)
                return
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)

    def _refusal(self, scope: Scope) -> Response | None:
        path: str = scope.get("path", "")
        if scope.get("method") != "POST" or path.rstrip("/") not in UPLOAD_PATHS:
            return None
        openai = is_openai_path(path)
        if self.ctx.auth.enabled:
            try:
                self.ctx.auth.caller(_header(scope, b"authorization"))
            except UnauthenticatedError as exc:
                return error_response(exc.http_code, exc.message, exc.grpc_code.name, openai=openai)
        length = _header(scope, b"content-length")
        limit = self.ctx.settings.max_upload_bytes
        if length and length.isdigit() and int(length) > limit + BODY_SLACK_BYTES:
            message = (
                f"the request is {int(length) / 2**20:.1f} MiB; uploads are limited to "
                f"{self.ctx.settings.max_upload_mb:g} MiB"
            )
            return error_response(413, message, "RESOURCE_EXHAUSTED", openai=openai)
        return None


def error_response(status: int, message: str, code: str, *, openai: bool) -> JSONResponse:
    """An error as JSON (REST or OpenAI shape)."""
    return JSONResponse(
        error_body(status, message, code, openai=openai), status_code=status, headers=error_headers(status)
    )


def _install_error_handlers(app: FastAPI) -> None:
    async def ting_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, TingError)
        if exc.http_code >= 500:
            logger.warning("%s %s: %s", request.method, request.url.path, exc.message)
        return error_response(exc.http_code, exc.message, exc.grpc_code.name, openai=is_openai_path(request.url.path))

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        parts = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error.get("loc", ())[1:]) or "request"
            parts.append(f"{where}: {error.get('msg', 'invalid')}")
        message = "; ".join(parts) or "invalid request"
        return error_response(400, message, "INVALID_ARGUMENT", openai=is_openai_path(request.url.path))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if status == 404 and message == "Not Found":
            message = f"no route {request.method} {request.url.path}"
        code = HTTP_CODE_NAMES.get(status, "UNKNOWN")
        response = error_response(status, message, code, openai=is_openai_path(request.url.path))
        response.headers.update(exc.headers or {})
        return response

    async def unexpected(request: Request, exc: Exception) -> Response:
        logger.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        message = "internal error; the server log has the details (see the request id)"
        return error_response(500, message, "INTERNAL", openai=is_openai_path(request.url.path))

    app.add_exception_handler(TingError, ting_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)


_BAD_LINK_PAGE: Final = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Ting - link not valid</title><link rel="stylesheet" href="/static/style.css"></head>
<body><main class="narrow"><h1>Ting</h1>
<p class="error">This share link is not valid or has expired ({reason}). Ask for a new one.</p></main></body></html>"""


def create_app(settings: GatewaySettings, gateway: Gateway, auth: Auth, live: LiveService | None = None) -> FastAPI:
    """The FastAPI app of the gateway (``live``: the replica's live streams, shared with the gRPC servicer)."""
    ctx = HttpContext(settings, gateway, auth)
    app = FastAPI(title="Ting gateway", version="1", description=DESCRIPTION)
    _install_error_handlers(app)
    app.add_middleware(EarlyChecks, ctx=ctx)
    app.include_router(health_router(ctx))
    app.include_router(openai_router(ctx))
    app.include_router(rest_router(ctx))
    app.include_router(live_router(ctx, live or LiveService(gateway)))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Prometheus metrics (queue depth `ting_gateway_jobs_queued` for KEDA, job counts, gRPC metrics) on the REST
    # port too, so one scrape target serves everything.
    app.mount("/metrics", make_asgi_app())
    index_html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    page_headers = {"Cache-Control": "no-cache"}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(index_html, headers=page_headers)

    @app.get("/s/{job_id}", response_class=HTMLResponse, include_in_schema=False)
    async def shared_page(job_id: str, expires: str | None = None, sig: str | None = None) -> HTMLResponse:
        try:
            check_link(ctx, share_key(job_id), expires, sig)
        except TingError as exc:
            return HTMLResponse(
                _BAD_LINK_PAGE.format(reason=html.escape(exc.message)), status_code=403, headers=page_headers
            )
        return HTMLResponse(index_html, headers=page_headers)

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(status_code=204)

    return app
