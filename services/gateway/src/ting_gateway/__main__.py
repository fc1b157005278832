"""``python -m ting_gateway``: run the gateway (gRPC + REST + web page) until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from ting_common.metrics import start_metrics_server
from ting_common.server import run_service
from ting_gateway.config import GatewaySettings
from ting_gateway.server import create_gateway

logger = logging.getLogger("ting_gateway")


async def serve(settings: GatewaySettings) -> None:
    """Build the gateway, start it and serve until a signal arrives; then drain."""
    app = create_gateway(settings)
    start_metrics_server(settings.metrics_port)
    await app.start()
    logger.info(
        "gateway ready",
        extra={"grpc_port": app.port, "http_port": app.http_port, "url": settings.public_url},
    )
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    waiter = asyncio.create_task(app.wait())
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
    logger.info("shutting down")
    await app.drain()
    stopper.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiter


def main(settings: GatewaySettings | None = None) -> int:
    """Entry point; returns a process exit code."""
    return run_service(serve, settings or GatewaySettings(), service="gateway", title="gateway")


if __name__ == "__main__":
    sys.exit(main())
