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
    total = audio.shape[1]
    out: dict[StemName, FloatArray] = {stem: np.zeros_like(audio, dtype=np.float32) for stem in stems}
    plan = chunk_plan(total, chunk, overlap)
    ramp = fade_in(overlap)
    for index, (start, end) in enumerate(plan):
        control.check()
        pieces = separate_chunk(np.ascontiguousarray(audio[:, start:end]))
        weight = np.ones(end - start, dtype=np.float32)
        if index > 0 and overlap:
            weight[:overlap] *= ramp
        if index < len(plan) - 1 and overlap:
            weight[-overlap:] *= ramp[::-1]
        for stem in stems:
            out[stem][:, start:end] += pieces[stem] * weight
        control.progress(end, total)
    return out
