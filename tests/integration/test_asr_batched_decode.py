"""Batched decoding (``TING_ASR_BATCH_SIZE``): the VAD chunks of a long recording go through Whisper several at a time
(faster-whisper's BatchedInferencePipeline), as a GPU runner is configured to do. The text must stay as good as the
sequential decode's; short audio keeps the sequential path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ting_asr.engines import CallControl, RecognitionOptions
from ting_common.audio import decode_audio
from ting_common.scoring import error_rate

pytestmark = pytest.mark.integration


@pytest.fixture
def batched(asr_engine: Any) -> Iterator[Any]:
    """The session's engine (same loaded model) switched to batches of 4 for one test."""
    asr_engine.batch_size = 4
    try:
        yield asr_engine
    finally:
        asr_engine.batch_size = 0


def test_batched_long_audio_as_good_as_sequential(asr_engine: Any, samples: Path) -> None:
    audio = decode_audio((samples / "meeting_intro.wav").read_bytes()).samples  # 37 s: batched
    reference = (samples / "meeting_intro.txt").read_text()
    options = RecognitionOptions(model="base", language="en", word_timestamps=True)
    sequential = asr_engine.transcribe(audio, options, CallControl())
    seen: list[float] = []
    asr_engine.batch_size = 4
    try:
        batched = asr_engine.transcribe(audio, options, CallControl(on_segment=lambda seg, done: seen.append(done)))
    finally:
        asr_engine.batch_size = 0
    assert error_rate(reference, batched.text, "en") <= error_rate(reference, sequential.text, "en") + 0.03
    assert error_rate(reference, batched.text, "en") <= 0.10, batched.text
    starts = [s.start for s in batched.segments]
    assert starts == sorted(starts) and batched.segments[-1].end <= batched.duration + 0.5
    assert all(s.words for s in batched.segments)
    assert seen == sorted(seen) and len(seen) == len(batched.segments)


def test_short_audio_keeps_the_sequential_path(batched: Any, asr_engine: Any, samples: Path) -> None:
    audio = decode_audio((samples / "es_weather.wav").read_bytes()).samples  # 11 s: one window
    options = RecognitionOptions(model="base", language="es")
    asr_engine.batch_size = 0
    sequential = asr_engine.transcribe(audio, options, CallControl())
    asr_engine.batch_size = 4
    assert batched.transcribe(audio, options, CallControl()) == sequential
