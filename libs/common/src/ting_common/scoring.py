"""Transcript scoring: word error rate (character error rate for zh/ja/th) after Whisper's normalizers.

Used by ``make run``, the integration tests and the benchmarks, so all three report the same number.
"""

from __future__ import annotations

from functools import cache
from typing import Any

CHARACTER_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "my", "yue", "ko"})


@cache
def _english() -> Any:
    from whisper_normalizer.english import EnglishTextNormalizer

    return EnglishTextNormalizer()


@cache
def _basic() -> Any:
    from whisper_normalizer.basic import BasicTextNormalizer

    return BasicTextNormalizer()


def normalize(text: str, language: str = "en") -> str:
    """Whisper's English normalizer for en (numbers, spelling, punctuation), the basic one otherwise."""
    normalizer = _english() if language == "en" else _basic()
    return " ".join(str(normalizer(text)).split())


def error_rate(reference: str, hypothesis: str, language: str = "en") -> float:
    """WER (or CER for languages written without spaces) of ``hypothesis`` against ``reference``."""
    import jiwer

    ref = normalize(reference, language)
    hyp = normalize(hypothesis, language)
    if language in CHARACTER_LANGUAGES:
        ref, hyp = ref.replace(" ", ""), hyp.replace(" ", "")
        if not ref:
            return 0.0 if not hyp else 1.0
        return float(jiwer.cer(ref, hyp))
    if not ref.split():
        return 0.0 if not hyp.split() else 1.0
    return float(jiwer.wer(ref, hyp))
