"""``python -m ting_gateway``: run the gateway (gRPC + REST + web page) until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import sys

from ting_common.server import run_service, run_until_signalled
from ting_gateway.config import GatewaySettings
from ting_gateway.server import create_gateway

logger = logging.getLogger("ting_gateway")


async def serve(settings: GatewaySettings) -> None:
    """Build the gateway (both ports bound), serve until a signal arrives, then drain."""
    app = create_gateway(settings)
    logger.info(
        "gateway starting",
        extra={"grpc_port": app.port, "http_port": app.http_port, "url": settings.public_url},
    )
    await run_until_signalled(app, settings)


def main(settings: GatewaySettings | None = None) -> int:
    """Entry point; returns a process exit code."""
    return run_service(serve, settings or GatewaySettings(), service="gateway", title="gateway")


if __name__ == "__main__":
    sys.exit(main())
