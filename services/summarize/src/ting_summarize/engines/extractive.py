"""The offline ``extractive`` engine: useful summaries with no LLM.

Every sentence gets a TF-IDF vector of its lexical terms (word unigrams + bigrams; Han character bigrams
without function characters). For English (``ENCODER_LANGUAGES``) it is joined with the sentence's
all-MiniLM-L6-v2 embedding (``EMBEDDING_WEIGHT``); every other language uses the lexical vector alone,
because the model was trained on English and its vectors of Chinese text carry no topic. On those vectors:

* chapters — the optimal contiguous partition of the segment vectors (minimum within-chapter
  dispersion, dynamic programming; lexical vectors are pooled over neighbouring segments first, as
  TextTiling compares blocks), the count capped by ``max_chapters`` or a length-based prior and
  lowered while extra splits gain little; a boundary then moves to a nearby topic-transition cue
  ("let's move on to ...", "第二个议题是..."); titles from the chapter's most specific keyphrases,
  summaries from its most central informative sentence;
* overview — TextRank centrality, MMR for diversity, spread over the chapters;
* key points — content units (a speaker's consecutive sentences, short ones merged; no questions,
  greetings or agenda talk), those closer to another chapter than their own (agenda, recap) left out,
  ranked by TextRank centrality within the chapter times information (IDF mass), picked with MMR,
  one per chapter before the chapters' shares of the rest;
* action items — commitment/request/deadline patterns (:mod:`.actions`);
* keywords — keyphrases by frequency, length and specificity to a chapter (:mod:`.keyphrases`);
* questions and answers — a question and the next speaker's reply; speaker summaries — talk time,
  turns, the speaker's most central sentence and commitments.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ting_common.errors import FailedPreconditionError
from ting_common.transcript import Segment
from ting_summarize.engines import (
    ALL_PARTS,
    ActionItem,
    CallControl,
    Chapter,
    EngineDescription,
    KeyPoint,
    Keyword,
    Length,
    Part,
    QuestionAnswer,
    SpeakerSummary,
    Summary,
    SummaryOptions,
    speaker_stats,
)
from ting_summarize.engines import keyphrases as kp
from ting_summarize.engines.actions import extract_action_items
from ting_summarize.engines.dates import parse_reference_date
from ting_summarize.engines.encoder import MODEL_NAME, FloatArray, SentenceEncoder
from ting_summarize.engines.ranking import (
    mmr,
    normalize_rows,
    pool_neighbours,
    segment_topics,
    snap_to_cues,
    textrank,
    tfidf,
)
from ting_summarize.engines.text import (
    Sentence,
    is_cjk,
    lexical_terms,
    split_sentences,
    text_length,
    transition_cue,
)

logger = logging.getLogger(__name__)

ENGINE_NAME = "extractive"
# Languages all-MiniLM-L6-v2 was trained on, and the share of its embedding in their joint sentence vector
# (the rest is lexical TF-IDF); every other language gets the lexical vector alone.
ENCODER_LANGUAGES = frozenset({"en"})
EMBEDDING_WEIGHT = 0.7
# Chapter search on lexical vectors compares blocks of a segment and this many neighbours on each side (five
# segments of ~10 content terms: about TextTiling's block of 6 x 20 tokens).
LEXICAL_POOL_RADIUS = 2
# A chapter boundary moves to a topic-transition cue ("let's move on to ...") at most this many segments away.
CUE_REACH = 2
# Auto chapter count: chapters grow with the square root of the length (about 3 in 6 minutes, 9 in an
# hour), at most this many; no chapter shorter than MIN_CHAPTER_S or a quarter of the average chapter.
CHAPTERS_PER_SQRT_MINUTE = 1.2
MAX_AUTO_CHAPTERS = 20
MIN_CHAPTER_S = 30.0
MIN_CHAPTER_SHARE = 0.25
# Sentence counts of the overview / caps on key points, by length.
OVERVIEW_SENTENCES = {Length.SHORT: 2, Length.MEDIUM: 4, Length.LONG: 8}
KEY_POINT_LIMIT = {Length.SHORT: 5, Length.MEDIUM: 10, Length.LONG: 20}
CHAPTER_SUMMARY_SENTENCES = {Length.SHORT: 1, Length.MEDIUM: 1, Length.LONG: 2}
ACTION_LANGUAGES = ("en", "zh")
MMR_DIVERSITY = 0.3


class ExtractiveEngine:
    """Extractive, rule-based summaries on a numpy sentence encoder (loaded once, thread-safe)."""

    name = ENGINE_NAME

    def __init__(
        self, encoder: SentenceEncoder | None = None, model_dir: Path | None = None, max_tokens: int = 128
    ) -> None:
        self.encoder = encoder if encoder is not None else SentenceEncoder(model_dir, max_tokens=max_tokens)

    def describe(self) -> EngineDescription:
        """The engine as ``ListEngines`` shows it."""
        return EngineDescription(
            name=self.name,
            description=(
                "Offline extractive summaries: TextRank/MMR sentence selection, topic-shift chapters "
                "(MiniLM + TF-IDF for English, TF-IDF elsewhere), rule-based action items (en, zh); no LLM"
            ),
            model=MODEL_NAME,
            loaded=True,
            device="cpu",
            supported_parts=ALL_PARTS,
            language_codes=ACTION_LANGUAGES,
            max_input_tokens=0,
        )

    def validate(self, options: SummaryOptions) -> None:
        """An extractive summary is written in the transcript's language; action items need en or zh."""
        base = options.language.split("-")[0].lower()
        if options.output_language and options.output_language.split("-")[0].lower() != base:
            raise FailedPreconditionError(
                f"the extractive engine quotes the transcript, so it writes {options.language!r} only; "
                f"for a summary in {options.output_language!r} configure the LLM engine "
                "(TING_SUMMARIZE_LLM_BASE_URL, TING_SUMMARIZE_LLM_MODEL) or translate the summary"
            )
        if Part.ACTION_ITEMS in options.parts and base not in ACTION_LANGUAGES:
            raise FailedPreconditionError(
                f"the extractive engine finds action items in {', '.join(ACTION_LANGUAGES)} only, not "
                f"{options.language!r}; leave ACTION_ITEMS out of the parts or use the LLM engine"
            )

    async def ready(self) -> bool:
        """Always: the encoder is loaded when the engine exists."""
        return True

    def close(self) -> None:
        """Nothing to free (the weights are released with the object)."""

    # -- vectors --------------------------------------------------------------------------------
    def _vectors(self, sentences: Sequence[Sentence], language: str) -> FloatArray:
        """Unit sentence vectors: TF-IDF of lexical terms, joined with the MiniLM embedding for the languages
        the encoder was trained on (``sqrt(w)·embedding ⊕ sqrt(1-w)·tf-idf``, so a dot product blends both
        cosines). Elsewhere the embedding is noise (an English word-piece model reading Han characters), so the
        vectors are lexical only."""
        lexical = tfidf([lexical_terms(s.text, language) for s in sentences])
        if not uses_encoder(language):
            return lexical
        embeddings = self.encoder.encode([s.text for s in sentences])
        weight = EMBEDDING_WEIGHT
        joint = np.concatenate([math.sqrt(weight) * embeddings, math.sqrt(1.0 - weight) * lexical], axis=1)
        return normalize_rows(joint.astype(np.float32))

    # -- parts ------------------------------------------------------------------------------------
    @staticmethod
    def _chapter_spans(
        segments: Sequence[Segment], seg_vectors: FloatArray, max_chapters: int
    ) -> list[tuple[int, int]]:
        """(first, last) segment index of each chapter."""
        n = len(segments)
        start, end = segments[0].start, max(s.end for s in segments)
        duration = max(0.0, end - start)
        if max_chapters <= 0:
            minutes = duration / 60.0
            max_chapters = max(1, min(MAX_AUTO_CHAPTERS, round(CHAPTERS_PER_SQRT_MINUTE * math.sqrt(minutes))))
        if n < 2 or max_chapters == 1:
            return [(0, n - 1)]
        min_duration = max(MIN_CHAPTER_S, MIN_CHAPTER_SHARE * duration / max_chapters)
        cuts = segment_topics(seg_vectors, [s.start for s in segments], end, max_chapters, min_duration)
        cuts = snap_to_cues(cuts, [transition_cue(s.text) for s in segments], CUE_REACH)
        edges = [0, *cuts, n]
        return [(a, b - 1) for a, b in itertools.pairwise(edges)]

    def summarize(self, segments: tuple[Segment, ...], options: SummaryOptions, control: CallControl) -> Summary:
        """Summarize ``segments`` into ``options.parts`` (blocking; checks ``control`` between stages)."""
        language = options.language
        sentences = split_sentences(segments, language)
        if not sentences:
            return Summary(language=language, parts=options.parts, model=MODEL_NAME)
        control.check()
        vectors = self._vectors(sentences, language)
        control.check()
        similarity = vectors @ vectors.T
        centrality = textrank(similarity)
        control.check()

        index_of = {seg.id: i for i, seg in enumerate(segments)}
        seg_vectors = np.zeros((len(segments), vectors.shape[1]), dtype=np.float32)
        for s in sentences:
            for sid in s.segment_ids:
                seg_vectors[index_of[sid]] += vectors[s.index]
        seg_vectors = normalize_rows(seg_vectors)
        if not uses_encoder(language):
            seg_vectors = pool_neighbours(seg_vectors, LEXICAL_POOL_RADIUS)
        spans = self._chapter_spans(segments, seg_vectors, options.max_chapters)
        chapter_of_segment = {segments[i].id: c for c, (a, b) in enumerate(spans) for i in range(a, b + 1)}
        chapter_sentences: list[list[int]] = [[] for _ in spans]
        for s in sentences:
            chapter_sentences[chapter_of_segment[s.segment_ids[0]]].append(s.index)
        control.check()

        cjk = is_cjk(language)
        min_len = 10 if cjk else 6
        informative = [
            i for i, s in enumerate(sentences) if not s.is_question and text_length(s.text) >= min_len
        ] or list(range(len(sentences)))
        relevance = [
            float(centrality[i]) * (0.5 + 0.5 * min(1.0, text_length(s.text) / (30 if cjk else 20)))
            for i, s in enumerate(sentences)
        ]

        chapter_texts = [("" if cjk else " ").join(sentences[i].text for i in idx) for idx in chapter_sentences]
        table, per_chapter = kp.collect(chapter_texts, language)
        total: Counter[str] = Counter()
        for counts in per_chapter:
            total.update(counts)

        chapters = self._chapters(
            segments, sentences, spans, chapter_sentences, set(informative), table, per_chapter, similarity, options
        )
        parts = set(options.parts)
        overview = ""
        if Part.OVERVIEW in parts:
            overview = self._overview(sentences, chapters, chapter_sentences, informative, relevance, vectors, options)
        key_points: list[KeyPoint] = []
        if Part.KEY_POINTS in parts:
            key_points = self._key_points(sentences, chapter_sentences, vectors, options)
        action_items: list[ActionItem] = []
        if Part.ACTION_ITEMS in parts or Part.SPEAKER_SUMMARIES in parts:
            action_items = extract_action_items(
                sentences, language, options.speaker_names, parse_reference_date(options.reference_date)
            )
        keywords = self._keywords(table, total, per_chapter, options.max_keywords) if Part.KEYWORDS in parts else []
        control.check()
        return Summary(
            language=language,
            parts=options.parts,
            overview=overview,
            key_points=tuple(key_points),
            chapters=tuple(chapters) if Part.CHAPTERS in parts else (),
            action_items=tuple(action_items) if Part.ACTION_ITEMS in parts else (),
            keywords=tuple(keywords),
            questions_answers=tuple(self._questions(sentences)) if Part.QUESTIONS_ANSWERS in parts else (),
            speaker_summaries=tuple(
                self._speakers(segments, sentences, centrality, action_items, options)
                if Part.SPEAKER_SUMMARIES in parts
                else ()
            ),
            model=MODEL_NAME,
            chunk_count=1,
        )

    def _chapters(
        self,
        segments: Sequence[Segment],
        sentences: Sequence[Sentence],
        spans: Sequence[tuple[int, int]],
        chapter_sentences: Sequence[Sequence[int]],
        informative: set[int],
        table: dict[str, kp.Phrase],
        per_chapter: Sequence[Counter[str]],
        similarity: FloatArray,
        options: SummaryOptions,
    ) -> list[Chapter]:
        cjk = is_cjk(options.language)
        end_time = max(s.end for s in segments)
        chapters: list[Chapter] = []
        for c, (a, b) in enumerate(spans):
            idx = [i for i in chapter_sentences[c] if i in informative] or list(chapter_sentences[c])
            best = top_phrases_for(table, per_chapter[c], per_chapter, 2)
            title = ("、" if cjk else ", ").join(p.surface for p in best)
            if not cjk:
                title = title[:1].upper() + title[1:]
            summary = ""
            if idx:
                local = textrank(similarity[np.ix_(idx, idx)])
                count = CHAPTER_SUMMARY_SENTENCES[options.length]
                picked = sorted(idx[j] for j in np.argsort(-local)[:count])
                summary = ("" if cjk else " ").join(sentences[i].text for i in picked)
                if not title:
                    title = sentences[picked[0]].text[:60]
            chapters.append(
                Chapter(
                    title=title,
                    start=segments[0].start if c == 0 else segments[a].start,
                    end=end_time if c == len(spans) - 1 else segments[spans[c + 1][0]].start,
                    summary=summary,
                    start_segment_id=segments[a].id,
                    end_segment_id=segments[b].id,
                )
            )
        return chapters

    def _overview(
        self,
        sentences: Sequence[Sentence],
        chapters: Sequence[Chapter],
        chapter_sentences: Sequence[Sequence[int]],
        informative: Sequence[int],
        relevance: Sequence[float],
        vectors: FloatArray,
        options: SummaryOptions,
    ) -> str:
        cjk = is_cjk(options.language)
        picked = sorted(mmr(relevance, vectors, OVERVIEW_SENTENCES[options.length], informative, (), MMR_DIVERSITY))
        paragraphs: list[str] = []
        if len(chapters) > 1:
            titles = [c.title for c in chapters if c.title]
            if cjk:
                paragraphs.append(f"本次内容共{len(chapters)}个部分：" + "；".join(titles) + "。")
            else:
                paragraphs.append(f"The recording covers {len(chapters)} topics: " + "; ".join(titles) + ".")
        joiner = "" if cjk else " "
        for idx in chapter_sentences:
            chosen = [i for i in picked if i in set(idx)]
            if chosen:
                paragraphs.append(joiner.join(sentences[i].text for i in chosen))
        return "\n\n".join(paragraphs)

    def _key_points(
        self,
        sentences: Sequence[Sentence],
        chapter_sentences: Sequence[Sequence[int]],
        vectors: FloatArray,
        options: SummaryOptions,
    ) -> list[KeyPoint]:
        """Key points: content units (a speaker's short sentences merged), ranked by TextRank centrality within
        their chapter times information, picked with MMR, one per chapter before any extras."""
        cjk = is_cjk(options.language)
        units = key_point_units(sentences, cjk)
        if not units:
            return []
        unit_vectors = normalize_rows(np.stack([vectors[list(u)].sum(axis=0) for u in units]).astype(np.float32))
        chapter_of_sentence = {i: c for c, idx in enumerate(chapter_sentences) for i in idx}
        chapter_units: list[list[int]] = [[] for _ in chapter_sentences]
        for k, unit in enumerate(units):
            chapter_units[chapter_of_sentence[unit[0]]].append(k)
        texts = [("" if cjk else " ").join(sentences[i].text for i in u) for u in units]
        information = _information(texts, options.language)
        relevance = [0.0] * len(units)
        # A unit closer to another chapter's centroid than to its own is an agenda or a recap, not this topic.
        centroids = normalize_rows(
            np.stack(
                [unit_vectors[m].sum(axis=0) if m else np.zeros(unit_vectors.shape[1]) for m in chapter_units]
            ).astype(np.float32)
        )
        affinity = unit_vectors @ centroids.T
        for c, members in enumerate(chapter_units):
            if len(chapter_units) > 1:
                own = [k for k in members if affinity[k, c] >= np.delete(affinity[k], c).max()]
                chapter_units[c] = own or members
        for members in chapter_units:
            if not members:
                continue
            local = textrank(unit_vectors[members] @ unit_vectors[members].T)
            for j, k in enumerate(members):
                # centrality relative to a uniform rank, so chapters of different sizes compare
                relevance[k] = float(local[j]) * len(members) * information[k]
        limit = KEY_POINT_LIMIT[options.length]
        k_total = max(1, min(limit, round(math.sqrt(len(sentences)))))
        picked: list[int] = []
        order = sorted(range(len(chapter_units)), key=lambda c: -len(chapter_units[c]))
        for c in order:  # one per chapter first, largest chapters first
            if len(picked) < k_total:
                picked.extend(mmr(relevance, unit_vectors, 1, chapter_units[c], picked, MMR_DIVERSITY))
        total = max(1, sum(len(m) for m in chapter_units))
        for c in order:  # then the chapters' shares of the rest
            share = round(k_total * len(chapter_units[c]) / total) - 1
            room = min(share, k_total - len(picked))
            picked.extend(mmr(relevance, unit_vectors, room, chapter_units[c], picked, MMR_DIVERSITY))
        if len(picked) < k_total:
            picked.extend(mmr(relevance, unit_vectors, k_total - len(picked), range(len(units)), picked, MMR_DIVERSITY))
        result: list[KeyPoint] = []
        for k in sorted(picked[:limit]):
            first, last = sentences[units[k][0]], sentences[units[k][-1]]
            ids = tuple(dict.fromkeys(i for s in units[k] for i in sentences[s].segment_ids))
            result.append(KeyPoint(texts[k], ids, first.start, last.end))
        return result

    @staticmethod
    def _keywords(
        table: dict[str, kp.Phrase], total: Counter[str], per_chapter: Sequence[Counter[str]], max_keywords: int
    ) -> list[Keyword]:
        best = kp.top_phrases(table, total, per_chapter, max_keywords, min_count=2)
        if len(best) < max_keywords:
            extra = kp.top_phrases(table, total, per_chapter, max_keywords, min_count=1)
            best.extend(e for e in extra if all(e[0].key != b[0].key for b in best))
            best = best[:max_keywords]
        top = best[0][1] if best else 1.0
        return [Keyword(p.surface, round(min(1.0, s / top), 4), p.count) for p, s in best]

    @staticmethod
    def _questions(sentences: Sequence[Sentence]) -> list[QuestionAnswer]:
        result: list[QuestionAnswer] = []
        for s in sentences:
            if not s.is_question or text_length(s.text) < 4:
                continue
            answer: list[Sentence] = []
            for nxt in sentences[s.index + 1 : s.index + 4]:
                if s.speaker and nxt.speaker == s.speaker and not answer:
                    continue  # the asker goes on; wait for someone else
                if answer and (nxt.speaker != answer[0].speaker or nxt.is_question or len(answer) >= 2):
                    break
                if nxt.is_question:
                    break
                answer.append(nxt)
            cjk = bool(re.search(r"[\u4e00-\u9fff]", s.text))
            result.append(
                QuestionAnswer(
                    question=s.text,
                    answer=("" if cjk else " ").join(a.text for a in answer),
                    start=s.start,
                    question_speaker=s.speaker,
                    answer_speaker=answer[0].speaker if answer else "",
                    segment_ids=tuple(sorted({*s.segment_ids, *(i for a in answer for i in a.segment_ids)})),
                )
            )
        return result

    @staticmethod
    def _speakers(
        segments: Sequence[Segment],
        sentences: Sequence[Sentence],
        centrality: FloatArray,
        action_items: Sequence[ActionItem],
        options: SummaryOptions,
    ) -> list[SpeakerSummary]:
        cjk = is_cjk(options.language)
        result: list[SpeakerSummary] = []
        for stats in speaker_stats(segments):
            label, talk, turns = stats.speaker, stats.talk_time, stats.turn_count
            own = [s for s in sentences if s.speaker == label and text_length(s.text) >= (10 if cjk else 6)]
            own = own or [s for s in sentences if s.speaker == label]
            top = sorted(sorted(own, key=lambda s: -float(centrality[s.index]))[:2], key=lambda s: s.index)
            name = options.speaker_names.get(label, "")
            tasks = [a.text for a in action_items if a.owner and a.owner in (name, label)]
            text = ("" if cjk else " ").join(s.text for s in top)
            if tasks:
                text += (
                    ("\n\n承担的任务：" + "；".join(tasks) + "。")
                    if cjk
                    else ("\n\nTakes on: " + "; ".join(tasks) + ".")
                )
            result.append(SpeakerSummary(label, name, text.strip(), talk, turns))
        return result


# Sentences that carry no content of their own: greetings, thanks, agreement, meeting management.
_FILLER_EN = re.compile(
    r"^(?:ok(?:ay)?|so|well|right|good|great|perfect|thanks?|thank you|yes|yeah|sure|agreed|i agree|hi|hello|"
    r"good (?:morning|afternoon|evening)|sounds (?:good|great|reasonable)|that's (?:great|fair|painful|"
    r"a good (?:point|idea)))\b[^.!?]{0,20}[.!?]$"
    r"|\b(?:let's get started|let's start|see you|thanks,? everyone|that's all|let me summari[sz]e)\b",
    re.IGNORECASE,
)
_FILLER_ZH = re.compile(
    r"^(?:好的?|对|是的?|嗯|没问题|谢谢|同意|可以)[，。！,.!]|大家好|我们开始吧|今天就到这里|谢谢大家|总结一下"
)
# Sentences shorter than this (words; Han characters for CJK) are merged with the speaker's next sentence.
SHORT_UNIT = {False: 15, True: 24}
# A key-point unit grows to at most this length by merging short sentences; shorter than MIN_UNIT, it is too
# slight to stand as a key point (kept only when nothing longer exists).
MAX_UNIT = {False: 45, True: 70}
MIN_UNIT = {False: 10, True: 16}


def is_filler(text: str) -> bool:
    """True for a sentence with no content of its own (greeting, thanks, bare agreement, agenda management)."""
    return bool(_FILLER_EN.search(text.strip()) or _FILLER_ZH.search(text.strip())) or transition_cue(text) != 0


def key_point_units(sentences: Sequence[Sentence], cjk: bool) -> list[tuple[int, ...]]:
    """Candidate key points: one speaker's consecutive content sentences (no questions, no fillers), a short
    sentence (under ``SHORT_UNIT``) merged with its neighbour while the unit stays within ``MAX_UNIT``."""
    short, longest = SHORT_UNIT[cjk], MAX_UNIT[cjk]
    units: list[tuple[int, ...]] = []
    run: list[int] = []
    size = 0
    for s in sentences:
        length = text_length(s.text)
        content = not s.is_question and not is_filler(s.text)
        joins = (
            content
            and bool(run)
            and run[-1] + 1 == s.index
            and sentences[run[-1]].speaker == s.speaker
            and (size < short or length < short)
            and size + length <= longest
        )
        if run and not joins:
            units.append(tuple(run))
            run, size = [], 0
        if content:
            run.append(s.index)
            size += length
    if run:
        units.append(tuple(run))
    substantial = [u for u in units if sum(text_length(sentences[i].text) for i in u) >= MIN_UNIT[cjk]]
    return substantial or units


def _information(texts: Sequence[str], language: str) -> list[float]:
    """How much a unit says: the IDF mass of its distinct terms, relative to the median unit (capped at 2)."""
    docs = [set(lexical_terms(t, language)) for t in texts]
    df: Counter[str] = Counter(t for d in docs for t in d)
    n = len(docs)
    mass = [sum(math.log(1.0 + n / df[t]) for t in d) for d in docs]
    median = float(np.median(mass)) if mass else 1.0
    return [min(2.0, math.sqrt(m / median)) if median > 0 else 1.0 for m in mass]


def uses_encoder(language: str) -> bool:
    """True when the sentence encoder understands ``language`` (else the engine works on lexical vectors)."""
    return language.split("-")[0].lower() in ENCODER_LANGUAGES


def top_phrases_for(
    table: dict[str, kp.Phrase], counts: Counter[str], per_chapter: Sequence[Counter[str]], k: int
) -> list[kp.Phrase]:
    """Title phrases of one chapter: its most specific keyphrases (said twice, else once)."""
    best = kp.top_phrases(table, counts, per_chapter, k, min_count=2) or kp.top_phrases(
        table, counts, per_chapter, k, min_count=1
    )
    return [p for p, _ in best]
