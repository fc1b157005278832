"""The REST application (placeholder until the REST API lands): health only."""

from __future__ import annotations

from fastapi import FastAPI

from ting_gateway.auth import Auth
from ting_gateway.config import GatewaySettings
from ting_gateway.service import Gateway


def create_app(settings: GatewaySettings, gateway: Gateway, auth: Auth) -> FastAPI:
    """The FastAPI app of the gateway."""
    app = FastAPI(title="Ting gateway")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
