"""The offline ``extractive`` engine: useful summaries with no LLM.

Every sentence gets one vector that joins its all-MiniLM-L6-v2 embedding with a TF-IDF vector of its
content terms (weights ``EMBEDDING_WEIGHT`` for English; Chinese leans on the lexical part, as the
model was trained on English). On those vectors:

* chapters — the optimal contiguous partition of the segment vectors (minimum within-chapter
  dispersion, dynamic programming), the count capped by ``max_chapters`` or a length-based prior and
  lowered while extra splits gain little; titles from the chapter's most specific keyphrases,
  summaries from its most central informative sentence;
* overview and key points — TextRank centrality, MMR for diversity, spread over the chapters;
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
from ting_summarize.engines.ranking import mmr, normalize_rows, segment_topics, textrank
from ting_summarize.engines.text import Sentence, content_terms, is_cjk, split_sentences, text_length

logger = logging.getLogger(__name__)

ENGINE_NAME = "extractive"
# Share of the embedding in the joint sentence vector (the rest is lexical TF-IDF).
EMBEDDING_WEIGHT = {"en": 0.7, "zh": 0.3}
DEFAULT_EMBEDDING_WEIGHT = 0.5
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
                "Offline extractive summaries: TextRank/MMR sentence selection, TextTiling chapters, "
                "rule-based action items (en, zh); no LLM"
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
        """Joint unit vectors: sqrt(w)·embedding ⊕ sqrt(1-w)·tf-idf, so a dot product blends both cosines."""
        base = language.split("-")[0].lower()
        weight = EMBEDDING_WEIGHT.get(base, DEFAULT_EMBEDDING_WEIGHT)
        embeddings = self.encoder.encode([s.text for s in sentences])
        terms = [content_terms(s.text, language) for s in sentences]
        df: Counter[str] = Counter(t for ts in terms for t in ts)
        vocab = {t: i for i, t in enumerate(sorted(df))}
        lexical = np.zeros((len(sentences), max(1, len(vocab))), dtype=np.float32)
        n = len(sentences)
        for row, ts in enumerate(terms):
            for t in ts:
                lexical[row, vocab[t]] = math.log(1.0 + n / df[t])
        lexical = normalize_rows(lexical)
        joint = np.concatenate([math.sqrt(weight) * embeddings, math.sqrt(1.0 - weight) * lexical], axis=1)
        return normalize_rows(joint.astype(np.float32))

    # -- parts ------------------------------------------------------------------------------------
    def _chapter_spans(
        self, segments: Sequence[Segment], seg_vectors: FloatArray, max_chapters: int
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
            key_points = self._key_points(sentences, chapter_sentences, informative, relevance, vectors, options)
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
        informative: Sequence[int],
        relevance: Sequence[float],
        vectors: FloatArray,
        options: SummaryOptions,
    ) -> list[KeyPoint]:
        limit = KEY_POINT_LIMIT[options.length]
        k = max(1, min(limit, round(math.sqrt(len(sentences)))))
        pool = set(informative)
        sizes = [len([i for i in idx if i in pool]) for idx in chapter_sentences]
        total = max(1, sum(sizes))
        # Spread the points over the chapters in proportion to their length (at least one each while possible).
        quota = [max(1 if k >= len(sizes) else 0, round(k * s / total)) if s else 0 for s in sizes]
        picked: list[int] = []
        for c in sorted(range(len(sizes)), key=lambda c: -sizes[c]):
            candidates = [i for i in chapter_sentences[c] if i in pool]
            picked.extend(mmr(relevance, vectors, quota[c], candidates, picked, MMR_DIVERSITY))
        if len(picked) < k:
            picked.extend(mmr(relevance, vectors, k - len(picked), list(informative), picked, MMR_DIVERSITY))
        return [
            KeyPoint(sentences[i].text, sentences[i].segment_ids, sentences[i].start, sentences[i].end)
            for i in sorted(picked[:limit])
        ]

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


def top_phrases_for(
    table: dict[str, kp.Phrase], counts: Counter[str], per_chapter: Sequence[Counter[str]], k: int
) -> list[kp.Phrase]:
    """Title phrases of one chapter: its most specific keyphrases (said twice, else once)."""
    best = kp.top_phrases(table, counts, per_chapter, k, min_count=2) or kp.top_phrases(
        table, counts, per_chapter, k, min_count=1
    )
    return [p for p, _ in best]
