"""``python -m ting_asr``: run the ASR service until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import sys

from ting_asr.config import AsrSettings
from ting_asr.server import create_engine, create_server
from ting_common.server import run_service, run_until_signalled

logger = logging.getLogger("ting_asr")


async def serve(settings: AsrSettings) -> None:
    """Load the engine, start the server and serve until a signal arrives."""
    engine = await asyncio.to_thread(create_engine, settings)
    app, port = create_server(settings, engine)
    logger.info("ASR service ready", extra={"host": settings.host, "port": port, "engine": engine.name})
    try:
        await run_until_signalled(app, settings)
    finally:
        engine.close()


def main(settings: AsrSettings | None = None) -> int:
    """Entry point; returns a process exit code."""
    return run_service(serve, settings or AsrSettings(), service="asr", title="ASR")


if __name__ == "__main__":
    sys.exit(main())
