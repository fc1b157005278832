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

from pathlib import Path
from typing import Protocol

from ting_common.errors import FailedPreconditionError
from ting_common.llm import estimate_tokens, is_cjk

__all__ = ["EstimatingTokenCounter", "HFTokenCounter", "TokenCounter", "is_cjk"]


class TokenCounter(Protocol):
    """Counts the tokens a text costs in a prompt."""

    name: str

    def count(self, text: str) -> int:
        """Number of tokens of ``text``."""
        ...


class EstimatingTokenCounter:
    """Conservative tokenizer-free estimate (see the module docstring)."""

    name = "estimate"

    def count(self, text: str) -> int:
        """Estimated (over-)count of the tokens of ``text`` (:func:`ting_common.llm.estimate_tokens`)."""
        return estimate_tokens(text)


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
