"""Wiring: build the ASR gRPC server from settings and an engine."""

from __future__ import annotations

from pathlib import Path

from ting.asr.v1 import asr_service_pb2, asr_service_pb2_grpc
from ting_asr.config import AsrSettings
from ting_asr.diarization.slot import DiarizerSlot
from ting_asr.engines import AsrEngine
from ting_asr.servicer import AsrServicer
from ting_common.server import GrpcServer, build_server

SERVICE_NAME = asr_service_pb2.DESCRIPTOR.services_by_name["AsrService"].full_name


def create_engine(settings: AsrSettings) -> AsrEngine:
    """Build the engine named by ``settings.engine``: the in-process one loads its default model; a runner engine
    connects to its runner and asks what it serves."""
    if settings.engine == "triton":
        from ting_asr.engines.triton import TritonAsrEngine

        return TritonAsrEngine.from_settings(settings)
    if settings.engine == "bento":
        from ting_asr.engines.bento import BentoAsrEngine

        return BentoAsrEngine.from_settings(settings)
    from ting_asr.engines.faster_whisper import FasterWhisperEngine

    return FasterWhisperEngine(
        settings.model,
        cache_dir=Path(settings.cache_dir),
        device=settings.device,
        compute_type=settings.compute_type,
        cpu_threads=settings.cpu_threads,
        concurrency=settings.concurrency,
        batch_size=settings.batch_size,
        allow_model_paths=settings.allow_model_paths,
        preload=tuple(settings.preload),
    )


def create_server(
    settings: AsrSettings, engine: AsrEngine, diarizer: DiarizerSlot | None = None
) -> tuple[GrpcServer, int]:
    """Build (not start) the ASR server; returns it and the bound port. ``diarizer`` defaults to the embedded
    engine, loaded on first use (``settings.diarization``)."""
    servicer = AsrServicer(settings, engine, diarizer)
    app = build_server(
        settings,
        [lambda server: asr_service_pb2_grpc.add_AsrServiceServicer_to_server(servicer, server)],
        [SERVICE_NAME],
    )

    async def _close() -> None:
        servicer.close()

    app.on_stop.append(_close)
    return app, app.port
