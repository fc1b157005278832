"""The engine a model runner hosts (Triton's python backend, BentoML): the in-process faster-whisper engine built
from the runner's parameters, with ``TING_ASR_*`` environment settings as the fallback for what they leave empty.

    handler = engine_from_parameters({"model": "base", "concurrency": "2"}, device="cpu")
    answer_json = handler.handle(request_json, samples)
"""

from __future__ import annotations

from pathlib import Path

from ting_asr.config import AsrSettings
from ting_asr.engines.faster_whisper import FasterWhisperEngine
from ting_asr.engines.remote import RunnerHandler
from ting_common.errors import FailedPreconditionError


def engine_from_parameters(parameters: dict[str, str], *, device: str = "", device_index: int = 0) -> RunnerHandler:
    """Load the hosted engine. ``parameters`` (strings, as Triton's model config gives them; empty = unset): model,
    preload (comma-separated), compute_type, cpu_threads, concurrency, batch_size, cache_dir. ``device`` comes from
    the runner (Triton's instance kind); empty uses ``TING_ASR_DEVICE``."""
    settings = AsrSettings()

    def value(name: str) -> str:
        return (parameters.get(name) or "").strip()

    try:
        cpu_threads = int(value("cpu_threads") or settings.cpu_threads)
        concurrency = int(value("concurrency") or settings.concurrency)
        batch_size = int(value("batch_size") or settings.batch_size)
    except ValueError as exc:
        raise FailedPreconditionError(f"runner parameter is not an integer: {exc}") from exc
    preload = tuple(p.strip() for p in value("preload").split(",") if p.strip()) or tuple(settings.preload)
    engine = FasterWhisperEngine(
        value("model") or settings.model,
        cache_dir=Path(value("cache_dir") or settings.cache_dir),
        device=device or settings.device,
        device_index=device_index,
        compute_type=value("compute_type") or settings.compute_type,
        cpu_threads=cpu_threads,
        concurrency=max(1, concurrency),
        batch_size=max(0, batch_size),
        allow_model_paths=settings.allow_model_paths,
        preload=preload,
    )
    return RunnerHandler(engine, max_audio_s=settings.max_audio_duration_s)


__all__ = ["engine_from_parameters"]
