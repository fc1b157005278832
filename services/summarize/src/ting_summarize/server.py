"""Wiring: build the summarization gRPC server from settings and engines."""

from __future__ import annotations

import logging

from ting.summarization.v1 import summarization_service_pb2, summarization_service_pb2_grpc
from ting_common.llm import LLMSettings, RetryPolicy
from ting_common.server import GrpcServer, build_server
from ting_summarize.config import SummarizeSettings
from ting_summarize.engines import SummaryEngine
from ting_summarize.servicer import LLM_ENGINE, SummarizationServicer

logger = logging.getLogger(__name__)

SERVICE_NAME = summarization_service_pb2.DESCRIPTOR.services_by_name["SummarizationService"].full_name


def create_engine(settings: SummarizeSettings) -> SummaryEngine:
    """The offline extractive engine with its sentence encoder loaded."""
    from ting_summarize.engines.encoder import SentenceEncoder
    from ting_summarize.engines.extractive import ExtractiveEngine

    encoder = SentenceEncoder(settings.embedding_model_dir, max_tokens=settings.embedding_max_tokens)
    return ExtractiveEngine(encoder)


def create_llm_engine(settings: SummarizeSettings) -> SummaryEngine:
    """The ``llm`` engine on the configured OpenAI-compatible endpoint (``TING_SUMMARIZE_LLM_*``)."""
    from ting_summarize.engines.llm import LLMEngine

    return LLMEngine(
        LLMSettings(
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            api_key=settings.llm_api_key.get_secret_value(),
            timeout_s=settings.llm_timeout_s,
            temperature=settings.llm_temperature,
            json_mode=settings.llm_json_mode,
            env_prefix="TING_SUMMARIZE_LLM_",
        ),
        retry=RetryPolicy(
            max_attempts=settings.retry_max_attempts,
            initial_backoff_s=settings.retry_initial_backoff_s,
            max_backoff_s=settings.retry_max_backoff_s,
            max_total_s=settings.retry_max_total_s,
        ),
        context_tokens=settings.llm_context_tokens,
        max_output_tokens=settings.llm_max_output_tokens,
        answer_attempts=settings.llm_answer_attempts,
        max_concurrency=settings.llm_max_concurrency,
    )


def create_server(settings: SummarizeSettings, engine: SummaryEngine, *more: SummaryEngine) -> tuple[GrpcServer, int]:
    """Build (not start) the summarization server over ``engine`` and ``more``; returns it and its port.

    When ``TING_SUMMARIZE_LLM_BASE_URL`` is set and no engine called ``llm`` is given, the ``llm`` engine is
    built from the settings and served beside them.
    """
    engines = {e.name: e for e in (engine, *more)}
    if settings.llm_base_url and LLM_ENGINE not in engines:
        engines[LLM_ENGINE] = create_llm_engine(settings)
    servicer = SummarizationServicer(settings, engines)
    app = build_server(
        settings,
        [lambda server: summarization_service_pb2_grpc.add_SummarizationServiceServicer_to_server(servicer, server)],
        [SERVICE_NAME],
    )

    async def _close() -> None:
        servicer.close()

    app.on_stop.append(_close)
    return app, app.port
