"""Wiring: build the summarization gRPC server from settings and engines."""

from __future__ import annotations

import logging

from ting.summarization.v1 import summarization_service_pb2, summarization_service_pb2_grpc
from ting_common.server import GrpcServer, build_server
from ting_summarize.config import SummarizeSettings
from ting_summarize.engines import SummaryEngine
from ting_summarize.servicer import SummarizationServicer

logger = logging.getLogger(__name__)

SERVICE_NAME = summarization_service_pb2.DESCRIPTOR.services_by_name["SummarizationService"].full_name


def create_engine(settings: SummarizeSettings) -> SummaryEngine:
    """The offline extractive engine with its sentence encoder loaded (the LLM engine plugs in beside it)."""
    from ting_summarize.engines.encoder import SentenceEncoder
    from ting_summarize.engines.extractive import ExtractiveEngine

    encoder = SentenceEncoder(settings.embedding_model_dir, max_tokens=settings.embedding_max_tokens)
    if settings.llm_base_url:
        logger.warning("TING_SUMMARIZE_LLM_BASE_URL is set, but this build serves the extractive engine only")
    return ExtractiveEngine(encoder)


def create_server(settings: SummarizeSettings, engine: SummaryEngine, *more: SummaryEngine) -> tuple[GrpcServer, int]:
    """Build (not start) the summarization server over ``engine`` (and ``more``); returns it and its port."""
    servicer = SummarizationServicer(settings, {e.name: e for e in (engine, *more)})
    app = build_server(
        settings,
        [lambda server: summarization_service_pb2_grpc.add_SummarizationServiceServicer_to_server(servicer, server)],
        [SERVICE_NAME],
    )

    async def _close() -> None:
        servicer.close()

    app.on_stop.append(_close)
    return app, app.port
