"""Translation between ``ting.*.v1`` protobuf messages and the ASR domain types."""

from __future__ import annotations

import math

from ting.asr.v1 import asr_service_pb2 as asr_pb2
from ting_asr.diarization import MAX_SPEAKERS, DiarizationOptions
from ting_asr.engines import ModelDescription, RecognitionOptions, Task, VadOptions
from ting_common.errors import InvalidArgumentError, OutOfRangeError

MAX_PROMPT_CHARS = 1000


def task_from_proto(task: int) -> Task:
    if task in (asr_pb2.TASK_UNSPECIFIED, asr_pb2.TASK_TRANSCRIBE):
        return "transcribe"
    if task == asr_pb2.TASK_TRANSLATE:
        return "translate"
    raise InvalidArgumentError(f"unknown task {task}; use TASK_TRANSCRIBE or TASK_TRANSLATE")


def task_to_proto(task: str) -> int:
    return int(asr_pb2.TASK_TRANSLATE if task == "translate" else asr_pb2.TASK_TRANSCRIBE)


def options_from_proto(config: asr_pb2.RecognitionConfig, default_beam_size: int) -> RecognitionOptions:
    """Validate a RecognitionConfig and turn it into engine options.

    Raises OUT_OF_RANGE-mapped errors for numbers outside their range and INVALID_ARGUMENT ones
    for malformed values. Model/language availability is checked by the engine.
    """
    language = config.language_code.strip().lower()
    if language in ("", "auto"):
        lang: str | None = None
    else:
        lang = language.split("-")[0].split("_")[0]
        if not lang.isalpha() or len(lang) > 3:
            raise InvalidArgumentError(
                f"language_code '{config.language_code}' is not a language code; use e.g. 'en', 'zh', 'es'"
            )
        if language in ("zh-cn", "zh-tw", "zh-hans", "zh-hant", "cmn"):
            lang = "zh"
        if lang == "yue" or language == "zh-hk":
            lang = "yue"
    if not 0 <= config.beam_size <= 20:
        raise OutOfRangeError(f"beam_size must be between 1 and 20 (0 for the default), got {config.beam_size}")
    beam = config.beam_size or default_beam_size
    temperature: float | None = None
    if config.HasField("temperature"):
        temperature = config.temperature
        if not (math.isfinite(temperature) and 0.0 <= temperature <= 1.0):
            raise OutOfRangeError(f"temperature must be between 0 and 1, got {temperature}")
    if len(config.initial_prompt) > MAX_PROMPT_CHARS:
        raise InvalidArgumentError(
            f"initial_prompt is {len(config.initial_prompt)} characters; the limit is {MAX_PROMPT_CHARS}"
        )
    vad = config.vad
    if not (math.isfinite(vad.threshold) and 0.0 <= vad.threshold < 1.0):
        raise OutOfRangeError(f"vad.threshold must be in [0, 1) (0 for the default), got {vad.threshold}")
    for name in ("min_silence_duration_ms", "speech_pad_ms", "min_speech_duration_ms"):
        value = getattr(vad, name)
        if not 0 <= value <= 60_000:
            raise OutOfRangeError(f"vad.{name} must be between 0 and 60000 ms, got {value}")
    return RecognitionOptions(
        model=config.model.strip(),
        language=lang,
        task=task_from_proto(config.task),
        word_timestamps=config.enable_word_time_offsets,
        vad_filter=config.enable_vad_filter,
        vad=VadOptions(
            threshold=vad.threshold or None,
            min_silence_duration_ms=vad.min_silence_duration_ms or None,
            speech_pad_ms=vad.speech_pad_ms or None,
            min_speech_duration_ms=vad.min_speech_duration_ms or None,
        ),
        beam_size=beam,
        initial_prompt=config.initial_prompt or None,
        temperature=temperature,
        condition_on_previous_text=(
            config.condition_on_previous_text if config.HasField("condition_on_previous_text") else True
        ),
    )


def diarization_from_proto(config: asr_pb2.DiarizationConfig, default_max: int) -> DiarizationOptions | None:
    """Validated speaker-count options, or ``None`` when diarization is off. INVALID_ARGUMENT for counts outside
    0..MAX_SPEAKERS or min > max."""
    if not config.enable_speaker_diarization:
        return None
    for name in ("speaker_count", "min_speaker_count", "max_speaker_count"):
        value = getattr(config, name)
        if not 0 <= value <= MAX_SPEAKERS:
            raise InvalidArgumentError(f"diarization.{name} must be 0..{MAX_SPEAKERS}, got {value}")
    low = config.min_speaker_count or 1
    high = config.max_speaker_count or max(default_max, low)
    if low > high:
        raise InvalidArgumentError(f"diarization.min_speaker_count ({low}) is larger than max_speaker_count ({high})")
    exact = config.speaker_count
    if exact and not low <= exact <= high and (config.min_speaker_count or config.max_speaker_count):
        raise InvalidArgumentError(
            f"diarization.speaker_count ({exact}) lies outside min_speaker_count..max_speaker_count ({low}..{high})"
        )
    return DiarizationOptions(speaker_count=exact, min_speakers=low, max_speakers=max(high, exact))


def model_to_proto(m: ModelDescription, *, diarization: bool = False) -> asr_pb2.ModelInfo:
    return asr_pb2.ModelInfo(
        name=m.name,
        description=m.description,
        multilingual=m.multilingual,
        language_codes=list(m.languages),
        loaded=m.loaded,
        default=m.default,
        engine=m.engine,
        device=m.device,
        compute_type=m.compute_type,
        supports_diarization=diarization,
        supports_translation=m.multilingual,
    )
