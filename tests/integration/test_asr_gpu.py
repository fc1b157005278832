"""On a CUDA machine the default engine picks the GPU with float16 and still transcribes correctly."""

from __future__ import annotations

from pathlib import Path

import pytest

from ting_asr.engines import CallControl, RecognitionOptions
from ting_common.audio import decode_audio
from ting_common.scoring import error_rate

pytestmark = [pytest.mark.gpu, pytest.mark.integration]


def test_auto_device_is_cuda_float16(model_cache_dir: Path, samples: Path) -> None:
    from ting_asr.engines.faster_whisper import FasterWhisperEngine

    engine = FasterWhisperEngine("base", cache_dir=model_cache_dir)
    assert (engine.device, engine.compute_type) == ("cuda", "float16")
    audio = decode_audio(samples / "meeting_intro.wav").samples
    transcript = engine.transcribe(audio, RecognitionOptions(language="en"), CallControl())
    assert error_rate((samples / "meeting_intro.txt").read_text(), transcript.text) < 0.1
    engine.close()
