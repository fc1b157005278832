"""The engine's quick decode (``RecognitionOptions.quick``, used by streams): the encoder over the audio's own length
instead of Whisper's 30 s window gives nearly the text of a full decode, detects the language, never loops on short
or silent audio, and steps aside when word times are asked for."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ting_asr.engines import CallControl, RecognitionOptions
from ting_common.audio import decode_audio
from ting_common.scoring import error_rate

from ..conftest import SAMPLES

pytestmark = pytest.mark.integration


def clip(name: str, seconds: float) -> np.ndarray:
    samples = np.asarray(decode_audio(str(SAMPLES / name)).samples, dtype=np.float32)
    return samples[: int(seconds * 16000)]


@pytest.mark.parametrize(("name", "language"), [("meeting_intro.wav", "en"), ("es_weather.wav", "es")])
@pytest.mark.parametrize("beam_size", [1, 5])
def test_quick_decode_matches_the_full_window(asr_engine: Any, name: str, language: str, beam_size: int) -> None:
    audio = clip(name, 8.0)
    full = asr_engine.transcribe(audio, RecognitionOptions(beam_size=beam_size, temperature=0.0), CallControl())
    quick = asr_engine.transcribe(
        audio, RecognitionOptions(beam_size=beam_size, temperature=0.0, quick=True), CallControl()
    )
    assert quick.language == full.language == language  # detected on the short window too
    assert 0.5 < quick.language_probability <= 1.0
    assert quick.text and error_rate(full.text, quick.text, language) <= 0.2, (full.text, quick.text)
    assert quick.segments[0].start == 0.0 and quick.segments[0].end == pytest.approx(8.0)


def test_quick_decode_of_silence_and_a_blip_says_little(asr_engine: Any) -> None:
    silence = np.zeros(16000, dtype=np.float32)
    out = asr_engine.transcribe(silence, RecognitionOptions(language="en", beam_size=1, quick=True), CallControl())
    assert len(out.text.split()) <= 3  # no repetition loop filling the token budget
    blip = clip("meeting_intro.wav", 0.6)
    out = asr_engine.transcribe(blip, RecognitionOptions(language="en", beam_size=1, quick=True), CallControl())
    assert len(out.text.split()) <= 6


def test_word_times_take_the_full_path(asr_engine: Any) -> None:
    audio = clip("meeting_intro.wav", 5.0)
    out = asr_engine.transcribe(
        audio, RecognitionOptions(language="en", quick=True, word_timestamps=True), CallControl()
    )
    words = [w for seg in out.segments for w in seg.words]
    assert words and all(0.0 <= w.start <= w.end <= 5.5 for w in words)
