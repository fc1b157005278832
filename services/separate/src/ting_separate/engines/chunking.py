"""Overlapping chunks with complementary cross-fades, so long inputs run in bounded memory.

Chunk ``k`` covers ``[start_k, end_k)``; consecutive chunks overlap by ``overlap`` samples. Each chunk's
output is weighted by a raised-cosine fade-in over its first ``overlap`` samples (not for the first
chunk) and the complementary fade-out over its last ``overlap`` samples (not for the last chunk). The
weights of overlapping chunks sum to exactly 1, so an identity separator reconstructs its input.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Final, Generic, TypeVar

import numpy as np

from ting_common.errors import FailedPreconditionError
from ting_separate.engines import (
    CallControl,
    ChunkPlan,
    EngineInfo,
    FloatArray,
    SeparationEngine,
    SeparationOptions,
    StemName,
    supported_text,
)

VOCALS_ACCOMPANIMENT: Final[tuple[StemName, ...]] = ("vocals", "accompaniment")


def chunk_plan(total: int, chunk: int, overlap: int) -> list[tuple[int, int]]:
    """``(start, end)`` of each chunk covering ``total`` samples; every overlap is exactly ``overlap``."""
    if total <= 0:
        return []
    if chunk <= 0 or not 0 <= overlap < chunk:
        raise ValueError(f"need 0 <= overlap < chunk, got chunk={chunk}, overlap={overlap}")
    plan = [(0, min(chunk, total))]
    while plan[-1][1] < total:
        start = plan[-1][1] - overlap
        plan.append((start, min(start + chunk, total)))
    return plan


def fade_in(length: int) -> FloatArray:
    """Raised-cosine ramp from ~0 to ~1; ``fade_in(n) + fade_in(n)[::-1] == 1``."""
    position = (np.arange(length, dtype=np.float64) + 0.5) / max(length, 1)
    return np.sin(0.5 * np.pi * position).astype(np.float32) ** 2


def separate_in_chunks(
    audio: FloatArray,
    stems: Sequence[StemName],
    separate_chunk: Callable[[FloatArray], dict[StemName, FloatArray]],
    *,
    chunk: int,
    overlap: int,
    control: CallControl,
) -> dict[StemName, FloatArray]:
    """Run ``separate_chunk`` on overlapping chunks of ``audio`` ``(channels, samples)`` and cross-fade.

    Checks ``control`` before each chunk (stopping between chunks) and reports progress after each.
    Working memory is one chunk's worth plus the output arrays.
    """
    return separate_in_batches(
        audio,
        stems,
        lambda pieces: [separate_chunk(piece) for piece in pieces],
        chunk=chunk,
        overlap=overlap,
        batch=1,
        control=control,
    )


def separate_in_batches(
    audio: FloatArray,
    stems: Sequence[StemName],
    separate_batch: Callable[[list[FloatArray]], Sequence[dict[StemName, FloatArray]]],
    *,
    chunk: int,
    overlap: int,
    batch: int,
    control: CallControl,
    context: int = 0,
) -> dict[StemName, FloatArray]:
    """Like :func:`separate_in_chunks`, handing ``separate_batch`` up to ``batch`` chunks per call.

    The whole-array form of :func:`stream_in_batches` (see there); the output arrays are allocated once
    and filled block by block.
    """
    out: dict[StemName, FloatArray] = {stem: np.zeros_like(audio, dtype=np.float32) for stem in stems}
    done = 0
    blocks = stream_in_batches(
        [audio],
        stems,
        separate_batch,
        chunk=chunk,
        overlap=overlap,
        batch=batch,
        control=control,
        context=context,
        total_hint=audio.shape[1],
    )
    for block in blocks:
        width = block[stems[0]].shape[1] if stems else 0
        for stem in stems:
            out[stem][:, done : done + width] = block[stem]
        done += width
    return out


def collect(blocks: Iterable[dict[StemName, FloatArray]], stems: Sequence[StemName]) -> dict[StemName, FloatArray]:
    """Join the output blocks of :func:`stream_in_batches` into whole ``(channels, samples)`` stems."""
    parts: dict[StemName, list[FloatArray]] = {stem: [] for stem in stems}
    for block in blocks:
        for stem in stems:
            parts[stem].append(block[stem])
    return {
        stem: np.concatenate(pieces, axis=1) if pieces else np.zeros((1, 0), np.float32)
        for stem, pieces in parts.items()
    }


def stream_in_batches(
    blocks: Iterable[FloatArray],
    stems: Sequence[StemName],
    separate_batch: Callable[[list[FloatArray]], Sequence[dict[StemName, FloatArray]]],
    *,
    chunk: int,
    overlap: int,
    batch: int,
    control: CallControl,
    context: int = 0,
    total_hint: int = 0,
) -> Iterator[dict[StemName, FloatArray]]:
    """Separate a stream of input ``blocks`` (``(channels, n)``, any ``n``) chunk by chunk; yield finished output.

    The chunks are those of :func:`chunk_plan` over the whole input (whose length is only known at its end).
    Each chunk is passed with up to ``context`` extra samples of its neighbours on either side (fewer at
    the ends of the audio); ``separate_batch`` gets up to ``batch`` chunks per call, returns stems of the
    length it was given, and the context is cut off again (engines that filter each chunk, a resampler say,
    put their edge effects there). Each yielded dict holds the next consecutive ``(channels, m)`` piece of
    every stem, final once yielded: the samples before the next chunk's start. ``control`` is checked before
    each batch and progress reported after each (against ``total_hint``, or the samples seen so far when the
    hint is short). Working memory is one batch of input chunks and their outputs, however long the input.
    """
    if batch < 1 or context < 0:
        raise ValueError(f"need batch >= 1 and context >= 0, got batch={batch}, context={context}")
    if chunk <= 0 or not 0 <= overlap < chunk:
        raise ValueError(f"need 0 <= overlap < chunk, got chunk={chunk}, overlap={overlap}")
    source = iter(blocks)
    step = chunk - overlap
    ramp = fade_in(overlap)
    buffer: FloatArray | None = None  # input samples [held_from, held_from + buffer width)
    held_from = 0
    waiting: list[FloatArray] = []  # blocks read but not yet joined into ``buffer``
    waiting_samples = 0
    total: int | None = None  # known once the input has ended
    pending: dict[StemName, FloatArray] = {}  # output samples [next_start, ...) still receiving contributions
    next_start = 0  # start of the next chunk, also where the unfinished output begins
    index = 0  # of the next chunk
    while True:
        control.check()
        # Read until the batch's chunks (plus right context and one sample to see past their end) are here.
        wanted = next_start + (batch - 1) * step + chunk + context + 1
        held_to = held_from + (0 if buffer is None else buffer.shape[1]) + waiting_samples
        while total is None and held_to < wanted:
            block = next(source, None)
            if block is None:
                total = held_to
                break
            if block.shape[1]:
                waiting.append(block)
                waiting_samples += block.shape[1]
                held_to += block.shape[1]
        if waiting:
            buffer = np.concatenate(([] if buffer is None else [buffer]) + waiting, axis=1)
            waiting, waiting_samples = [], 0
        if buffer is None or (total is not None and next_start >= total and index > 0) or total == 0:
            return
        end_of_input = held_from + buffer.shape[1] if total is None else total
        group: list[tuple[int, int, bool]] = []  # (start, end, last)
        start = next_start
        for _ in range(batch):
            end = min(start + chunk, end_of_input)
            last = total is not None and end >= total
            group.append((start, end, last))
            if last:
                break
            start = end - overlap
        spans = [(max(0, lo - context), min(end_of_input, hi + context)) for lo, hi, _ in group]
        results = separate_batch([np.ascontiguousarray(buffer[:, lo - held_from : hi - held_from]) for lo, hi in spans])
        if len(results) != len(group):
            raise RuntimeError(f"separate_batch returned {len(results)} results for {len(group)} chunks")
        group_end = group[-1][1]
        channels = buffer.shape[0]
        for stem in stems:
            grown = np.zeros((channels, group_end - next_start), dtype=np.float32)
            if stem in pending:
                grown[:, : pending[stem].shape[1]] = pending[stem]
            pending[stem] = grown
        for (lo, hi, last), (span_lo, _), pieces in zip(group, spans, results, strict=True):
            weight = np.ones(hi - lo, dtype=np.float32)
            if index > 0 and overlap:
                weight[:overlap] *= ramp
            if not last and overlap:
                weight[-overlap:] *= ramp[::-1]
            for stem in stems:
                pending[stem][:, lo - next_start : hi - next_start] += (
                    pieces[stem][:, lo - span_lo : hi - span_lo] * weight
                )
            index += 1
        done = group[-1][2]
        finished_to = group_end if done else group_end - overlap
        control.progress(group_end, total if total is not None else max(total_hint, held_from + buffer.shape[1]))
        yield {stem: pending[stem][:, : finished_to - next_start] for stem in stems}
        for stem in stems:
            pending[stem] = pending[stem][:, finished_to - next_start :].copy()
        if done:
            return
        keep_from = finished_to - context
        if keep_from > held_from:
            buffer = buffer[:, keep_from - held_from :].copy()
            held_from = keep_from
        next_start = finished_to


def separate_whole(
    engine: SeparationEngine, audio: FloatArray, sample_rate: int, options: SeparationOptions, control: CallControl
) -> dict[StemName, FloatArray]:
    """``engine.separate`` of a whole ``(channels, samples)`` array through its ``separate_stream``."""
    return collect(engine.separate_stream([audio], sample_rate, options, control, audio.shape[1]), options.stems)


def stream_planned(
    blocks: Iterable[FloatArray],
    options: SeparationOptions,
    control: CallControl,
    total_hint: int,
    plan: Callable[[int], ChunkPlan],
    separate_chunks: Callable[[list[FloatArray]], Sequence[dict[StemName, FloatArray]]],
) -> Iterator[dict[StemName, FloatArray]]:
    """:func:`stream_in_batches` with the chunking ``plan(channels)`` gives for the first block's channel count: the
    ``separate_stream`` of every engine that has a :class:`ChunkPlan` (in process and on a runner alike)."""
    source = iter(blocks)
    first = next(source, None)
    if first is None:
        return
    chunking = plan(first.shape[0])
    yield from stream_in_batches(
        itertools.chain([first], source),
        options.stems,
        separate_chunks,
        chunk=chunking.chunk,
        overlap=chunking.overlap,
        batch=chunking.batch,
        control=control,
        context=chunking.context,
        total_hint=total_hint,
    )


@dataclass(frozen=True)
class ChunkSettings:
    """How a :class:`ChunkedEngine` cuts its input: chunks of ``chunk_s`` cross-faded over ``crossfade_s``."""

    chunk_s: float = 30.0
    crossfade_s: float = 1.0


SettingsT = TypeVar("SettingsT", bound=ChunkSettings)


class ChunkedEngine(Generic[SettingsT]):
    """An embedded vocals/accompaniment engine that splits each chunk on its own: the chunking, streaming and
    stem selection of :class:`~ting_separate.engines.SeparationEngine`, around :meth:`separate_piece`.
    Subclasses set ``name`` and define :meth:`describe` and :meth:`separate_piece`."""

    name: str = ""
    supported: tuple[StemName, ...] = VOCALS_ACCOMPANIMENT

    def __init__(self, settings: SettingsT) -> None:
        self.settings = settings

    def describe(self) -> tuple[str, str]:
        """This engine's ``(description, model)`` for :meth:`info`."""
        raise NotImplementedError

    def info(self) -> EngineInfo:
        """Stems, defaults and chunking of this engine: loaded in process on the CPU, any rate and channels."""
        description, model = self.describe()
        return EngineInfo(
            name=self.name,
            description=description,
            model=model,
            supported_stems=self.supported,
            default_stems=self.supported,
            loaded=True,
            device="cpu",
            sample_rate=0,
            channels=0,
            default_segment_ms=round(self.settings.chunk_s * 1000),
        )

    def separate_piece(self, piece: FloatArray, sample_rate: int, settings: SettingsT) -> dict[StemName, FloatArray]:
        """Every supported stem of one chunk ``(channels, samples)``."""
        raise NotImplementedError

    def separate(
        self, audio: FloatArray, sample_rate: int, options: SeparationOptions, control: CallControl
    ) -> dict[StemName, FloatArray]:
        """Split ``audio`` in overlapping chunks."""
        return separate_whole(self, audio, sample_rate, options, control)

    def separate_stream(
        self,
        blocks: Iterable[FloatArray],
        sample_rate: int,
        options: SeparationOptions,
        control: CallControl,
        total_hint: int = 0,
    ) -> Iterator[dict[StemName, FloatArray]]:
        """:meth:`separate` over a stream of input blocks, yielding finished output blocks."""
        return stream_planned(
            blocks,
            options,
            control,
            total_hint,
            lambda channels: self.plan(sample_rate, channels, options),
            lambda pieces: self.separate_chunks(pieces, sample_rate, options),
        )

    def plan(self, sample_rate: int, channels: int, options: SeparationOptions) -> ChunkPlan:
        """Chunks of ``chunk_s`` (or ``options.segment_ms``), one per batch, cross-faded over ``crossfade_s``
        (at most a quarter chunk) or ``options.overlap_ratio``; any channel count."""
        unsupported = [s for s in options.stems if s not in self.supported]
        if unsupported:
            raise FailedPreconditionError(
                f"the {self.name} engine cannot produce {supported_text(unsupported)}; "
                f"it supports {supported_text(self.supported)}"
            )
        settings = self.call_settings(options)
        chunk = max(1, round(settings.chunk_s * sample_rate))
        if options.overlap_ratio is not None:
            overlap = round(chunk * options.overlap_ratio)
        else:
            overlap = min(round(settings.crossfade_s * sample_rate), chunk // 4)
        return ChunkPlan(chunk=chunk, overlap=overlap, context=0, batch=1)

    def separate_chunks(
        self, chunks: Sequence[FloatArray], sample_rate: int, options: SeparationOptions
    ) -> list[dict[StemName, FloatArray]]:
        """``options.stems`` of each chunk (:meth:`separate_piece`)."""
        settings = self.call_settings(options)
        results = []
        for piece in chunks:
            stems = self.separate_piece(piece, sample_rate, settings)
            results.append({stem: stems[stem] for stem in options.stems})
        return results

    def call_settings(self, options: SeparationOptions) -> SettingsT:
        """The engine's settings with this call's chunk length."""
        if options.segment_ms:
            return replace(self.settings, chunk_s=options.segment_ms / 1000)
        return self.settings

    def close(self) -> None:
        """Nothing to free."""
