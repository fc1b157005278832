"""Overlapping chunks with complementary cross-fades, so long inputs run in bounded memory.

Chunk ``k`` covers ``[start_k, end_k)``; consecutive chunks overlap by ``overlap`` samples. Each chunk's
output is weighted by a raised-cosine fade-in over its first ``overlap`` samples (not for the first
chunk) and the complementary fade-out over its last ``overlap`` samples (not for the last chunk). The
weights of overlapping chunks sum to exactly 1, so an identity separator reconstructs its input.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ting_separate.engines import CallControl, FloatArray, StemName


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

    Each chunk is passed with up to ``context`` extra samples of its neighbours on either side (fewer at
    the ends of the audio); ``separate_batch`` returns stems of the length it was given and the context
    is cut off again. Engines that filter each chunk (a resampler, say) put their edge effects there.
    ``control`` is checked before each batch and progress reported after each. Working memory is one
    batch's worth plus the output arrays.
    """
    if batch < 1 or context < 0:
        raise ValueError(f"need batch >= 1 and context >= 0, got batch={batch}, context={context}")
    total = audio.shape[1]
    out: dict[StemName, FloatArray] = {stem: np.zeros_like(audio, dtype=np.float32) for stem in stems}
    plan = chunk_plan(total, chunk, overlap)
    ramp = fade_in(overlap)
    for first in range(0, len(plan), batch):
        control.check()
        group = plan[first : first + batch]
        spans = [(max(0, start - context), min(total, end + context)) for start, end in group]
        results = separate_batch([np.ascontiguousarray(audio[:, lo:hi]) for lo, hi in spans])
        if len(results) != len(group):
            raise RuntimeError(f"separate_batch returned {len(results)} results for {len(group)} chunks")
        for index, ((start, end), (lo, _), pieces) in enumerate(zip(group, spans, results, strict=True), first):
            weight = np.ones(end - start, dtype=np.float32)
            if index > 0 and overlap:
                weight[:overlap] *= ramp
            if index < len(plan) - 1 and overlap:
                weight[-overlap:] *= ramp[::-1]
            for stem in stems:
                out[stem][:, start:end] += pieces[stem][:, start - lo : end - lo] * weight
        control.progress(group[-1][1], total)
    return out
