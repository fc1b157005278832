"""``python -m ting_summarize``: run the summarization service until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import sys

from ting_common.server import run_service, run_until_signalled
from ting_summarize.config import SummarizeSettings
from ting_summarize.server import create_engine, create_server

logger = logging.getLogger("ting_summarize")


async def serve(settings: SummarizeSettings) -> None:
    """Load the engine, start the server and serve until a signal arrives."""
    engine = await asyncio.to_thread(create_engine, settings)
    app, port = create_server(settings, engine)
    logger.info("summarization service ready", extra={"host": settings.host, "port": port, "engine": engine.name})
    try:
        await run_until_signalled(app, settings)
    finally:
        engine.close()


def main(settings: SummarizeSettings | None = None) -> int:
    """Entry point; returns a process exit code."""
    return run_service(serve, settings or SummarizeSettings(), service="summarize", title="summarization")


if __name__ == "__main__":
    sys.exit(main())
