"""Speech regions with Silero VAD, through faster-whisper's own helper.

``faster_whisper.vad.get_speech_timestamps`` runs the Silero ONNX model shipped inside the faster-whisper wheel on
onnxruntime, so nothing is downloaded. The helper copies its whole input twice (padding, 64-sample context), so a
long file is cut into ``chunk_s`` pieces and the regions that touch a cut are joined again: memory stays bounded by
one chunk, whatever the length of the call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from faster_whisper.vad import VadOptions, get_speech_timestamps

from ting_asr.diarization import SAMPLE_RATE, FloatArray


@dataclass(frozen=True)
class VadSettings:
    """Silero VAD tuned for diarization: short pauses split regions (turn changes often sit in them) and the
    padding is small, so that a region holds little silence and little of the neighbouring speaker."""

    threshold: float = 0.5
    min_silence_s: float = 0.2
    speech_pad_s: float = 0.06
    min_speech_s: float = 0.1
    chunk_s: float = 600.0


def speech_regions(audio: FloatArray, settings: VadSettings | None = None) -> list[tuple[int, int]]:
    """``[start, end)`` sample ranges of speech in 16 kHz mono ``audio``, in time order, not overlapping."""
    s = settings or VadSettings()
    if audio.ndim != 1 or audio.size < 512:
        return []
    options = VadOptions(
        threshold=s.threshold,
        min_speech_duration_ms=int(s.min_speech_s * 1000),
        min_silence_duration_ms=int(s.min_silence_s * 1000),
        speech_pad_ms=int(s.speech_pad_s * 1000),
    )
    chunk = max(int(s.chunk_s * SAMPLE_RATE), SAMPLE_RATE)
    join_gap = int(s.min_silence_s * SAMPLE_RATE)
    regions: list[tuple[int, int]] = []
    for offset in range(0, audio.size, chunk):
        piece = np.ascontiguousarray(audio[offset : offset + chunk], dtype=np.float32)
        if piece.size < 512:
            break
        first = True
        for ts in get_speech_timestamps(piece, options, sampling_rate=SAMPLE_RATE):
            start, end = offset + int(ts["start"]), offset + int(ts["end"])
            if end <= start:
                continue
            # Speech running across a cut comes back as two regions meeting at the cut: join them.
            if first and regions and regions[-1][1] >= offset - join_gap and start - regions[-1][1] < join_gap:
                regions[-1] = (regions[-1][0], max(end, regions[-1][1]))
            else:
                regions.append((start, end))
            first = False
    return regions
