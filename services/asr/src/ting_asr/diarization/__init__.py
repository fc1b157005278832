"""Speaker diarization: who spoke when.

The embedded default (:mod:`.engine`) runs offline: Silero VAD speech regions (the ONNX model inside the
faster-whisper wheel) → sliding windows → GE2E speaker embeddings (resemblyzer's packaged weights, run in numpy by
:mod:`.encoder`) → clustering with an automatic speaker count that honours min/max/exact, in a space whitened
per recording by how each voice varies → re-segmentation to the nearest speaker → turn smoothing.
:func:`.assign.assign_speakers` then gives each word (and segment) the speaker whose turn overlaps it most.

Engines sit behind :class:`DiarizationEngine`, over plain numpy audio and these dataclasses, so a pyannote or
NeMo runner can plug in where an operator has those weights. Labels are ``S1``, ``S2``, ... in order of first
appearance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]

SAMPLE_RATE: Final = 16_000
MAX_SPEAKERS: Final = 20


@dataclass(frozen=True)
class DiarizationOptions:
    """How many speakers to find: ``speaker_count`` exactly when > 0, else between ``min_speakers`` and
    ``max_speakers`` (chosen by the engine)."""

    speaker_count: int = 0
    min_speakers: int = 1
    max_speakers: int = 8


@dataclass(frozen=True)
class SpeakerTurn:
    """A stretch of time (seconds from the start) one speaker holds."""

    start: float
    end: float
    speaker: str


@dataclass(frozen=True)
class Diarization:
    """Turns in time order and the speakers in order of first appearance (``S1``, ``S2``, ...)."""

    turns: tuple[SpeakerTurn, ...]
    speakers: tuple[str, ...]


class SpeakerEncoder(Protocol):
    """Fixed-size voice embeddings of stretches of 16 kHz mono audio."""

    dim: int
    sample_rate: int

    def embed(self, audio: FloatArray, windows: Sequence[tuple[int, int]]) -> FloatArray:
        """One L2-normalized embedding per window (``[start, end)`` in samples of ``audio``), shape ``(n, dim)``,
        float32. Windows shorter than the encoder's minimum are padded or embedded as they are, never dropped."""
        ...


class DiarizationEngine(Protocol):
    """A diarizer. ``diarize`` is blocking (run it in a worker thread)."""

    name: str

    def diarize(self, audio: FloatArray, options: DiarizationOptions, control: Any = None) -> Diarization:
        """Speaker turns of 16 kHz mono ``audio``. ``control`` (an ASR ``CallControl``) is checked between
        batches so a cancelled call stops early. One speaker (or none, for silence) is an answer, not an error."""
        ...
