"""ASR engines: the :class:`AsrEngine` protocol and its domain types.

The servicer only speaks this protocol, so model runners (Triton, BentoML) plug in by implementing
it; nothing here imports protobuf.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from ting_asr.diarization import DiarizationOptions
from ting_common.transcript import Segment, Transcript

Task = Literal["transcribe", "translate"]


@dataclass(frozen=True)
class VadOptions:
    """Silero VAD settings; ``None`` keeps faster-whisper's defaults."""

    threshold: float | None = None
    min_silence_duration_ms: int | None = None
    speech_pad_ms: int | None = None
    min_speech_duration_ms: int | None = None


@dataclass(frozen=True)
class RecognitionOptions:
    """Validated options of one recognition (the servicer fills defaults and checks ranges)."""

    model: str = ""
    language: str | None = None
    task: Task = "transcribe"
    word_timestamps: bool = False
    vad_filter: bool = False
    vad: VadOptions = field(default_factory=VadOptions)
    beam_size: int = 5
    initial_prompt: str | None = None
    temperature: float | None = None
    condition_on_previous_text: bool = True
    # Speaker diarization after recognition (the servicer runs it); ``None``: off.
    diarization: DiarizationOptions | None = None
    # Decode with the encoder over the audio's own length instead of Whisper's 30 s window (streaming: interims,
    # and finals without word times); engines that cannot do it decode normally. Not settable by callers.
    quick: bool = False


@dataclass(frozen=True)
class ModelDescription:
    """What ``ListModels`` reports about one model."""

    name: str
    description: str
    multilingual: bool
    languages: tuple[str, ...]
    loaded: bool
    default: bool
    engine: str
    device: str
    compute_type: str


class StopRequested(Exception):
    """Raised inside an engine when the caller cancelled or its deadline passed."""


@dataclass
class CallControl:
    """Per-call hooks an engine honours: a stop flag it checks between windows and a progress sink."""

    stop: threading.Event = field(default_factory=threading.Event)
    on_segment: Callable[[Segment, float], None] | None = None

    def check(self) -> None:
        """Raise :class:`StopRequested` when the caller has gone away."""
        if self.stop.is_set():
            raise StopRequested


class AsrEngine(Protocol):
    """A speech recognizer. ``transcribe`` is blocking; the servicer runs it in a worker thread."""

    name: str

    def list_models(self) -> list[ModelDescription]:
        """Models this engine can run, default first."""
        ...

    def validate(self, options: RecognitionOptions) -> None:
        """Raise a domain error when ``options`` cannot run (unknown model, language, task)."""
        ...

    def transcribe(
        self, audio: npt.NDArray[np.float32], options: RecognitionOptions, control: CallControl
    ) -> Transcript:
        """Recognize 16 kHz mono float32 ``audio``. Calls ``control.on_segment(segment, seconds_done)``
        as segments are decoded and raises :class:`StopRequested` soon after ``control.stop`` is set."""
        ...

    def close(self) -> None:
        """Free the models."""
        ...
