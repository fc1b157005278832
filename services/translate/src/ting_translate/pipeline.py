"""Chunked, concurrent, verified translation of a list of segments (cue texts or plain texts).

:meth:`Translator.translate` masks what must not be translated (:mod:`.protect`), plans token-bounded chunks
(:mod:`.chunking`), sends them to the engine concurrently (bounded by the shared ``limiter``) and checks each
answer: exactly the numbers 1..n and every placeholder back once. An unusable answer (wrong count, unknown or
missing numbers, lost markup, empty text, not JSON) is asked again ``chunk_retries`` times, then the chunk is
split in halves, recursively, down to single segments. A single segment that still fails keeps ``None``
(the servicer keeps its source text and lists it in the report) — segments are never shifted or merged.
Transport failures that survive the engine's own retries (UNAVAILABLE, FAILED_PRECONDITION) fail the call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from ting_translate.chunking import ends_sentence, plan_chunks
from ting_translate.engines import (
    MalformedAnswerError,
    TranslationEngine,
    TranslationOptions,
    TranslationRequest,
)
from ting_translate.protect import Protected, needs_translation, protect
from ting_translate.tokens import TokenCounter

__all__ = ["SEGMENT_OVERHEAD_TOKENS", "ChunkReport", "Translator"]

logger = logging.getLogger(__name__)

# JSON scaffolding around each segment in the prompt and in the answer ({"i": 12, "text": "..."},).
SEGMENT_OVERHEAD_TOKENS = 10


@dataclass
class ChunkReport:
    """How the segments of one target language were translated."""

    segment_count: int = 0
    translatable_count: int = 0  # segments that needed the engine (not only markup / notes / empty)
    chunk_count: int = 0
    retry_count: int = 0
    split_count: int = 0
    request_count: int = 0
    untranslated: list[int] = field(default_factory=list)  # positions (0-based) in the input
    prompt_tokens: int = 0
    completion_tokens: int = 0
    planned_tokens: list[int] = field(default_factory=list)  # estimated tokens per planned chunk
    detected_languages: list[str] = field(default_factory=list)


@dataclass
class _Job:
    masked: list[str]
    protected: list[Protected]
    source: str
    target: str
    options: TranslationOptions
    report: ChunkReport
    results: list[str | None]


class Translator:
    """Runs chunked translations on one engine."""

    def __init__(
        self,
        engine: TranslationEngine,
        counter: TokenCounter,
        limiter: asyncio.Semaphore,
        *,
        chunk_retries: int = 1,
        context_items: int = 2,
    ) -> None:
        self.engine = engine
        self.counter = counter
        self.limiter = limiter
        self.chunk_retries = chunk_retries
        self.context_items = context_items

    def cost(self, text: str) -> int:
        """Prompt tokens a segment costs (text + JSON scaffolding)."""
        return self.counter.count(text) + SEGMENT_OVERHEAD_TOKENS

    async def translate(
        self,
        texts: Sequence[str],
        *,
        source: str,
        target: str,
        options: TranslationOptions,
        max_items: int,
        keep_terms: Sequence[tuple[str, bool]] = (),
        carry_context: bool = True,
    ) -> tuple[list[str | None], ChunkReport]:
        """Translate ``texts``; returns one translation per text (None = could not be translated) and the report."""
        protected = [protect(t, keep_terms) for t in texts]
        report = ChunkReport(segment_count=len(texts))
        results: list[str | None] = [p.restore(p.text) for p in protected]  # pass-through default
        todo = [i for i, p in enumerate(protected) if needs_translation(p.text)]
        report.translatable_count = len(todo)
        if not todo:
            return results, report
        job = _Job([protected[i].text for i in todo], [protected[i] for i in todo], source, target, options, report, [])
        job.results = [None] * len(todo)
        costs = [self.cost(m) for m in job.masked]
        chunks = plan_chunks(
            costs,
            budget=self.engine.chunk_token_budget,
            max_items=max_items,
            context_items=self.context_items if carry_context else 0,
            sentence_ends=[ends_sentence(m) for m in job.masked],
        )
        report.chunk_count = len(chunks)
        report.planned_tokens = [sum(costs[c.context_start : c.end]) for c in chunks]
        await asyncio.gather(
            *(self._run(job, list(range(c.start, c.end)), job.masked[c.context_start : c.start]) for c in chunks)
        )
        for position, value in zip(todo, job.results, strict=True):
            results[position] = value
            if value is None:
                report.untranslated.append(position)
        return results, report

    async def _run(self, job: _Job, positions: list[int], context: Sequence[str]) -> None:
        request = TranslationRequest(
            segments=[job.masked[p] for p in positions],
            source_language=job.source,
            target_language=job.target,
            context=list(context),
            options=job.options,
        )
        for attempt in range(1 + self.chunk_retries):
            if attempt:
                job.report.retry_count += 1
            outcome = await self._attempt(job, positions, request)
            if outcome is not None:
                for p, text in zip(positions, outcome, strict=True):
                    job.results[p] = text
                return
        if len(positions) == 1:
            logger.warning("segment could not be translated", extra={"position": positions[0], "target": job.target})
            return
        mid = len(positions) // 2
        job.report.split_count += 1
        job.report.chunk_count += 2
        left, right = positions[:mid], positions[mid:]
        right_context = [*context, *(job.masked[p] for p in left)][-self.context_items :] if self.context_items else []
        await asyncio.gather(self._run(job, left, context), self._run(job, right, right_context))

    async def _attempt(self, job: _Job, positions: list[int], request: TranslationRequest) -> list[str] | None:
        async with self.limiter:
            job.report.request_count += 1
            try:
                reply = await self.engine.translate(request)
            except MalformedAnswerError as exc:
                job.report.retry_count += exc.attempts - 1
                logger.info("unusable engine answer", extra={"reason": str(exc), "segments": len(positions)})
                return None
        job.report.retry_count += reply.attempts - 1
        job.report.prompt_tokens += reply.prompt_tokens
        job.report.completion_tokens += reply.completion_tokens
        if reply.detected_language:
            job.report.detected_languages.append(reply.detected_language)
        expected = range(1, len(positions) + 1)
        if sorted(reply.translations) != list(expected):
            logger.info(
                "engine answered the wrong cues",
                extra={"expected": len(positions), "got": len(reply.translations)},
            )
            return None
        out: list[str] = []
        for number, p in zip(expected, positions, strict=True):
            candidate = reply.translations[number].strip()
            restored = job.protected[p].restore(candidate) if candidate else None
            if restored is None:
                logger.info("engine answer lost markup or text", extra={"segment": number})
                return None
            out.append(restored)
        return out
