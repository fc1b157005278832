"""Token counting for chunk budgets.

A remote LLM's tokenizer is usually unknown, so the default :class:`EstimatingTokenCounter` is a deliberately
*conservative* estimate (it over-counts for the common byte-level BPE vocabularies of GPT-2/Whisper/Llama/
SmolLM2; ``tests/unit/test_translate_chunking.py`` checks that against the Whisper ``tokenizer.json`` when it is
installed): one token per 3 ASCII characters of a word or number run (at least one per run), one per
punctuation mark, two per CJK/kana/hangul character and one per other non-ASCII character, plus a 25 % margin
(measured on the shared eval subtitles against Whisper's byte-level BPE: the real count is at most 0.9 x the
estimate per cue and about 0.6 x on average, so chunks are smaller than they could be, never too big).
Operators who know the model can set ``TING_TRANSLATE_TOKENIZER_PATH`` to its ``tokenizer.json``;
:class:`HFTokenCounter` then counts exactly with the ``tokenizers`` library.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Final, Protocol

from ting_common.errors import FailedPreconditionError

__all__ = ["EstimatingTokenCounter", "HFTokenCounter", "TokenCounter", "is_cjk"]

_ASCII_RUN: Final = re.compile(r"[A-Za-z0-9]+")
SAFETY_MARGIN: Final = 1.25


class TokenCounter(Protocol):
    """Counts the tokens a text costs in a prompt."""

    name: str

    def count(self, text: str) -> int:
        """Number of tokens of ``text``."""
        ...


def is_cjk(char: str) -> bool:
    """True for Han, kana, hangul and CJK punctuation/full-width forms."""
    code = ord(char)
    return (
        0x2E80 <= code <= 0x9FFF
        or 0xAC00 <= code <= 0xD7AF
        or 0xF900 <= code <= 0xFAFF
        or 0xFF00 <= code <= 0xFFEF
        or 0x20000 <= code <= 0x3FFFF
    )


class EstimatingTokenCounter:
    """Conservative tokenizer-free estimate (see the module docstring)."""

    name = "estimate"

    def count(self, text: str) -> int:
        """Estimated (over-)count of the tokens of ``text``."""
        total = 0
        for run in _ASCII_RUN.findall(text):
            total += max(1, math.ceil(len(run) / 3))
        for char in _ASCII_RUN.sub("", text):
            if char in " \t":
                continue
            if not char.isascii():
                total += 2 if is_cjk(char) else 1
            else:
                total += 1  # punctuation, newlines
        return math.ceil(total * SAFETY_MARGIN)


class HFTokenCounter:
    """Exact counts with a Hugging Face ``tokenizer.json`` (the ``tokenizers`` library)."""

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer

        try:
            self._tokenizer = Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises a bare Exception for unreadable files
            raise FailedPreconditionError(
                f"cannot load the tokenizer {path} (TING_TRANSLATE_TOKENIZER_PATH): {exc}"
            ) from exc
        self.name = f"tokenizer.json:{path.name}"

    def count(self, text: str) -> int:
        """Exact number of tokens of ``text`` (without special tokens)."""
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)
