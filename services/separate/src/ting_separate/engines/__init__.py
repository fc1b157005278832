"""Separation engines: the :class:`SeparationEngine` protocol and its domain types.

The servicer speaks only this protocol; engines work on plain numpy arrays and never see protobuf.
An engine takes float32 audio shaped ``(channels, samples)`` at the input's own sample rate and
returns one array of the same shape per requested stem.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

StemName = Literal["vocals", "accompaniment", "drums", "bass", "other", "piano", "guitar"]
ALL_STEMS: Final[tuple[StemName, ...]] = ("vocals", "accompaniment", "drums", "bass", "other", "piano", "guitar")
FloatArray = npt.NDArray[np.float32]
# Engines a server runs only when configured, with what to configure: naming one on a server without it
# is FAILED_PRECONDITION (the server could, once set up), not NOT_FOUND.
OPTIONAL_ENGINES: Final[dict[str, str]] = {
    "learned": "train its weights with `python -m ting_separate.learned.train` (`make setup` does) or point "
    "TING_SEPARATE_LEARNED_MODEL_PATH at them, and restart the server",
    "onnx": "set TING_SEPARATE_ONNX_MODEL_PATH to a separator exported to ONNX (with TING_SEPARATE_ONNX_STEMS, "
    "TING_SEPARATE_ONNX_SAMPLE_RATE and TING_SEPARATE_ONNX_CHANNELS describing it) and restart the server",
}


@dataclass(frozen=True)
class EngineInfo:
    """What ``ListEngines`` reports about one engine."""

    name: str
    description: str
    model: str
    supported_stems: tuple[StemName, ...]
    default_stems: tuple[StemName, ...]
    loaded: bool
    device: str
    sample_rate: int  # 0: works at the input's rate
    channels: int  # 0: keeps the input's channel count
    default_segment_ms: int


@dataclass(frozen=True)
class SeparationOptions:
    """Validated run options (the servicer fills the defaults and checks the ranges)."""

    stems: tuple[StemName, ...] = ("vocals", "accompaniment")
    segment_ms: int = 0  # 0: the engine's default chunk length
    overlap_ratio: float | None = None  # None: the engine's default


@dataclass(frozen=True)
class ChunkPlan:
    """How an engine cuts its input (:func:`~ting_separate.engines.chunking.stream_in_batches`): chunk and overlap
    lengths, context on either side and chunks per batch, all in input samples.

    A remote engine cuts with the runner's plan on the caller's side and has the runner separate each batch
    (:meth:`ChunkedSeparationEngine.separate_chunks`), so its stems are those of the in-process engine.
    """

    chunk: int
    overlap: int
    context: int = 0
    batch: int = 1


class StopRequested(Exception):
    """Raised inside an engine when the caller cancelled or its deadline passed."""


@dataclass
class CallControl:
    """Per-call hooks: a stop flag the engine checks between chunks and a progress sink.

    ``on_progress(done_samples, total_samples)`` is called after each chunk, from the worker thread.
    """

    stop: threading.Event = field(default_factory=threading.Event)
    on_progress: Callable[[int, int], None] | None = None

    def check(self) -> None:
        """Raise :class:`StopRequested` when the caller has gone away."""
        if self.stop.is_set():
            raise StopRequested

    def progress(self, done: int, total: int) -> None:
        """Report ``done`` of ``total`` input samples separated."""
        if self.on_progress is not None:
            self.on_progress(done, total)


class SeparationEngine(Protocol):
    """A source separator. ``separate`` is blocking; the servicer runs it in a worker thread."""

    name: str

    def info(self) -> EngineInfo:
        """Describe the engine (stems, rate, defaults)."""
        ...

    def separate(
        self, audio: FloatArray, sample_rate: int, options: SeparationOptions, control: CallControl
    ) -> dict[StemName, FloatArray]:
        """Split ``audio`` (float32 ``(channels, samples)``) into ``options.stems``, each the same shape.

        Calls ``control.progress`` between chunks and raises :class:`StopRequested` soon after
        ``control.stop`` is set.
        """
        ...

    def separate_stream(
        self,
        blocks: Iterable[FloatArray],
        sample_rate: int,
        options: SeparationOptions,
        control: CallControl,
        total_hint: int = 0,
    ) -> Iterator[dict[StemName, FloatArray]]:
        """:meth:`separate` over a stream: ``blocks`` are consecutive ``(channels, n)`` pieces of the input
        (any ``n``, read lazily), and the result comes as consecutive finished pieces of every stem.

        Memory stays bounded by the engine's chunk or batch, however long the input; ``total_hint`` (the
        expected input length in samples, 0 when unknown) only scales the progress reports.
        """
        ...

    def close(self) -> None:
        """Free resources (models, pools)."""
        ...


@runtime_checkable
class ChunkedSeparationEngine(SeparationEngine, Protocol):
    """An engine whose ``separate_stream`` is :func:`~ting_separate.engines.chunking.stream_in_batches` over
    :meth:`plan` and :meth:`separate_chunks`: what a model runner hosts (:mod:`ting_separate.runner`)."""

    def plan(self, sample_rate: int, channels: int, options: SeparationOptions) -> ChunkPlan:
        """The chunking of ``channels``-channel input at ``sample_rate`` for ``options``; checks the options
        (unsupported stems, channels) as ``separate_stream`` would."""
        ...

    def separate_chunks(
        self, chunks: Sequence[FloatArray], sample_rate: int, options: SeparationOptions
    ) -> list[dict[StemName, FloatArray]]:
        """``options.stems`` of each chunk (with its context), exactly as one batch inside ``separate_stream``."""
        ...


def supported_text(stems: Sequence[str]) -> str:
    """``"vocals, accompaniment"``: a list of stems for error messages."""
    return ", ".join(stems)
