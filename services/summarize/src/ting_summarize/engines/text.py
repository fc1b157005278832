"""Text helpers of the extractive engine: language guess, sentence splitting, word/term tokenization.

Sentences are built across segments (an ASR segment may end mid-sentence and the next one carries on),
and each sentence remembers the segments it came from, so every extracted item keeps its times.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ting_common.transcript import Segment

CJK_LANGUAGES = frozenset({"zh", "ja", "yue"})

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
# Sentence ends: latin terminators followed by space/end, CJK terminators anywhere; closing quotes stay attached.
_EN_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*(?=\s+|$)")
_ZH_END = re.compile(r"(?<=[。！？!?；;…])[”’」』）)]*")
# "Dr." "e.g." "Mr." and single initials do not end a sentence.
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "prof", "st", "vs", "etc", "e.g", "i.e", "inc", "ltd", "jr", "sr", "no", "approx"}
)


def word_list(text: str) -> list[str]:
    """The whitespace-separated words of a (long, wrapped) literal: how word lists are written here."""
    return text.split()


STOPWORDS_EN = frozenset(
    word_list(
        "a about above after again against all almost already also although always am an and another any "
        "anybody anyone anything are aren't around as at back be because been before being below between both "
        "but by can can't cannot could couldn't did didn't do does doesn't doing don't done down during each "
        "either else enough even ever every everyone everything few first for from further get gets getting "
        "go goes going gone good got great had hadn't has hasn't have haven't having he he'd he'll he's her "
        "here here's hers herself him himself his how how's however i i'd i'll i'm i've if in into is isn't "
        "it it's its itself just keep know let let's like look looks lot made make makes many may maybe me "
        "might mine more most much must mustn't my myself need needs never new next no nobody none nor not "
        "nothing now of off often oh ok okay on once one ones only onto or other others otherwise ought our "
        "ours ourselves out over own perfect please pretty probably put quite rather really right said same "
        "say says see seems shall shan't she she'd she'll she's should shouldn't since so some somebody "
        "someone something sometimes soon still such sure take than thank thanks that that's the their theirs "
        "them themselves then there there's these they they'd they'll they're they've thing things think this "
        "those though through thus to today together too toward towards two under until up upon us use used "
        "very via want wanted was wasn't way we we'd we'll we're we've well were weren't what what's whatever "
        "when when's where where's whether which while who who's whom whose why why's will with within "
        "without won't would wouldn't yeah yes yet you you'd you'll you're you've your yours yourself "
        "yourselves also actually basically anyway agree agreed fine tell told ask asked call called thing "
        "kind sort mean means meant going gonna wanna got lets week day time times idea point part three four "
        "five six seven eight nine ten hundred thousand "
    )
)
# Function characters that rarely start or end a Chinese content word.
STOPCHARS_ZH = frozenset(
    "的了是我你他她它们在和有这那就也都吗呢吧啊呀哦嗯个不没很还要会能可以把被给对从到跟与而及或等上下里中之其为于以所并再又先后一二两几每该此些么怎什哪谁多少好说看想让"
)
STOP_BIGRAMS_ZH = frozenset(
    word_list(
        "我们 你们 他们 大家 今天 这个 那个 一下 一个 可以 没有 已经 因为 所以 如果 但是 不过 还是 就是 什么 "
        "怎么 这样 那么 时候 问题 觉得 应该 需要 比较 非常 主要 其中 一共 大概 之前 之后 以后 以前 好的 同意 "
        "谢谢 开始 "
    )
)


def detect_language(text: str) -> str:
    """Guess ``zh`` (mostly Han characters) or ``en`` (anything else) from ``text``."""
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN.findall(text))
    if cjk and cjk * 2 >= latin:
        return "zh"
    return "en"


def is_cjk(language: str) -> bool:
    """True when ``language`` is written without spaces between words."""
    return language.split("-")[0].lower() in CJK_LANGUAGES


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence of the transcript with where it came from."""

    index: int
    text: str
    segment_ids: tuple[int, ...]
    start: float
    end: float
    speaker: str = ""

    @property
    def is_question(self) -> bool:
        """True for a sentence ending in a question mark."""
        return self.text.rstrip("\"'”’)").endswith(("?", "？"))


def _split_en(text: str) -> list[str]:
    parts: list[str] = []
    last = 0
    for match in _EN_END.finditer(text):
        end = match.end()
        piece = text[last:end].strip()
        words = piece.split()
        tail = words[-1].rstrip(".").lower() if words else ""
        if piece.endswith(".") and (tail in _ABBREVIATIONS or (len(tail) == 1 and tail.isalpha())):
            continue  # "Dr. Lee", "J. Smith": keep going
        if re.search(r"\d\.$", piece) and re.match(r"\s*\d", text[end:]):
            continue  # "2.4" split by a stray space
        if piece:
            parts.append(piece)
        last = end
    rest = text[last:].strip()
    if rest:
        parts.append(rest)
    return parts


def _split_zh(text: str) -> list[str]:
    parts: list[str] = []
    last = 0
    for match in _ZH_END.finditer(text):
        piece = text[last : match.end()].strip()
        if piece:
            parts.append(piece)
        last = match.end()
    rest = text[last:].strip()
    if rest:
        parts.append(rest)
    # A latin sentence inside a Chinese transcript still ends at ". ".
    return [p for piece in parts for p in (_split_en(piece) if not _CJK.search(piece) else [piece])]


def split_text(text: str, language: str) -> list[str]:
    """Split one text into sentences (CJK terminators for zh/ja; ``.!?`` + space elsewhere)."""
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        return []
    return _split_zh(text) if is_cjk(language) or _CJK.search(text) else _split_en(text)


def _ends_sentence(text: str) -> bool:
    return bool(re.search(r"[.!?…。！？；;][\"'”’」』）)\]]*\s*$", text))


def split_sentences(segments: Sequence[Segment], language: str) -> list[Sentence]:
    """Sentences of a transcript in time order, each mapped to the segments it spans.

    A segment that ends without a sentence terminator continues into the next segment of the same
    speaker (ASR cuts sentences by time); a change of speaker always ends the sentence.
    """
    sentences: list[Sentence] = []
    pending: list[tuple[str, Segment]] = []
    joiner = "" if is_cjk(language) else " "

    def flush() -> None:
        if not pending:
            return
        text = joiner.join(t for t, _ in pending).strip()
        ids = tuple(dict.fromkeys(seg.id for _, seg in pending))
        if text:
            sentences.append(
                Sentence(
                    index=len(sentences),
                    text=text,
                    segment_ids=ids,
                    start=pending[0][1].start,
                    end=pending[-1][1].end,
                    speaker=pending[0][1].speaker,
                )
            )
        pending.clear()

    for seg in segments:
        if pending and pending[-1][1].speaker != seg.speaker:
            flush()
        pieces = split_text(seg.text, language)
        for i, piece in enumerate(pieces):
            pending.append((piece, seg))
            if i < len(pieces) - 1 or _ends_sentence(piece):
                flush()
    flush()
    return sentences


_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’\-]*|[\u3400-\u9fff]+", re.UNICODE)


def words(text: str) -> list[str]:
    """Word tokens (latin words with inner apostrophes/hyphens; runs of Han characters kept whole)."""
    return [w.replace("’", "'") for w in _WORD.findall(text)]


def stem(word: str) -> str:
    """A light English stemmer for matching ("posts" ~ "post", "certificates" ~ "certificate")."""
    w = word.lower()
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("s", "")):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3 and not w.endswith("ss"):
            return w[: -len(suffix)] + repl
    return w


def content_terms(text: str, language: str) -> set[str]:
    """Terms for lexical overlap: stemmed non-stopwords (en) or Han bigrams without function characters (zh)."""
    if is_cjk(language) or _CJK.search(text):
        terms: set[str] = set()
        for run in re.findall(r"[\u3400-\u9fff]+", text):
            for i in range(len(run) - 1):
                gram = run[i : i + 2]
                if gram not in STOP_BIGRAMS_ZH and not (gram[0] in STOPCHARS_ZH and gram[1] in STOPCHARS_ZH):
                    terms.add(gram)
        terms.update(stem(w) for w in words(text) if w.isascii() and w.lower() not in STOPWORDS_EN and len(w) > 2)
        return terms
    return {stem(w) for w in words(text) if w.lower() not in STOPWORDS_EN and len(w) > 2}


def lexical_terms(text: str, language: str) -> list[str]:
    """Terms of the lexical (bag-of-n-grams) representation, repeats kept for term frequency.

    Han runs (any language): character bigrams with neither character a function character, minus common
    function bigrams. Latin words: stemmed unigrams of 3+ letters and bigrams of adjacent such words; English
    drops its stopwords, other languages leave frequent words to the IDF.
    """
    terms: list[str] = []
    for run in re.findall(r"[\u3400-\u9fff]+", text):
        for i in range(len(run) - 1):
            gram = run[i : i + 2]
            if gram not in STOP_BIGRAMS_ZH and gram[0] not in STOPCHARS_ZH and gram[1] not in STOPCHARS_ZH:
                terms.append(gram)
    english = language.split("-")[0].lower() == "en"
    previous = ""
    for token in words(text):
        if not token.isascii():
            previous = ""
            continue
        low = token.lower()
        if len(low) < 3 or (english and low in STOPWORDS_EN):
            previous = ""
            continue
        term = stem(low)
        terms.append(term)
        if previous:
            terms.append(f"{previous} {term}")
        previous = term
    return terms


# Topic-transition cue phrases: a segment that announces the next topic ends its chapter ("let's move on to
# hiring", "我们继续下一个议题"); one that names the new topic as such starts the next ("第二个议题是…").
_CLOSING_CUE_EN = re.compile(
    r"\b(?:let'?s|let us|we can|we'll|we will|now we)\s+(?:move|go|turn|switch|jump)\s+on\b"
    r"|\b(?:move|moving|go|turn|switch)\s+(?:on\s+)?to\s+(?:the\s+)?(?:next|last|final|other)\s+"
    r"(?:topic|item|point|issue|subject)",
    re.IGNORECASE,
)
_OPENING_CUE_EN = re.compile(
    r"\b(?:next|second|third|fourth|last|final)\s+(?:topic|item|point|agenda item)\s+(?:is|today is)\b", re.IGNORECASE
)
_CLOSING_CUE_ZH = re.compile(r"(?:继续|进入|转到|开始|讨论|说)(?:一下)?(?:下一个|下个|最后一个)(?:议题|话题|事项)")
_OPENING_CUE_ZH = re.compile(r"(?:第[二三四五六七八九十]|下一|最后一)个?(?:议题|话题|事项)(?:是|就是)")


def transition_cue(text: str) -> int:
    """+1 when ``text`` closes a topic by announcing the next one, -1 when it opens a new topic, else 0."""
    if _CLOSING_CUE_EN.search(text) or _CLOSING_CUE_ZH.search(text):
        return 1
    if _OPENING_CUE_EN.search(text) or _OPENING_CUE_ZH.search(text):
        return -1
    return 0


def text_length(text: str) -> int:
    """Length used for "too short" checks: words for spaced languages, characters for CJK."""
    cjk = len(_CJK.findall(text))
    return cjk + len([w for w in words(text) if w.isascii()])
