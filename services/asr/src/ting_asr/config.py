"""Settings of the ASR service (``TING_ASR_*`` environment variables)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from ting_common.settings import ServiceSettings


def _default_cache_dir() -> Path:
    import os

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ting" / "models"


class AsrSettings(ServiceSettings):
    """Everything the ASR service reads from its environment. Every field is ``TING_ASR_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="TING_ASR_", env_nested_delimiter="__", extra="ignore")

    port: int = Field(50051, ge=0, le=65535, description="gRPC port (`TING_ASR_PORT`); 0 picks a free one.")
    engine: Literal["faster-whisper", "triton", "bento"] = Field(
        "faster-whisper",
        description="Where recognition runs: `faster-whisper` in process (the embedded default), `triton` on an "
        "NVIDIA Triton model runner (`TING_ASR_TRITON_URL`), `bento` on a BentoML runner (`TING_ASR_BENTO_URL`).",
    )
    triton_url: str = Field(
        "127.0.0.1:8001", description="Triton's gRPC address (`host:port`, KServe v2) when the engine is `triton`."
    )
    triton_model: str = Field("whisper", description="Model name in Triton's repository.")
    triton_model_version: str = Field("", description="Model version in Triton; empty: the server's policy.")
    bento_url: str = Field("http://127.0.0.1:3000", description="Base URL of the BentoML runner (engine `bento`).")
    runner_timeout_s: float = Field(
        600.0, gt=0, description="Deadline of one call to a model runner (the call's own deadline when shorter)."
    )
    runner_retries: int = Field(
        3, ge=0, le=20, description="Retries (exponential backoff) when a runner is UNAVAILABLE or refuses connections."
    )
    model: str = Field(
        "base",
        description=(
            "Default model: `base` (multilingual Whisper base, packaged), `tiny.en` (English, packaged), "
            "or a path to any CTranslate2 Whisper model directory."
        ),
    )
    preload: list[str] = Field(default_factory=list, description="Further models to load at start-up (names or paths).")
    allow_model_paths: bool = Field(
        False, description="Let requests name a model directory by path (operators only; off by default)."
    )
    cache_dir: Path = Field(
        default_factory=_default_cache_dir,
        description="Where packaged split weights are joined once (atomically) into a loadable model.",
    )
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto = cuda when available.")
    compute_type: str = Field("auto", description="CTranslate2 compute type; auto = int8 on CPU, float16 on CUDA.")
    cpu_threads: int = Field(0, ge=0, le=256, description="Threads per inference worker; 0 = all cores.")
    concurrency: int = Field(
        1, ge=1, le=64, description="Recognitions that run at the same time (CTranslate2 workers)."
    )
    batch_size: int = Field(
        0,
        ge=0,
        le=64,
        description="Batched decoding of the VAD chunks of audio longer than 30 s, this many at a time "
        "(faster-whisper's BatchedInferencePipeline; pays on a GPU, text may differ slightly); 0 = sequential.",
    )
    max_queue: int = Field(
        32, ge=0, le=10_000, description="Calls allowed to wait for a worker; beyond that RESOURCE_EXHAUSTED."
    )
    max_audio_mb: float = Field(100.0, gt=0, description="Largest accepted audio payload in MiB.")
    max_audio_duration_s: float = Field(4 * 3600.0, gt=0, description="Longest accepted audio in seconds.")
    default_beam_size: int = Field(5, ge=1, le=20, description="Beam size when a request gives 0.")
    diarization: bool = Field(
        True,
        description="Serve speaker diarization (the embedded GE2E engine, weights from the resemblyzer package, "
        "loaded on first use); false answers FAILED_PRECONDITION to diarization requests.",
    )
    diarization_max_speakers: int = Field(
        8, ge=1, le=20, description="Upper bound on speakers when a request gives none (max 20)."
    )
    storage_root: Path | None = Field(
        None, description="Directory that `file://` audio URIs may point into; unset disables file URIs."
    )
    streaming_max_streams: int = Field(
        4, ge=1, le=1000, description="StreamingRecognize calls served at once; one more gets RESOURCE_EXHAUSTED."
    )
    streaming_idle_timeout_s: float = Field(
        30.0, gt=0, description="A stream that sends no audio for this long ends with OUT_OF_RANGE."
    )
    streaming_silence_ms: int = Field(
        600, ge=100, le=10_000, description="Silence (Silero VAD) that ends an utterance in a stream."
    )
    streaming_interim_interval_ms: int = Field(
        700, ge=100, le=10_000, description="Audio between two interim re-decodes of a growing utterance."
    )
    streaming_max_utterance_ms: int = Field(
        15_000,
        ge=1_000,
        le=30_000,
        description="Default (and upper bound) of `max_utterance_ms`: continuous speech is cut into finals this long.",
    )
    streaming_vad_threshold: float = Field(
        0.5, gt=0, lt=1, description="Silero speech probability that starts speech in a stream."
    )
