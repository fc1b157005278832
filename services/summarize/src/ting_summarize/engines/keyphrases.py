"""Keyphrase candidates and scoring (no corpus needed): RAKE-style phrases for spaced languages, Han
character n-grams with substring reduction for Chinese, scored by frequency, length and how specific
they are to one part of the transcript (an IDF over its chapters)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ting_summarize.engines.text import STOP_BIGRAMS_ZH, STOPCHARS_ZH, STOPWORDS_EN, is_cjk, word_list

_NUMBER_WORDS = frozenset(
    word_list(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred "
        "thousand million billion percent minutes minute hours hour days weeks months years seconds "
    )
)
_INNER_STOP_ZH = frozenset("的了吗呢吧啊是")
# Numerals (and the 前 of 之前/以前) begin amounts, dates and deadlines ("八万元", "五月", "前完成"), not topics.
_START_STOP_ZH = frozenset("零一二两三四五六七八九十百千万亿第前")
# Ends: directional/aspect complements close verb phrases ("发出去"); 会 ending a phrase is a noun (发布会, 宴会).
_END_STOP_ZH = (STOPCHARS_ZH - frozenset("会")) | frozenset("去来着过")
_BREAK_EN = re.compile(r"[.,;:!?()\[\]\"“”…—–]+|\s-\s")


@dataclass(frozen=True)
class Phrase:
    """A candidate keyphrase: its normalized key, the most common written form, and counts."""

    key: str
    surface: str
    count: int
    words: int


def _en_phrases(text: str) -> list[tuple[str, str]]:
    """(key, surface) for every 1-3 word run of content words in ``text``."""
    out: list[tuple[str, str]] = []
    for chunk in _BREAK_EN.split(text):
        run: list[str] = []
        for token in re.findall(r"[A-Za-z0-9][A-Za-z0-9'\-.]*[A-Za-z0-9]|[A-Za-z0-9]", chunk):
            low = token.lower()
            if low in STOPWORDS_EN or low in _NUMBER_WORDS or "'" in low or (low.isdigit() and len(low) < 3):
                run = []
                continue
            run.append(token)
            for n in range(1, min(3, len(run)) + 1):
                gram = run[-n:]
                if n == 1 and (len(low) < 3 or low.isdigit()):
                    continue
                out.append((" ".join(g.lower() for g in gram), " ".join(gram)))
    return out


def _zh_phrases(text: str) -> list[tuple[str, str]]:
    """Han n-grams (2-4 characters) that neither start nor end with a function character."""
    out: list[tuple[str, str]] = []
    for run in re.findall(r"[\u4e00-\u9fff]+", text):
        for n in (2, 3, 4):
            for i in range(len(run) - n + 1):
                gram = run[i : i + n]
                if gram[0] in STOPCHARS_ZH or gram[0] in _START_STOP_ZH or gram[-1] in _END_STOP_ZH:
                    continue
                if any(c in _INNER_STOP_ZH for c in gram):
                    continue
                if any(b in STOP_BIGRAMS_ZH for b in (gram[j : j + 2] for j in range(n - 1))):
                    continue
                out.append((gram, gram))
    out.extend(_en_phrases(text))
    return out


def phrases(text: str, language: str) -> list[tuple[str, str]]:
    """All candidate (key, surface) occurrences of ``text``."""
    return _zh_phrases(text) if is_cjk(language) else _en_phrases(text)


def collect(texts: Sequence[str], language: str) -> tuple[dict[str, Phrase], list[Counter[str]]]:
    """Candidates over the whole transcript and their counts per text (e.g. per chapter)."""
    per_text: list[Counter[str]] = []
    surfaces: dict[str, Counter[str]] = {}
    for text in texts:
        counts: Counter[str] = Counter()
        for key, surface in phrases(text, language):
            counts[key] += 1
            surfaces.setdefault(key, Counter())[surface] += 1
        per_text.append(counts)
    total: Counter[str] = Counter()
    for counts in per_text:
        total.update(counts)
    cjk = is_cjk(language)
    table = {
        key: Phrase(
            key,
            surfaces[key].most_common(1)[0][0],
            count,
            len(key) // 2 if cjk and not key.isascii() else len(key.split()),
        )
        for key, count in total.items()
    }
    # A sub-phrase that (almost) only occurs inside one longer phrase adds nothing ("志愿" in "志愿者").
    for key, phrase in list(table.items()):
        for other in table.values():
            if other.key != key and key in other.key and other.count >= 0.8 * phrase.count and other.count >= 2:
                table.pop(key, None)
                break
    return table, per_text


def score(phrase: Phrase, counts: Counter[str], per_text: Sequence[Counter[str]]) -> float:
    """Frequency in ``counts`` × length bonus × specificity (log inverse share of texts that use it)."""
    tf = counts.get(phrase.key, 0)
    if tf == 0:
        return 0.0
    df = sum(1 for c in per_text if phrase.key in c)
    idf = math.log(1.0 + len(per_text) / df)
    return math.log1p(tf) * (1.0 + 0.5 * (min(phrase.words, 3) - 1)) * idf


def top_phrases(
    table: dict[str, Phrase], counts: Counter[str], per_text: Sequence[Counter[str]], k: int, min_count: int = 2
) -> list[tuple[Phrase, float]]:
    """The ``k`` best non-overlapping phrases of ``counts`` (occurring at least ``min_count`` times there)."""
    scored = [
        (p, score(p, counts, per_text)) for p in table.values() if counts.get(p.key, 0) >= min_count and p.count >= 1
    ]
    scored.sort(key=lambda item: (-item[1], item[0].key))
    chosen: list[tuple[Phrase, float]] = []
    for phrase, value in scored:
        if value <= 0:
            break
        if any(phrase.key in c.key or c.key in phrase.key for c, _ in chosen):
            continue
        chosen.append((phrase, value))
        if len(chosen) >= k:
            break
    return chosen
