"""``python -m ting_separate``: run the separation service until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import sys

from ting_common.server import run_service, run_until_signalled
from ting_separate.config import SeparateSettings
from ting_separate.server import create_engines, create_server

logger = logging.getLogger("ting_separate")


async def serve(settings: SeparateSettings) -> None:
    """Build the engines, start the server and serve until a signal arrives."""
    engines = await asyncio.to_thread(create_engines, settings)
    app, port = create_server(settings, engines)
    logger.info(
        "separation service ready",
        extra={"host": settings.host, "port": port, "engines": [e.name for e in engines]},
    )
    await run_until_signalled(app, settings)


def main(settings: SeparateSettings | None = None) -> int:
    """Entry point; returns a process exit code."""
    return run_service(serve, settings or SeparateSettings(), service="separate", title="separation")


if __name__ == "__main__":
    sys.exit(main())
