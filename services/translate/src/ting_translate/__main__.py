"""``python -m ting_translate``: run the translation service until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import sys

from ting_common.errors import TingError
from ting_common.log import setup_logging
from ting_common.server import run_until_signalled
from ting_translate.config import TranslateSettings
from ting_translate.server import create_server

logger = logging.getLogger("ting_translate")


async def serve(settings: TranslateSettings) -> None:
    """Build the engines and the server, and serve until a signal arrives."""
    app, port = create_server(settings)
    if not (settings.llm_base_url or settings.ct2_model_path):
        logger.warning("no translation engine configured: translation calls answer FAILED_PRECONDITION")
    logger.info("translation service ready", extra={"host": settings.host, "port": port})
    await run_until_signalled(app, settings)


def main(settings: TranslateSettings | None = None) -> int:
    """Entry point; returns a process exit code."""
    settings = settings or TranslateSettings()
    setup_logging(settings.log_level, settings.log_format, service="translate")
    try:
        asyncio.run(serve(settings))
    except (TingError, OSError, RuntimeError) as exc:
        logger.error("cannot start the translation service: %s", exc)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
