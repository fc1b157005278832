"""``/healthz`` (every downstream service answers gRPC health SERVING) and ``/livez`` (the process is up)."""

from __future__ import annotations

import asyncio
from typing import Any, Final

import grpc
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ting_gateway.http.common import HttpContext

SERVICES: Final = ("asr", "translation", "summarization", "separation")
CHECK_TIMEOUT_S: Final = 2.0


async def _check(ctx: HttpContext, name: str) -> str:
    """``SERVING``, another health status name, or the gRPC code of a failed check (``UNAVAILABLE``...)."""
    stub = health_pb2_grpc.HealthStub(ctx.gateway.downstream.channel(name))
    try:
        reply: Any = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=CHECK_TIMEOUT_S)
    except grpc.aio.AioRpcError as exc:
        return str(exc.code().name)
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


def health_router(ctx: HttpContext) -> APIRouter:
    """The health routes."""
    router = APIRouter(tags=["health"])

    @router.get(
        "/healthz",
        summary="Readiness: every downstream service is SERVING",
        responses={503: {"description": "At least one service is not SERVING; `services` says which."}},
    )
    async def healthz() -> JSONResponse:
        """200 ``{"status": "ok", "services": {"asr": "SERVING", ...}}`` when the ASR, translation,
        summarization and separation services all answer gRPC health SERVING; else 503 with
        ``"status": "unavailable"``, the failing ones named in ``not_serving``."""
        statuses = await asyncio.gather(*(_check(ctx, name) for name in SERVICES))
        services = dict(zip(SERVICES, statuses, strict=True))
        down = [name for name, status in services.items() if status != "SERVING"]
        if down:
            return JSONResponse({"status": "unavailable", "services": services, "not_serving": down}, status_code=503)
        return JSONResponse({"status": "ok", "services": services})

    @router.get("/livez", summary="Liveness: the process answers")
    async def livez() -> dict[str, str]:
        """Always 200 ``{"status": "ok"}`` while the gateway's event loop runs."""
        return {"status": "ok"}

    return router
