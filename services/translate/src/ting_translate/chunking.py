"""Chunk planning: group segments (cues or text pieces) into requests that fit the engine's context.

Rules, in order:

- a segment is never cut (cues stay whole; long plain texts are first split at sentence ends by
  :func:`split_text` so that no piece exceeds the budget unless one sentence does);
- a chunk holds at most ``max_items`` segments and at most ``budget`` tokens *including* the read-only context
  carried from the previous chunk (its last ``context_items`` segments); a single segment over the budget gets
  a chunk of its own;
- a full chunk ends, where it can, after a segment that ends a sentence (searching back over the second half
  of the chunk), so a sentence running over several cues is translated in one piece.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from ting_translate.tokens import TokenCounter

__all__ = ["Chunk", "ends_sentence", "plan_chunks", "split_text"]

_SENTENCE_END: Final = re.compile(r"""[.!?…。！？](?:["'»”’)\]]|⟦\d+⟧)*\s*$""")
_SENTENCE_SPLIT: Final = re.compile(r"(?<=[.!?…])\s+|(?<=[。！？])")


@dataclass(frozen=True)
class Chunk:
    """Segments ``[start, end)`` of the list, with segments ``[context_start, start)`` as context."""

    start: int
    end: int
    context_start: int

    @property
    def size(self) -> int:
        """Number of segments to translate."""
        return self.end - self.start


def ends_sentence(text: str) -> bool:
    """True when ``text`` ends a sentence (final punctuation, possibly followed by quotes/placeholders)."""
    return bool(_SENTENCE_END.search(text))


def plan_chunks(
    costs: Sequence[int],
    *,
    budget: int,
    max_items: int,
    context_items: int = 2,
    sentence_ends: Sequence[bool] | None = None,
) -> list[Chunk]:
    """Plan chunks over segments of token ``costs`` (see the module docstring)."""
    n = len(costs)
    ends = sentence_ends if sentence_ends is not None else [True] * n
    chunks: list[Chunk] = []
    start = 0
    while start < n:
        context_start = max(0, start - context_items)
        used = sum(costs[context_start:start])
        end = start
        while end < n and end - start < max(1, max_items) and (end == start or used + costs[end] <= budget):
            used += costs[end]
            end += 1
        if end < n:
            half = start + (end - start) // 2
            for j in range(end - 1, max(half, start + 1) - 1, -1):
                if ends[j]:
                    end = j + 1
                    break
        chunks.append(Chunk(start, end, context_start))
        start = end
    return chunks


def split_text(text: str, budget: int, counter: TokenCounter) -> list[str]:
    """Split a long text into pieces of at most ``budget`` tokens at sentence ends (words as a last resort).

    Joining the pieces with single spaces (or nothing, for CJK) gives the text back up to whitespace.
    """
    if counter.count(text) <= budget:
        return [text]
    pieces: list[str] = []
    current = ""
    for sentence in (s for s in _SENTENCE_SPLIT.split(text) if s.strip()):
        parts = [sentence] if counter.count(sentence) <= budget else _split_words(sentence, budget, counter)
        for part in parts:
            joined = f"{current} {part}" if current and not _cjk_join(current, part) else current + part
            if current and counter.count(joined) > budget:
                pieces.append(current)
                current = part
            else:
                current = joined
    if current:
        pieces.append(current)
    return pieces


def _split_words(sentence: str, budget: int, counter: TokenCounter) -> list[str]:
    words = sentence.split(" ") if " " in sentence.strip() else list(sentence)
    glue = " " if " " in sentence.strip() else ""
    out: list[str] = []
    current = ""
    for word in words:
        joined = f"{current}{glue}{word}" if current else word
        if current and counter.count(joined) > budget:
            out.append(current)
            current = word
        else:
            current = joined
    if current:
        out.append(current)
    return out


def _cjk_join(left: str, right: str) -> bool:
    from ting_translate.tokens import is_cjk

    return bool(left) and bool(right) and is_cjk(left[-1]) and is_cjk(right[0])
