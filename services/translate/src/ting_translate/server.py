"""Wiring: build the translation gRPC server from settings and engines."""

from __future__ import annotations

from collections.abc import Sequence

from ting.translation.v1 import translation_service_pb2, translation_service_pb2_grpc
from ting_common.llm import RetryPolicy
from ting_common.server import GrpcServer, build_server
from ting_translate.config import TranslateSettings
from ting_translate.engines import TranslationEngine
from ting_translate.servicer import TranslationServicer
from ting_translate.tokens import EstimatingTokenCounter, HFTokenCounter, TokenCounter

__all__ = ["SERVICE_NAME", "create_counter", "create_engines", "create_server"]

SERVICE_NAME = translation_service_pb2.DESCRIPTOR.services_by_name["TranslationService"].full_name


def create_engines(settings: TranslateSettings) -> list[TranslationEngine]:
    """The engines the settings configure, in order: the LLM one (``llm_base_url``), the CTranslate2 one
    (``ct2_model_path``, loaded now: a bad model raises FAILED_PRECONDITION and the service does not start); may be
    empty."""
    engines: list[TranslationEngine] = []
    if settings.llm_base_url:
        from ting_translate.engines.openai_chat import OpenAIChatEngine

        engines.append(
            OpenAIChatEngine(
                base_url=settings.llm_base_url,
                model=settings.llm_model,
                api_key=settings.llm_api_key.get_secret_value(),
                timeout_s=settings.llm_timeout_s,
                context_tokens=settings.llm_context_tokens,
                max_output_tokens=settings.llm_max_output_tokens,
                temperature=settings.llm_temperature,
                json_mode=settings.llm_json_mode,
                retry=RetryPolicy(
                    max_attempts=settings.retry_max_attempts,
                    initial_backoff_s=settings.retry_initial_backoff_s,
                    max_backoff_s=settings.retry_max_backoff_s,
                    max_total_s=settings.retry_max_total_s,
                ),
                name=settings.llm_engine_name,
                default_cues_per_chunk=settings.cues_per_chunk,
            )
        )
    if settings.ct2_model_path is not None:
        from ting_translate.engines.ctranslate2_engine import CTranslate2Engine

        engines.append(
            CTranslate2Engine(
                settings.ct2_model_path,
                kind=settings.ct2_kind,
                model_name=settings.ct2_model_name,
                source_languages=_codes(settings.ct2_source_language),
                target_languages=_codes(settings.ct2_target_languages),
                device=settings.ct2_device,
                compute_type=settings.ct2_compute_type,
                inter_threads=settings.ct2_inter_threads,
                intra_threads=settings.ct2_intra_threads,
                max_batch_size=settings.ct2_max_batch_size,
                beam_size=settings.ct2_beam_size,
                max_input_tokens=settings.ct2_max_input_tokens,
                max_decoding_length=settings.ct2_max_decoding_length,
                name=settings.ct2_engine_name,
                default_cues_per_chunk=settings.cues_per_chunk,
            )
        )
    return engines


def _codes(value: str) -> list[str]:
    """``"es, fr"`` -> ``["es", "fr"]``."""
    return [c.strip() for c in value.split(",") if c.strip()]


def create_counter(settings: TranslateSettings) -> TokenCounter:
    """Exact counts with the configured tokenizer.json, else the conservative estimate."""
    if settings.tokenizer_path is not None:
        return HFTokenCounter(settings.tokenizer_path)
    return EstimatingTokenCounter()


def create_server(
    settings: TranslateSettings,
    engines: Sequence[TranslationEngine] | None = None,
    counter: TokenCounter | None = None,
) -> tuple[GrpcServer, int]:
    """Build (not start) the translation server; ``engines`` default to those the settings configure."""
    servicer = TranslationServicer(
        settings,
        create_engines(settings) if engines is None else list(engines),
        counter or create_counter(settings),
    )
    app = build_server(
        settings,
        [lambda server: translation_service_pb2_grpc.add_TranslationServiceServicer_to_server(servicer, server)],
        [SERVICE_NAME],
    )
    app.on_stop.append(servicer.close)
    return app, app.port
