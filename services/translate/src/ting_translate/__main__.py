"""``python -m ting_translate``: run the translation service until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import sys

from ting_common.server import run_service, run_until_signalled
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
    return run_service(serve, settings or TranslateSettings(), service="translate", title="translation")


if __name__ == "__main__":
    sys.exit(main())
