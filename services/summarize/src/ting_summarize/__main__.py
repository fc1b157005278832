"""``python -m ting_summarize``: run the summarization service until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import sys

from ting_common.errors import TingError
from ting_common.log import setup_logging
from ting_common.server import run_until_signalled
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
    settings = settings or SummarizeSettings()
    setup_logging(settings.log_level, settings.log_format, service="summarize")
    try:
        asyncio.run(serve(settings))
    except (TingError, OSError, RuntimeError) as exc:
        logger.error("cannot start the summarization service: %s", exc)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
